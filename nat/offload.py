"""Flow offloading, the engine's side: which sessions the I/O side may forward by itself.

As OpenWrt's software flow offloading does for conntrack, the engine stays the one that
decides: it offers a session once it is established and plain (TCP past its handshake, UDP
with a session, no helper, no hairpin), and withdraws it as soon as it is not any more
(ended, expired, closing, the table flushed). The I/O side forwards the offloaded packets
with stateless rewrites, sends everything else (SYN/FIN/RST, fragments, TTL 1) to the engine
as before, and reports per-flow packet counts, which refresh the session's timer as the fast
path would have. Counts are read once a second while any flow is offloaded: a timer runs late
by at most that (a count says packets came since the last read, not when).
"""

from __future__ import annotations

from nat.actions import Flow, Offload, Withdraw
from nat.mapping import REMOVED, Mapping, Session
from nat.tcp_state import ESTABLISHED

MAX_FLOWS = 4096  # the kernel's table stays small; further flows take the engine's fast path
READ_EVERY = 1.0  # seconds between two reads of the counts


class _Entry:
    __slots__ = ("flow", "inbound", "mapping", "outbound", "session")

    def __init__(self, flow: Flow, mapping: Mapping, session: Session):
        self.flow = flow
        self.mapping = mapping
        self.session = session
        self.outbound = 0  # the packet counts last reported
        self.inbound = 0


class OffloadBook:
    """The offloaded sessions, by session and by flow ident."""

    def __init__(self, table, inbound_refresh: bool):
        self.table = table
        self.inbound_refresh = inbound_refresh
        self.sessions: dict[Session, _Entry] = {}
        self.flows: dict[int, _Entry] = {}
        self.next_read = float("inf")
        self._ident = 0

    def __len__(self) -> int:
        return len(self.flows)

    def offer(self, mapping: Mapping, session: Session, proto: int, now: float) -> Offload | None:
        if len(self.flows) >= MAX_FLOWS or session.remote is None:
            return None
        self._ident += 1
        flow = Flow(self._ident, proto, mapping.out_key[1:7], mapping.in_key[1:7], session.remote)
        entry = _Entry(flow, mapping, session)
        if not self.flows:
            self.next_read = now + READ_EVERY
        self.sessions[session] = self.flows[flow.ident] = entry
        return Offload(flow)

    def declined(self, ident: int) -> None:
        """The I/O side could not offload it (no neighbour yet): the next packet offers again."""
        entry = self.flows.pop(ident, None)
        if entry is not None:
            self.sessions.pop(entry.session, None)

    def due(self, now: float) -> bool:
        return bool(self.flows) and now >= self.next_read

    def activity(self, counts: dict[int, tuple[int, int]], now: float) -> None:
        """Packet counts (outbound, inbound) per flow: traffic refreshes the timer as the
        fast path does (inbound only with inbound_refresh, RFC 4787 REQ-6)."""
        for ident, (outbound, inbound) in counts.items():
            entry = self.flows.get(ident)
            if entry is None:
                continue
            seen = outbound > entry.outbound or (self.inbound_refresh and inbound > entry.inbound)
            entry.outbound, entry.inbound = outbound, inbound
            if seen:
                session = entry.session
                session.expires = now + self.table.timeout(entry.flow.proto, session.state)
        self.next_read = now + READ_EVERY

    def review(self, now: float, everything: bool = False) -> list[Withdraw]:
        """Withdraw every offloaded flow whose session is no longer established and plain."""
        gone = [e for e in self.flows.values() if everything or not self._still_plain(e, now)]
        for entry in gone:
            del self.flows[entry.flow.ident]
            self.sessions.pop(entry.session, None)
        return [Withdraw(e.flow.ident) for e in gone]

    @staticmethod
    def _still_plain(entry: _Entry, now: float) -> bool:
        mapping, session = entry.mapping, entry.session
        return (
            mapping.kind != REMOVED
            and mapping.session_for(entry.flow.remote) is session
            and session.expires > now
            and session.extra is None
            and (entry.flow.proto != 6 or session.state == ESTABLISHED)
        )
