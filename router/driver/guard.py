"""Load shedding in front of the datapath: under overload no one source takes all of it.

When the datapath cannot keep up, the kernel drops frames at its ring in arrival order: one
flooding host (or one source on the WAN) fills the ring, and every other flow loses packets
in proportion, which for a TCP flow means stalling. The guard looks once a second at what
the datapath handled and what the kernel dropped. While frames are dropped, the datapath
counts its frames per source address, and the guard gives every source at most its max-min
fair share of 80 % of what the datapath handled (an nftables meter at ingress, after the flow
table, before the packet sockets see a frame): a flood is shed there, cheaply and before
parsing, and the other sources' packets find room in the ring again. One source alone is
never limited (the ring sheds its excess as well). The limit rises again while the rings
drop nothing, and goes when the guard has shed nothing for a while. Offloaded flows are never
limited: the flow table forwards them before the guard.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable

BUDGET = 0.8  # of what the datapath handled: the headroom keeps the ring from overflowing
ACTIVE = 1  # frames in a second: a flow starved by a flood sends only its retransmissions
MIN_LIMIT = 200  # packets/s: a source below this is never limited
LOOSEN_S = 3  # seconds without ring drops before the limit is raised (by a quarter)
QUIET_S = 10  # seconds without anything shed before the limit goes


def fair_limit(sources: Counter) -> int | None:
    """The per-source rate that gives each competing source its max-min fair share of the
    budget, or None when there is nothing to share (one source) or everyone fits."""
    total = sum(sources.values())
    active = sorted(c for c in sources.values() if c >= ACTIVE)
    if len(active) < 2:
        return None
    remaining = BUDGET * total
    for i, count in enumerate(active):
        share = remaining / (len(active) - i)
        if count > share:
            return max(MIN_LIMIT, int(share))
        remaining -= count
    return None


def table_name(lan: str, wan: str) -> str:
    return "natbox_guard_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{lan}_{wan}")


def ruleset(table: str, lan: str, wan: str, limit: int) -> str:
    burst = max(MIN_LIMIT, limit // 10)

    def side(name: str, device: str) -> str:
        return f"""    set {name}_sources {{ type ipv4_addr; size 65535; flags dynamic,timeout; timeout 30s; }}
    chain {name}_ingress {{
        type filter hook ingress device "{device}" priority -550; policy accept;
        meta protocol ip update @{name}_sources {{ ip saddr limit rate over {limit}/second burst {burst} packets }} counter drop
    }}"""  # noqa: E501

    return f"table netdev {table} {{\n{side('lan', lan)}\n{side('wan', wan)}\n}}\n"


def shed_from_listing(listing: dict) -> int:
    """Packets the guard's rules dropped, from ``nft -j list table``."""
    return sum(
        expr["counter"]["packets"]
        for item in listing.get("nftables", [])
        if "rule" in item
        for expr in item["rule"].get("expr", [])
        if "counter" in expr
    )


def _nft(*args: str, script: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["nft", *args], input=script, text=True, capture_output=True)


class Guard:
    """Decides each second, from the datapath's figures, whether and how hard to limit.
    The kernel is asked (an ``nft`` run, which blocks the datapath a moment) only when the
    limit changes, and for the shed count when someone asks for it."""

    def __init__(self, lan: str, wan: str, nft: Callable[..., subprocess.CompletedProcess] = _nft):
        self.lan, self.wan = lan, wan
        self.name = table_name(lan, wan)
        self._nft = nft
        self.limit: int | None = None  # packets/s per source while limiting
        self._shed = 0  # what earlier tables shed
        self._quiet = 0  # seconds no source came near the limit
        self._calm = 0  # seconds the rings dropped nothing
        self._last: tuple[int, int] | None = None
        self.unavailable: str | None = None  # why the kernel refused the meters, if it did
        self._nft("delete", "table", "netdev", self.name)

    def second(self, handled: int, dropped: int, sources: Counter | None) -> bool:
        """Once a second: ``handled`` frames the datapath took and ``dropped`` the kernel
        dropped so far (running totals), and the frames per source of the last second when
        they were counted. Returns whether to count them during the next one.

        The limit is set (or tightened) from a second with ring drops, when the datapath
        ran at what it can do; it is raised after a few seconds without drops (the others may
        not need their share), dropped when only one source competes (nobody to protect)
        and when no source came near it for a while (the flood is over)."""
        if self.unavailable:
            return False
        last, self._last = self._last, (handled, dropped)
        drops = dropped - last[1] if last is not None else 0
        if sources is not None:
            limit = fair_limit(sources)
            if limit is None:
                if self.limit is not None:
                    self.remove()
            elif drops > 0 and (self.limit is None or limit < 0.8 * self.limit):
                self._install(limit)
        if self.limit is not None:
            pressing = bool(sources) and max(sources.values()) >= self.limit / 2
            self._calm = 0 if drops else self._calm + 1
            self._quiet = 0 if pressing or drops else self._quiet + 1
            if self._quiet >= QUIET_S:
                self.remove()
            elif self._calm >= LOOSEN_S:
                self._install(int(self.limit * 1.25))
        return drops > 0 or self.limit is not None

    @property
    def shed(self) -> int:
        """Packets the guard's meters dropped, over its life."""
        return self._shed + (self._table_shed() if self.limit is not None else 0)

    def _table_shed(self) -> int:
        listing = self._nft("-j", "list", "table", "netdev", self.name)
        return shed_from_listing(json.loads(listing.stdout)) if listing.returncode == 0 else 0

    def _install(self, limit: int) -> None:
        """The table with the new limit, in place of the old one in one transaction."""
        if self.limit is not None:
            self._shed += self._table_shed()
        replace = f"table netdev {self.name} {{}}\ndelete table netdev {self.name}\n"
        done = self._nft("-f", "-", script=replace + ruleset(self.name, self.lan, self.wan, limit))
        if done.returncode == 0:
            self.limit, self._calm = limit, 0
        else:  # a kernel without the meters' modules: stop asking it every second
            self.unavailable = done.stderr.strip().splitlines()[0] if done.stderr else "refused"
            self.limit = None

    def remove(self) -> None:
        if self.limit is not None:
            self._shed += self._table_shed()
        self._nft("delete", "table", "netdev", self.name)
        self.limit, self._quiet, self._calm = None, 0, 0
