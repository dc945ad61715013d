"""Glue between the engine and its helpers: who is enabled, what a disabled one blocks,
attaching helpers to sessions, and running them on packets.

It works through the helpers' :class:`~nat.helpers.HelperContext` (the table, the output,
``now``), never through the engine."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from nat import counters as C
from nat import ipv4, seq_adjust
from nat.direction import INBOUND, OUTBOUND, Direction
from nat.helpers import Flow, Helper, HelperContext, HelperPacket
from nat.mapping import REMOVED, STATIC, Mapping, Session

if TYPE_CHECKING:
    from nat.config import NatConfig


# A session's remote is its address (4 bytes) followed by its port (2 bytes).
REMOTE_PORT = slice(4, 6)


def served_ports(helpers, config: NatConfig) -> dict[str, list[tuple[int, int]]]:
    """(IP protocol, server port) pairs each helper attaches to. A helper given ports
    (``config.helper_ports``) serves those on the transports it speaks; the others keep their
    own, but a movable one loses any port another was given on the same transport. Fixed
    helpers (``configurable_ports`` False) always keep theirs (the model refuses to give
    their ports away)."""
    given = dict(config.helper_ports)
    chosen: dict[str, list[tuple[int, int]]] = {}
    for helper in helpers:
        mine = sorted(port for port, name in given.items() if name == helper.name)
        if helper.configurable_ports and mine:
            chosen[helper.name] = _on_transports(helper, mine, mine)
    claimed = {pair for pairs in chosen.values() for pair in pairs}
    for helper in helpers:
        if helper.name not in chosen:
            own = _on_transports(helper, sorted(helper.tcp_ports), sorted(helper.udp_ports))
            movable = helper.configurable_ports
            chosen[helper.name] = [pair for pair in own if not movable or pair not in claimed]
    return chosen


def _on_transports(helper, tcp: list[int], udp: list[int]) -> list[tuple[int, int]]:
    pairs = [(ipv4.TCP, port) for port in tcp] if helper.tcp_ports else []
    return pairs + ([(ipv4.UDP, port) for port in udp] if helper.udp_ports else [])


class HelperDispatch:
    def __init__(self, ctx: HelperContext, helpers: list[Helper]):
        names = [h.name for h in helpers]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"helpers need distinct, non-empty names: {names}")
        self.ctx = ctx
        self.helpers = {h.name: h for h in helpers}
        self.enabled: set[str] = set()
        self._ports: dict[tuple[int, int], Helper] = {}
        self._protocols: dict[int, Helper] = {}
        # What a disabled helper blocks: key -> (drop reason, the helper to tell).
        self._blocked_ports: dict[tuple[int, int], tuple[str, Helper]] = {}
        self._blocked_protocols: dict[int, tuple[str, Helper]] = {}
        self._owned_ports: dict[int, Helper] = {}
        self.ports: dict[str, list[tuple[int, int]]] = {}  # helper -> (proto, port) it serves

    def configure(self, config: NatConfig, now: float) -> None:
        enabled = {
            name
            for name, helper in self.helpers.items()
            if config.helper_enabled(name, helper.default_enabled)
        }
        switched_off = self.enabled - enabled
        switched_on = enabled - self.enabled
        self.enabled = enabled
        self.ctx.enabled = frozenset(enabled)
        self._ports, self._protocols, self._owned_ports = {}, {}, {}
        self._blocked_ports, self._blocked_protocols = {}, {}
        self.ports = served_ports(list(self.helpers.values()), config)
        for name, helper in self.helpers.items():
            ports = self.ports[name]
            if name in enabled:
                self._ports.update(dict.fromkeys(ports, helper))
                self._protocols.update(dict.fromkeys(helper.ip_protocols, helper))
                self._owned_ports.update(dict.fromkeys(helper.owns_udp_ports, helper))
                continue
            block = (C.disabled(name), helper)
            if helper.inspect_when_disabled:
                self._ports.update(dict.fromkeys(ports, helper))  # it blocks what it sees
            else:
                self._blocked_ports.update(dict.fromkeys(ports, block))
            owned = [(ipv4.UDP, p) for p in helper.owns_udp_ports]
            self._blocked_ports.update(dict.fromkeys(owned, block))
            self._blocked_protocols.update(dict.fromkeys(helper.ip_protocols, block))
        for name in sorted(switched_off):
            self._tear_down(self.helpers[name], now)
        for name in sorted(switched_on):
            self._adopt(self.helpers[name])

    def _adopt(self, helper: Helper) -> None:
        """A helper switched on takes over the live sessions on its ports that have none (or
        only its own disabled-mode inspection), so turning an ALG on works at once, not only
        after the old 5-tuple expires."""
        ports = set(self.ports[helper.name])
        if not ports:
            return
        for mapping in list(self.ctx.table.inn.values()):
            for session in mapping.sessions():
                if session.extra is not None or session.remote is None:
                    continue
                remote_port = int.from_bytes(session.remote[REMOTE_PORT], "big")
                if (mapping.proto, remote_port) in ports:
                    self.attach_helper(mapping, session, helper, OUTBOUND)
                elif (mapping.proto, mapping.internal_port) in ports:
                    self.attach_helper(mapping, session, helper, INBOUND)

    def _tear_down(self, helper: Helper, now: float) -> None:
        """A disabled helper's sessions end now: new ones are blocked from here on."""
        table = self.ctx.table
        ended = 0
        for mapping in list(table.inn.values()):
            ended += table.end_sessions(
                mapping, lambda s, m=mapping: self._owned_by(helper, m, s), now
            )
            kind = mapping.kind
            if kind != REMOVED and kind != STATIC and not table.alive(mapping, now):
                table.remove(mapping, now)
        helper.on_disable(self.ctx)
        self.ctx.output.log("helper_disabled", {"helper": helper.name, "sessions_ended": ended})

    @staticmethod
    def _owned_by(helper: Helper, mapping: Mapping, session: Session) -> bool:
        extra = session.extra
        if extra is None or extra.helper is not helper:
            return False
        opened = extra.helper_state.get("opened", OUTBOUND)
        return helper.should_tear_down(Flow(mapping, session, opened))

    # -- questions from the engine ------------------------------------------------------------

    def blocked_port(
        self, proto: int, port: int, direction: Direction, buf: bytearray, ihl: int
    ) -> str | None:
        """The drop reason when a disabled helper blocks this port; the helper is told."""
        if not self._blocked_ports:
            return None
        block = self._blocked_ports.get((proto, port))
        if block is None:
            return None
        reason, helper = block
        helper.on_blocked(self.ctx, direction, buf, ihl, reason)
        return reason

    def attach(
        self, mapping: Mapping, session: Session, proto: int, server_port: int, direction: Direction
    ) -> None:
        helper = self._ports.get((proto, server_port)) if self._ports else None
        if helper is not None:
            self.attach_helper(mapping, session, helper, direction)

    def attach_helper(
        self, mapping: Mapping, session: Session, helper: Helper, direction: Direction
    ) -> None:
        extra = self.ctx.table.attach(session, helper)
        extra.helper_state["opened"] = direction
        helper.on_session_start(self.ctx, Flow(mapping, session, direction))

    def ip_packet(self, direction: Direction, buf: bytearray, ihl: int, proto: int) -> list:
        side = direction.ingress
        block = self._blocked_protocols.get(proto)
        if block is not None:
            reason, blocker = block
            blocker.on_blocked(self.ctx, direction, buf, ihl, reason)
            return self.ctx.output.drop(side, reason)
        helper = self._protocols.get(proto)
        if helper is None:
            return self.ctx.output.drop(side, C.PROTOCOL_UNSUPPORTED)
        result = helper.on_ip_packet(self.ctx, direction, buf, ihl)
        if isinstance(result, str):
            return self.ctx.output.drop(side, result)
        return result

    def owned(self, direction: Direction, buf: bytearray, ihl: int) -> list | None:
        """Give a UDP packet to the helper that owns its server port, if any and if it
        claims the packet; None lets the engine handle it as ordinary traffic."""
        if not self._owned_ports:
            return None
        # The server's port: the destination going out, the source coming in.
        at = ihl + (ipv4.DST_PORT if direction is OUTBOUND else ipv4.SRC_PORT)
        helper = self._owned_ports.get(buf[at] << 8 | buf[at + 1])
        if helper is None:
            return None
        result = helper.on_owned_packet(self.ctx, direction, buf, ihl)
        if isinstance(result, str):
            return self.ctx.output.drop(direction.ingress, result)
        return result

    def icmp_error_owner(self, embedded: bytes) -> bytes | None:
        """The LAN host that sent the packet an inbound ICMP error quotes, when an enabled
        helper forwarded it rather than a table mapping (GRE, ESP, IKE on UDP 500)."""
        proto = embedded[ipv4.PROTOCOL]
        ihl = ipv4.header_length(embedded)
        helper = self._protocols.get(proto)
        at = ihl + ipv4.DST_PORT  # the quoted packet went out: its destination is the server
        if helper is None and proto == ipv4.UDP and len(embedded) >= at + 2:
            helper = self._owned_ports.get(embedded[at] << 8 | embedded[at + 1])
        if helper is None:
            return None
        return helper.icmp_error_owner(self.ctx, embedded)

    def unsolicited(self, proto: int, remote: bytes, ext_port: int) -> None:
        """Tell the helper whose port refused traffic was aimed at (or came from)."""
        remote_port = int.from_bytes(remote[REMOTE_PORT], "big")
        for port in (ext_port, remote_port):
            helper = self._ports.get((proto, port)) or (
                self._owned_ports.get(port) if proto == ipv4.UDP else None
            )
            if helper is not None:
                helper.on_unsolicited(self.ctx, proto, (remote[:4], remote_port), ext_port)
                return

    def reset_all(self) -> None:
        """The table was rebuilt: every helper forgets what referred to the old one."""
        for name in sorted(self.enabled):
            self.helpers[name].on_disable(self.ctx)

    def on_time(self, now: float) -> None:
        for name in sorted(self.enabled):
            self.helpers[name].on_time(self.ctx, now)

    def session_ended(self, mapping: Mapping, session: Session) -> None:
        """The table's callback for every helper-attached session that ends."""
        extra = session.extra
        if extra is None:
            return
        flow = Flow(mapping, session, extra.helper_state.get("opened", OUTBOUND))
        extra.helper.on_session_end(self.ctx, flow)

    # -- running a helper on a packet -----------------------------------------------------------

    def on_packet(
        self,
        mapping: Mapping,
        session: Session,
        buf: bytearray,
        ihl: int,
        proto: int,
        direction: Direction,
    ) -> str | None:
        extra = session.extra
        if extra is None or buf[ipv4.FLAGS_FRAG] & ipv4.MF_BIT:
            return None  # a first fragment: the payload is incomplete
        outbound = direction is OUTBOUND
        if proto == ipv4.TCP:
            payload_at = ihl + ((buf[ihl + ipv4.TCP_DATA_OFFSET] >> 4) << 2)
            if payload_at > len(buf):
                return C.MALFORMED_TRANSPORT
            (original_seq,) = struct.unpack_from("!I", buf, ihl + ipv4.TCP_SEQ)
            this_way, other_way = (
                (extra.seq_out, extra.seq_in) if outbound else (extra.seq_in, extra.seq_out)
            )
            changed = seq_adjust.correct(buf, ihl, this_way, other_way)
        else:
            payload_at, changed = ihl + ipv4.UDP_HEADER, False
        packet = HelperPacket(buf, ihl, direction, payload_at)
        flow = Flow(mapping, session, extra.helper_state.get("opened", OUTBOUND))
        reason = extra.helper.on_packet(self.ctx, flow, packet)
        if packet.detached:
            session.extra = None
        if reason:
            return reason
        if packet.replacement is not None:
            growth = len(packet.replacement) - (len(buf) - payload_at)
            buf[payload_at:] = packet.replacement
            if proto == ipv4.UDP:
                struct.pack_into("!H", buf, ihl + ipv4.UDP_LENGTH, len(buf) - ihl)
            ipv4.set_total_length(buf, ihl)
            if proto == ipv4.TCP and growth:
                if outbound:
                    extra.seq_out = seq_adjust.record(extra.seq_out, original_seq, growth)
                else:
                    extra.seq_in = seq_adjust.record(extra.seq_in, original_seq, growth)
            changed = True
        if changed:
            ipv4.transport_checksum(buf, ihl, proto)
        return None
