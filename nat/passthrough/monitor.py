"""VPN session events and unusual-activity flags, shared by all passthrough helpers.

Every helper reports through one :class:`VpnMonitor`: session start and end (LAN host,
remote server, protocol IDs, byte and packet counts), refusals with their reason, and
anomalies: unsolicited inbound VPN control traffic, a LAN host reaching a VPN server the
router has never seen, and bursts of failed negotiations. Each becomes a ``Log`` action
(``vpn_session_start``, ``vpn_session_end``, ``vpn_session_refused``, ``vpn_anomaly``) and
stays queryable for the UI's VPN monitor.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from nat.helpers import HelperContext
from nat.ipv4 import text

MAX_ACTIVE = 4096
MAX_KNOWN_SERVERS = 4096
MAX_HISTORY = 256
BURST_FAILURES = 5  # this many failures from one LAN host...
BURST_WINDOW = 60.0  # ...within this many seconds is a burst
REFUSAL_LOG_INTERVAL = 10.0  # one refusal line per (host, server, protocol) per interval


@dataclass
class VpnSession:
    id: int
    protocol: str
    lan_host: bytes
    server: bytes
    ids: dict[str, Any]
    started: float
    packets: int = 0
    bytes: int = 0
    ended: float | None = None
    end_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, size: int) -> None:
        self.packets += 1
        self.bytes += size

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "protocol": self.protocol,
            "lan_host": text(self.lan_host),
            "server": text(self.server),
            "ids": dict(self.ids),
            "packets": self.packets,
            "bytes": self.bytes,
            "duration": round((self.ended if self.ended is not None else now) - self.started, 3),
            "state": "ended" if self.ended is not None else "active",
            "end_reason": self.end_reason,
        }


class VpnMonitor:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.active: dict[int, VpnSession] = {}
        self.history: deque[VpnSession] = deque(maxlen=MAX_HISTORY)
        self.anomalies: deque[dict[str, Any]] = deque(maxlen=MAX_HISTORY)
        self._known_servers: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._failures: dict[bytes, deque[float]] = {}
        self._last_refusal: dict[tuple[bytes, bytes, str], float] = {}
        self._last_flag: dict[tuple[str, ...], float] = {}

    # -- sessions -----------------------------------------------------------------------------

    def start(
        self, ctx: HelperContext, protocol: str, lan_host: bytes, server: bytes, **ids: Any
    ) -> VpnSession:
        session = VpnSession(next(self._ids), protocol, lan_host, server, ids, ctx.now)
        if len(self.active) >= MAX_ACTIVE:
            oldest = next(iter(self.active.values()))
            self.end(ctx, oldest, "monitor_full")
        self.active[session.id] = session
        ctx.log("vpn_session_start", **self._fields(session))
        self._note_server(ctx, protocol, lan_host, server)
        return session

    def update_ids(self, session: VpnSession, **ids: Any) -> None:
        session.ids.update(ids)

    def end(self, ctx: HelperContext, session: VpnSession, reason: str) -> None:
        if session.ended is not None:
            return
        session.ended = ctx.now
        session.end_reason = reason
        self.active.pop(session.id, None)
        self.history.append(session)
        ctx.log(
            "vpn_session_end",
            **self._fields(session),
            reason=reason,
            packets=session.packets,
            bytes=session.bytes,
            duration=round(session.ended - session.started, 3),
        )

    def end_all(self, ctx: HelperContext, protocol: str, reason: str) -> None:
        for session in [s for s in self.active.values() if s.protocol == protocol]:
            self.end(ctx, session, reason)

    # -- refusals, failures, anomalies --------------------------------------------------------

    def refused(
        self, ctx: HelperContext, protocol: str, lan_host: bytes, server: bytes, reason: str
    ) -> None:
        """A session could not start (protocol disabled, table full, refused by the peer)."""
        if self._refusal_due(ctx, (lan_host, server, protocol)):
            ctx.log(
                "vpn_session_refused",
                protocol=protocol,
                lan_host=text(lan_host),
                server=text(server),
                reason=reason,
            )
        self.failed(ctx, protocol, lan_host, server, reason)

    def refused_inbound(
        self, ctx: HelperContext, protocol: str, remote: bytes, reason: str
    ) -> None:
        """Traffic from the WAN refused before it reached any LAN host (the protocol is
        switched off): logged, rate-limited, with the remote peer; it names no LAN host and so
        counts towards no host's negotiation burst."""
        if self._refusal_due(ctx, (b"", remote, protocol)):
            ctx.log("vpn_session_refused", protocol=protocol, direction="inbound",
                    remote=text(remote), reason=reason)  # fmt: skip

    def _refusal_due(self, ctx: HelperContext, key: tuple) -> bool:
        """One refusal line per key and interval (a flood is one line, not one per packet);
        the table of keys is bounded."""
        last = self._last_refusal.get(key)
        if last is not None and ctx.now - last < REFUSAL_LOG_INTERVAL:
            return False
        self._last_refusal[key] = ctx.now
        if len(self._last_refusal) > MAX_KNOWN_SERVERS:
            self._last_refusal.pop(next(iter(self._last_refusal)))
        return True

    def failed(
        self, ctx: HelperContext, protocol: str, lan_host: bytes, server: bytes, reason: str
    ) -> None:
        """A negotiation failed; several in a short time from one host are flagged."""
        window = self._failures.setdefault(lan_host, deque())
        window.append(ctx.now)
        while window and window[0] <= ctx.now - BURST_WINDOW:
            window.popleft()
        if len(window) == BURST_FAILURES:
            self.flag(
                ctx,
                "negotiation_burst",
                protocol=protocol,
                lan_host=text(lan_host),
                server=text(server),
                failures=len(window),
                window_s=BURST_WINDOW,
                last_reason=reason,
            )

    def unsolicited(
        self, ctx: HelperContext, protocol: str, remote: bytes, remote_port: int, ext_port: int
    ) -> None:
        self.flag(
            ctx,
            "unsolicited_inbound",
            protocol=protocol,
            remote=text(remote),
            remote_port=remote_port,
            external_port=ext_port,
        )

    def flag(self, ctx: HelperContext, kind: str, **details: Any) -> None:
        # A flood of the same anomaly becomes one line per interval, not one per packet.
        key = (kind, *(str(v) for v in details.values()))
        last = self._last_flag.get(key)
        if last is not None and ctx.now - last < REFUSAL_LOG_INTERVAL:
            return
        self._last_flag[key] = ctx.now
        if len(self._last_flag) > MAX_KNOWN_SERVERS:
            self._last_flag.pop(next(iter(self._last_flag)))
        anomaly = {"kind": kind, "at": ctx.now, **details}
        self.anomalies.append(anomaly)
        ctx.log("vpn_anomaly", **anomaly)

    def _note_server(
        self, ctx: HelperContext, protocol: str, lan_host: bytes, server: bytes
    ) -> None:
        key = (protocol, server)
        if key in self._known_servers:
            self._known_servers.move_to_end(key)
            return
        self._known_servers[key] = None
        if len(self._known_servers) > MAX_KNOWN_SERVERS:
            self._known_servers.popitem(last=False)
        self.flag(
            ctx, "new_vpn_server", protocol=protocol, lan_host=text(lan_host), server=text(server)
        )

    # -- for the UI ---------------------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "active": [s.as_dict(now) for s in self.active.values()],
            "recent": [s.as_dict(now) for s in self.history],
            "anomalies": list(self.anomalies),
        }

    @staticmethod
    def _fields(session: VpnSession) -> dict[str, Any]:
        return {
            "session": session.id,
            "protocol": session.protocol,
            "lan_host": text(session.lan_host),
            "server": text(session.server),
            "ids": dict(session.ids),
        }
