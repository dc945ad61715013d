"""The engine's output: what it counts, the log lines waiting to go out, and the actions it
builds for packets it drops or forwards.

One :class:`Output` per engine, shared by the packet walk, the ICMP translator and the
helpers (through their context), so none of them needs the engine itself.
"""

from __future__ import annotations

from typing import Any

from nat import ipv4, rewrite
from nat.actions import Drop, Log, Transmit
from nat.counters import Counters
from nat.direction import LAN, WAN, Side

# How often a host's failed mappings are logged, and how long that is remembered.
MAPPING_FAILED_LOG_INTERVAL = 1.0
MAPPING_FAILED_MEMORY = 60.0


class Output:
    def __init__(self) -> None:
        self.counters = Counters()
        # Log lines that leave with the current event's actions. Always this one list (the
        # engine checks it once per packet without going through the Output).
        self.pending: list[Log] = []
        self.router_lan_ip = b"\0\0\0\0"  # the source of ICMP errors sent to the LAN
        self._last_failure_log: dict[bytes, float] = {}

    def drop(self, side: Side, reason: str) -> list:
        """Count the packet received on ``side`` under ``reason`` and say so."""
        self.counters[reason] += 1
        return [Drop(side, reason)]

    def log(self, event: str, fields: dict[str, Any]) -> None:
        self.pending.append(Log(event, fields))

    def take_logs(self) -> list[Log]:
        """The log lines collected so far; the next event starts with none."""
        logs = self.pending.copy()
        self.pending.clear()
        return logs

    def forward_rewritten(
        self,
        buf: bytearray,
        ihl: int,
        new_source: bytes | None,
        new_destination: bytes | None,
        new_port: int | None = None,
    ) -> list[Transmit]:
        """Translate a packet a helper owns: the source (to the WAN) or the destination (to
        the LAN), with the port for TCP/UDP when given. The driver enforces the MTU."""
        if new_source is not None:
            rewrite.endpoint(buf, ihl, True, new_source, new_port)
        if new_destination is not None:
            rewrite.endpoint(buf, ihl, False, new_destination, new_port)
        rewrite.decrement_ttl(buf)
        return [Transmit(WAN if new_source is not None else LAN, buf)]

    def mapping_failed(
        self, buf: bytearray, data: bytes, proto: int, reason: str, now: float, mappings: int
    ) -> list:
        """No port or quota left: drop, log (once a second per host), tell the host 3/13."""
        host = bytes(buf[12:16])
        if self._last_failure_log.get(host, -1.0) + MAPPING_FAILED_LOG_INTERVAL <= now:
            self._last_failure_log[host] = now
            self.log(
                "mapping_failed",
                {"reason": reason, "host": ipv4.text(host), "proto": proto, "mappings": mappings},
            )
        actions = self.drop(LAN, reason)
        error = ipv4.build_icmp_error(
            self.router_lan_ip, host, ipv4.ICMP_UNREACH, ipv4.UNREACH_ADMIN_PROHIBITED, data
        )
        actions.append(Transmit(LAN, error))
        return actions

    def forget_failures(self, now: float) -> None:
        """Hosts whose last failed mapping is a minute old are logged afresh next time."""
        stale = [h for h, t in self._last_failure_log.items() if t + MAPPING_FAILED_MEMORY <= now]
        for host in stale:
            del self._last_failure_log[host]
