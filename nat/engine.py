"""The sans-IO NAT engine: packets and time in, actions out.

It never opens a socket, reads a clock or imports scapy. The I/O driver calls
:meth:`Engine.receive`, :meth:`Engine.advance` and :meth:`Engine.configure` (the interface
is :class:`nat.api.NatEngine`) and carries out the :class:`~nat.actions.Transmit`,
:class:`~nat.actions.Drop` and :class:`~nat.actions.Log` they return.

A packet's way through: validate the IPv4 header, then the established fast path (one
dictionary lookup and an in-place rewrite); everything else takes the slow path: routing
checks, TTL, fragments, hairpinning, the firewall, new mappings, ICMP, helpers. The engine
does not check MTUs: the driver knows the egress link (and GSO) and calls
:func:`nat.mtu.fit_to_mtu` itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from nat import counters as C
from nat import ipv4, rewrite
from nat.actions import Drop, Log, Transmit
from nat.config import Behaviour, NatConfig, UnsolicitedSyn
from nat.direction import INBOUND, LAN, OUTBOUND, WAN, Direction, Side
from nat.fragments import FragmentTracker
from nat.helper_dispatch import HelperDispatch
from nat.helpers import Helper, HelperContext
from nat.icmp_translate import IcmpTranslator
from nat.ipv4 import FLAGS_FRAG, FRAG_OFFSET_HIGH, MF_BIT
from nat.mapping import DMZ, STATIC, Mapping, Session
from nat.offload import OffloadBook
from nat.output import Output
from nat.ports import IN_USE
from nat.table import PREFIX, NatTable
from nat.tcp_state import ESTABLISHED, next_state, opening_state

MAX_PENDING_SYNS = 1024
# Settings whose change invalidates every mapping: the table is rebuilt from scratch.
_TABLE_SETTINGS = (
    "wan_addresses",
    "mapping",
    "filtering",
    "port_allocation",
    "port_parity",
    "port_range",
    "low_port_range",
    "lan_address",
    "lan_prefix",
    "random_seed",
)


class Engine:
    def __init__(self, config: NatConfig | None = None, helpers: Iterable[Helper] | None = None):
        if helpers is None:
            from nat.passthrough import default_helpers

            helpers = default_helpers()
        self.output = Output()
        self.counters = self.output.counters
        self._logs = self.output.pending  # the same list, checked once per packet
        self.config = config or NatConfig()
        # Helpers get this port, never the engine; ``ctx.now`` is the one clock of an event.
        self.ctx = HelperContext(self.output, self.config)
        self.helpers = HelperDispatch(self.ctx, list(helpers))
        self._offload: OffloadBook | None = None  # flow offloading on: the offered sessions
        self.table = NatTable(self.config, self.helpers.session_ended)
        self.icmp = IcmpTranslator(self.output, self.helpers, self.table)
        self._use_table(self.table)
        self.fragments = FragmentTracker(self.config.timeouts.fragment)
        self._pending_syns: OrderedDict[bytes, tuple[float, bytes, bytes]] = OrderedDict()
        self._apply_settings(self.config)
        self._switch_offload(self.config)
        self.table.install_forwards(self.config, 0.0)
        self.helpers.configure(self.config, 0.0)

    # -- the driver's interface (nat.api.NatEngine) -------------------------------------------

    @property
    def now(self) -> float:
        """The time of the event being handled (or of the last one)."""
        return self.ctx.now

    def receive(self, side: Side, data: bytes, now: float) -> list:
        """A packet arrived; returns what to transmit, drop and log."""
        self.ctx.now = now
        try:
            actions = self._from_lan(data, now) if side == LAN else self._from_wan(data, now)
        except Exception as error:  # the datapath must survive any packet: count, drop, log
            self.counters["internal_error"] += 1
            actions = [
                Drop(side, "internal_error"),
                Log("engine_error", {"error": repr(error), "side": side, "where": _where(error)}),
            ]
        if self._logs:
            actions = actions + self.output.take_logs()
        return actions

    def advance(self, now: float) -> list:
        """Time passed: expire mappings, waiting fragments, held SYNs and helper state."""
        self.ctx.now = now
        actions: list = []
        self.table.sweep(now)
        if self._offload is not None:
            actions.extend(self._offload.review(now))
        discarded = self.fragments.expire(now)
        if discarded:
            self.counters[C.FRAGMENT_EXPIRED] += discarded
        actions.extend(self._release_pending_syns(now))
        self.helpers.on_time(now)
        self.output.forget_failures(now)
        actions.extend(self.output.take_logs())
        return actions

    def configure(self, config: NatConfig, now: float) -> list:
        """Apply a new configuration. Unrelated flows survive; a change of NAT behaviour,
        addresses or port policy flushes the table (the old mappings no longer mean anything).
        """
        self.ctx.now = now
        old = self.config
        flush = any(getattr(old, name) != getattr(config, name) for name in _TABLE_SETTINGS)
        if flush:
            removed = self.table.flush(now)
            self.helpers.reset_all()  # while the old table is still the one they release to
            self._use_table(NatTable(config, self.helpers.session_ended))
            self._pending_syns.clear()
            self.output.log(
                "table_flushed", {"mappings": removed, "reason": "nat settings changed"}
            )
        self.config = self.ctx.config = config
        self.table.set_timeouts(config)
        self.fragments.lifetime = config.timeouts.fragment
        self._apply_settings(config)
        self.table.install_forwards(config, now)
        self.helpers.configure(config, now)
        withdrawn = []
        if self._offload is not None:  # a flush or offloading off: every flow comes back
            withdrawn = self._offload.review(now, everything=flush or not config.flow_offload)
        self._switch_offload(config)
        self.output.log("config_applied", {"profile": config.profile, "flushed": flush})
        return withdrawn + self.output.take_logs()

    # -- views for the UI and the driver ------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        return self.table.snapshot(self.now)

    def offload_due(self, now: float) -> bool:
        """Whether the driver should read the offloaded flows' packet counts now."""
        return self._offload is not None and self._offload.due(now)

    def offload_activity(self, counts: dict[int, tuple[int, int]], now: float) -> None:
        """Offloaded flows' packet counts so far (outbound, inbound), by flow ident."""
        self.ctx.now = now
        if self._offload is not None:
            self._offload.activity(counts, now)

    def offload_declined(self, ident: int) -> None:
        """The driver could not offload that flow (yet): a later packet offers it again."""
        if self._offload is not None:
            self._offload.declined(ident)

    @property
    def offloaded_count(self) -> int:
        return len(self._offload) if self._offload is not None else 0

    def next_deadline(self) -> float | None:
        return self.table.wheel.next_due()

    @property
    def mapping_count(self) -> int:
        """How many mappings the table holds (port forwards and expectations included)."""
        return self.table.count

    def vpn_sessions(self, now: float) -> dict[str, Any]:
        """The VPN monitor's view (active sessions, history, anomalies): the one monitor the
        passthrough helpers share, or an empty view when no helper has one."""
        for helper in self.helpers.helpers.values():
            monitor = getattr(helper, "monitor", None)
            if monitor is not None:
                return monitor.snapshot(now)
        return {}

    # -- configuration ------------------------------------------------------------------------

    def _use_table(self, table: NatTable) -> None:
        """Everyone who works on the table gets this one (at start and after a flush)."""
        self.table = self.ctx.table = self.icmp.table = table
        if self._offload is not None:
            self._offload.table = table

    def _switch_offload(self, config: NatConfig) -> None:
        """Flow offloading on or off (when turned off, ``configure`` withdrew every flow)."""
        if not config.flow_offload:
            self._offload = None
        elif self._offload is None:
            self._offload = OffloadBook(self.table, config.inbound_refresh)
        else:
            self._offload.inbound_refresh = config.inbound_refresh

    def _apply_settings(self, config: NatConfig) -> None:
        network = config.lan_network()
        self._lan_net = int(network.network_address)
        self._lan_mask = int(network.netmask)
        self._lan_broadcast = int(network.broadcast_address)
        self._lan_ip = ipv4.addr(config.lan_address)
        self._ext_set = frozenset(self.table.ext_addresses)
        self.output.router_lan_ip = self._lan_ip
        self._eim = config.mapping is Behaviour.ENDPOINT_INDEPENDENT
        self._dmz = ipv4.addr(config.dmz_host) if config.dmz_host else None
        self._inbound_refresh = self.icmp.inbound_refresh = config.inbound_refresh

    # -- validation -----------------------------------------------------------------------------

    @staticmethod
    def _validate(data: bytes) -> bytearray | str:
        n = len(data)
        if n < 20:
            return C.MALFORMED_SHORT
        b0 = data[0]
        if b0 >> 4 != 4:
            return C.MALFORMED_VERSION
        ihl = (b0 & 0x0F) << 2
        if ihl < 20:
            return C.MALFORMED_HEADER_LENGTH
        total = data[2] << 8 | data[3]
        if total > n or total < ihl:
            return C.MALFORMED_TOTAL_LENGTH
        if int.from_bytes(data[:ihl], "big") % 0xFFFF:
            return C.MALFORMED_CHECKSUM
        # Trailing bytes (Ethernet padding) are not part of the packet.
        return bytearray(data) if total == n else bytearray(data[:total])

    def _offer(
        self, transmit: Transmit, mapping: Mapping, session: Session, proto: int, now: float
    ) -> list:
        """A fast-path packet with offloading on: the first one of a session also offers it
        (never a hairpin's: the kernel would send it out of the WAN)."""
        book = self._offload
        if session in book.sessions or session.remote[:4] in self._ext_set:
            return [transmit]
        offer = book.offer(mapping, session, proto, now)
        return [transmit] if offer is None else [transmit, offer]

    # -- LAN -> WAN -----------------------------------------------------------------------------

    def _from_lan(self, data: bytes, now: float) -> list:
        buf = self._validate(data)
        if type(buf) is str:
            return self.output.drop(LAN, buf)
        ihl = (buf[0] & 0x0F) << 2
        proto = buf[9]
        # Fast path: an established TCP or UDP session, TTL fine, not a fragment (no MF_BIT,
        # no fragment offset: literals here, as a constant's lookup costs on every packet).
        if (
            (proto == 6 or proto == 17)
            and buf[8] > 1
            and not (buf[6] & 0x3F or buf[7])
            and len(buf) >= ihl + 20
        ):
            if self._eim:
                key = PREFIX[proto] + buf[12:16] + buf[ihl : ihl + 2]
            else:
                key = self.table.out_key(
                    proto,
                    bytes(buf[12:16]),
                    bytes(buf[ihl : ihl + 2]),
                    bytes(buf[16:20] + buf[ihl + 2 : ihl + 4]),
                )
            mapping = self.table.out.get(key)
            if mapping is not None:
                remote = bytes(buf[16:20]) + buf[ihl + 2 : ihl + 4]
                session = (
                    mapping
                    if mapping.remote == remote
                    else (mapping.others.get(remote) if mapping.others else None)
                )
                if session is not None and session.expires > now and session.extra is None:
                    if proto == 6:
                        if session.state == ESTABLISHED and not buf[ihl + 13] & 0x07:
                            session.expires = now + self.table.tcp_established
                            rewrite.source_out(buf, ihl, 6, mapping)
                            if self._offload is not None:
                                return self._offer(Transmit(WAN, buf), mapping, session, 6, now)
                            return [Transmit(WAN, buf)]
                    else:
                        session.expires = now + self.table.udp_timeout
                        rewrite.source_out(buf, ihl, 17, mapping)
                        if self._offload is not None:
                            return self._offer(Transmit(WAN, buf), mapping, session, 17, now)
                        return [Transmit(WAN, buf)]
        return self._lan_slow(buf, ihl, proto, data, now)

    def _lan_slow(self, buf: bytearray, ihl: int, proto: int, data: bytes, now: float) -> list:
        dst = int.from_bytes(buf[16:20], "big")
        src = int.from_bytes(buf[12:16], "big")
        if src & self._lan_mask != self._lan_net or src == self._lan_broadcast:
            return self.output.drop(LAN, C.SPOOFED_SOURCE)
        if dst >> 28 >= 14 or dst >> 24 in (0, 127) or dst == 0xFFFFFFFF:
            return self.output.drop(LAN, C.NOT_ROUTABLE)  # multicast, reserved, this-net, loopback
        if dst & self._lan_mask == self._lan_net:
            return self.output.drop(LAN, C.LAN_LOCAL)  # the router itself or a LAN neighbour
        if buf[8] <= 1:
            return self._ttl_exceeded(LAN, buf, data, self._lan_ip)
        if self._is_later_fragment(buf):
            return self._later_fragment(LAN, buf, data, now)
        if bytes(buf[16:20]) in self._ext_set:
            actions = self._hairpin(buf, ihl, proto, data, now)
        elif proto == 6 or proto == 17:
            actions = self._transport(OUTBOUND, buf, ihl, proto, data, now)
        elif proto == 1:
            actions = self.icmp.from_lan(buf, ihl, data, now)
        else:
            actions = self.helpers.ip_packet(OUTBOUND, buf, ihl, proto)
        return self._after_first_fragment(LAN, buf, data, actions, now)

    def _transport(
        self, direction: Direction, buf: bytearray, ihl: int, proto: int, data: bytes, now: float
    ) -> list:
        """TCP and UDP off the fast path, either way: owned ports, the session, the rewrite,
        the session's helper."""
        outbound = direction is OUTBOUND
        if proto == 17 and len(buf) >= ihl + 8:
            owned = self.helpers.owned(direction, buf, ihl)
            if owned is not None:
                return owned
        if outbound:
            found = self._outbound_session(buf, ihl, proto, data, now)
        else:
            found = self._inbound_session(buf, ihl, proto, data, now, WAN)
        if type(found) is list:
            return found
        mapping, session = found
        if outbound:
            rewrite.source_out(buf, ihl, proto, mapping)
        else:
            rewrite.destination_in(buf, ihl, proto, mapping)
        if session.extra is not None:
            reason = self.helpers.on_packet(mapping, session, buf, ihl, proto, direction)
            if reason:
                return self.output.drop(direction.ingress, reason)
            return [Transmit(WAN if outbound else LAN, buf)]
        transmit = Transmit(WAN if outbound else LAN, buf)
        if self._offload is not None and (proto == 17 or session.state == ESTABLISHED):
            return self._offer(transmit, mapping, session, proto, now)
        return [transmit]

    def _outbound_session(
        self, buf: bytearray, ihl: int, proto: int, data: bytes, now: float
    ) -> tuple[Mapping, Session] | list:
        """Find or open the session of an outbound TCP/UDP packet and update its state."""
        if len(buf) < ihl + (20 if proto == 6 else 8):
            return self.output.drop(LAN, C.MALFORMED_TRANSPORT)
        int_ip = bytes(buf[12:16])
        int_port = bytes(buf[ihl : ihl + 2])
        remote = bytes(buf[16:20] + buf[ihl + 2 : ihl + 4])
        table = self.table
        mapping = table.find_outbound(proto, int_ip, int_port, remote)
        session = mapping.session_for(remote) if mapping is not None else None
        if session is not None and session.expires <= now:
            table.end_session(mapping, session, now)
            session = None
        flags = buf[ihl + 13] if proto == 6 else 0
        if session is None:
            server_port = buf[ihl + 2] << 8 | buf[ihl + 3]
            blocked = self.helpers.blocked_port(proto, server_port, OUTBOUND, buf, ihl)
            if blocked:
                return self.output.drop(LAN, blocked)
            state = 0
            if proto == 6:
                state = opening_state(OUTBOUND, flags)
                if state is None:
                    return self.output.drop(LAN, C.TCP_INVALID)
            if mapping is None:
                created = table.create(
                    proto, int_ip, int_port, table.out_key(proto, int_ip, int_port, remote), 0, now
                )
                if type(created) is str:
                    return self.output.mapping_failed(buf, data, proto, created, now, table.count)
                mapping = created
            session = mapping.add_session(remote, now + table.timeout(proto, state), state)
            table.schedule(mapping, session.expires)
            self._pending_syns.pop(mapping.in_key + remote, None)  # simultaneous open
            self.helpers.attach(mapping, session, proto, server_port, OUTBOUND)
            return mapping, session
        if proto == 6:
            state = next_state(session.state, OUTBOUND, flags)
            if state != session.state:
                session.state = state
                session.expires = now + table.timeout(6, state)
                table.schedule(mapping, session.expires)
                return mapping, session
        session.expires = now + table.timeout(proto, session.state)
        return mapping, session

    # -- WAN -> LAN -----------------------------------------------------------------------------

    def _from_wan(self, data: bytes, now: float) -> list:
        buf = self._validate(data)
        if type(buf) is str:
            return self.output.drop(WAN, buf)
        ihl = (buf[0] & 0x0F) << 2
        proto = buf[9]
        if (
            (proto == 6 or proto == 17)
            and buf[8] > 1
            and not (buf[6] & 0x3F or buf[7])
            and len(buf) >= ihl + 20
        ):
            mapping = self.table.inn.get(PREFIX[proto] + buf[16:20] + buf[ihl + 2 : ihl + 4])
            if mapping is not None:
                remote = bytes(buf[12:16]) + buf[ihl : ihl + 2]
                session = (
                    mapping
                    if mapping.remote == remote
                    else (mapping.others.get(remote) if mapping.others else None)
                )
                if session is not None and session.expires > now and session.extra is None:
                    if proto == 6:
                        if session.state == ESTABLISHED and not buf[ihl + 13] & 0x07:
                            if self._inbound_refresh:
                                session.expires = now + self.table.tcp_established
                            rewrite.destination_in(buf, ihl, 6, mapping)
                            if self._offload is not None:
                                return self._offer(Transmit(LAN, buf), mapping, session, 6, now)
                            return [Transmit(LAN, buf)]
                    else:
                        if self._inbound_refresh:
                            session.expires = now + self.table.udp_timeout
                        rewrite.destination_in(buf, ihl, 17, mapping)
                        if self._offload is not None:
                            return self._offer(Transmit(LAN, buf), mapping, session, 17, now)
                        return [Transmit(LAN, buf)]
        return self._wan_slow(buf, ihl, proto, data, now)

    def _wan_slow(self, buf: bytearray, ihl: int, proto: int, data: bytes, now: float) -> list:
        dst = bytes(buf[16:20])
        if dst not in self._ext_set:
            return self.output.drop(WAN, C.NOT_FOR_US)
        if buf[8] <= 1:
            return self._ttl_exceeded(WAN, buf, data, dst)
        if self._is_later_fragment(buf):
            return self._later_fragment(WAN, buf, data, now)
        if proto == 6 or proto == 17:
            actions = self._transport(INBOUND, buf, ihl, proto, data, now)
        elif proto == 1:
            actions = self.icmp.from_wan(buf, ihl, data, now)
        else:
            actions = self.helpers.ip_packet(INBOUND, buf, ihl, proto)
        return self._after_first_fragment(WAN, buf, data, actions, now)

    def _inbound_session(
        self, buf: bytearray, ihl: int, proto: int, data: bytes, now: float, side: Side
    ) -> tuple[Mapping, Session] | list:
        """Find or admit the session of an inbound TCP/UDP packet: the stateful firewall."""
        if len(buf) < ihl + (20 if proto == 6 else 8):
            return self.output.drop(side, C.MALFORMED_TRANSPORT)
        table = self.table
        in_key = PREFIX[proto] + buf[16:20] + buf[ihl + 2 : ihl + 4]
        remote = bytes(buf[12:16] + buf[ihl : ihl + 2])
        mapping = table.inn.get(in_key)
        session = mapping.session_for(remote) if mapping is not None else None
        if session is not None and session.expires <= now:
            table.end_session(mapping, session, now)
            session = None
        flags = buf[ihl + 13] if proto == 6 else 0
        if session is None:
            for port in (buf[ihl + 2] << 8 | buf[ihl + 3], buf[ihl] << 8 | buf[ihl + 1]):
                blocked = self.helpers.blocked_port(proto, port, INBOUND, buf, ihl)
                if blocked:
                    return self.output.drop(side, blocked)
            state = 0
            if proto == 6:
                state = opening_state(INBOUND, flags)
                if state is None:
                    return self.output.drop(
                        side, C.FILTERED if mapping is not None else C.NO_MAPPING
                    )
            if mapping is None and self._dmz is not None and side == WAN:
                created = table.create_dmz(
                    proto, bytes(buf[16:20]), bytes(buf[ihl + 2 : ihl + 4]), self._dmz, remote, now
                )
                mapping = created if type(created) is not str else None
            admitted, helper = self._admit(mapping, remote, now)
            if not admitted:
                if side == WAN:
                    self.helpers.unsolicited(proto, remote, buf[ihl + 2] << 8 | buf[ihl + 3])
                if proto == 6 and side == WAN:
                    self._hold_unsolicited_syn(in_key, remote, data)
                return self.output.drop(side, C.FILTERED if mapping is not None else C.NO_MAPPING)
            session = mapping.add_session(remote, now + table.timeout(proto, state), state)
            table.schedule(mapping, session.expires)
            if helper is not None:
                self.helpers.attach_helper(mapping, session, helper, INBOUND)
            else:
                self.helpers.attach(mapping, session, proto, mapping.internal_port, INBOUND)
            return mapping, session
        if proto == 6:
            state = next_state(session.state, INBOUND, flags)
            if state != session.state:
                session.state = state
                session.expires = now + table.timeout(6, state)
                table.schedule(mapping, session.expires)
                return mapping, session
        if self._inbound_refresh:
            session.expires = now + table.timeout(proto, session.state)
        return mapping, session

    def _admit(
        self, mapping: Mapping | None, remote: bytes, now: float
    ) -> tuple[bool, Helper | None]:
        """RFC 4787 section 5 filtering, port forwards and helper expectations."""
        if mapping is None:
            return False, None
        if mapping.kind == STATIC or mapping.kind == DMZ:
            return True, None
        permitted, helper = self.table.permit_for(mapping, remote, now)
        if permitted:
            return True, helper
        filtering = self.table.filtering
        live = [s for s in mapping.sessions() if s.expires > now]
        if not live:
            return False, None
        if filtering is Behaviour.ENDPOINT_INDEPENDENT:
            return True, None
        if filtering is Behaviour.ADDRESS_DEPENDENT:
            address = remote[:4]
            return any(s.remote[:4] == address for s in live), None
        return False, None  # address-and-port-dependent: only an existing session passes

    def _hold_unsolicited_syn(self, in_key: bytes, remote: bytes, data: bytes) -> None:
        """RFC 5382 REQ-4: say nothing for 6 s; an outbound SYN in that time cancels."""
        if self.config.unsolicited_syn is not UnsolicitedSyn.ICMP:
            return
        key = in_key + remote
        if key in self._pending_syns or len(self._pending_syns) >= MAX_PENDING_SYNS:
            return
        deadline = self.now + self.config.timeouts.unsolicited_syn_hold
        self._pending_syns[key] = (deadline, bytes(data), in_key[1:5])

    def _release_pending_syns(self, now: float) -> list:
        actions = []
        while self._pending_syns:
            key, (deadline, original, ext_ip) = next(iter(self._pending_syns.items()))
            if deadline > now:
                break
            del self._pending_syns[key]
            actions.append(
                Transmit(
                    WAN,
                    ipv4.build_icmp_error(
                        ext_ip, original[12:16], ipv4.ICMP_UNREACH, ipv4.UNREACH_PORT, original
                    ),
                )
            )
        return actions

    # -- hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8) -----------------------------------------

    def _hairpin(self, buf: bytearray, ihl: int, proto: int, data: bytes, now: float) -> list:
        if not self.config.hairpinning:
            return self.output.drop(LAN, C.HAIRPIN_DISABLED)
        if proto not in (6, 17):
            return self.output.drop(LAN, C.HAIRPIN_DISABLED if proto != 1 else C.ICMP_UNSUPPORTED)
        found = self._outbound_session(buf, ihl, proto, data, now)
        if type(found) is list:
            return found
        mapping, _ = found
        # The target sees the sender's external address and port (REQ-9a), and the router
        # forwards the packet once: one TTL decrement in all.
        rewrite.source_out(buf, ihl, proto, mapping)
        rewrite.restore_ttl(buf)
        found = self._inbound_session(buf, ihl, proto, data, now, LAN)
        if type(found) is list:
            return found
        target, _ = found
        rewrite.destination_in(buf, ihl, proto, target)
        self.counters["hairpinned"] += 1
        return [Transmit(LAN, buf)]

    # -- TTL and fragments ----------------------------------------------------------------------

    def _ttl_exceeded(self, side: Side, buf: bytearray, data: bytes, router_ip: bytes) -> list:
        actions = self.output.drop(side, C.TTL_EXCEEDED)
        if not self._is_icmp_error(buf) and not self._is_later_fragment(buf):
            actions.append(
                Transmit(
                    side,
                    ipv4.build_icmp_error(
                        router_ip, bytes(buf[12:16]), ipv4.ICMP_TIME_EXCEEDED, 0, data
                    ),
                )
            )
        return actions

    @staticmethod
    def _is_icmp_error(buf: bytearray) -> bool:
        ihl = (buf[0] & 0x0F) << 2
        return buf[9] == 1 and len(buf) > ihl and buf[ihl] in ipv4.ICMP_ERROR_TYPES

    @staticmethod
    def _is_later_fragment(buf: bytearray) -> bool:
        return bool(buf[FLAGS_FRAG] & FRAG_OFFSET_HIGH or buf[FLAGS_FRAG + 1])

    def _after_first_fragment(
        self, side: Side, buf: bytearray, data: bytes, actions: list, now: float
    ) -> list:
        """Remember how a first fragment was translated; release fragments that waited."""
        if not buf[FLAGS_FRAG] & MF_BIT or not actions or type(actions[0]) is not Transmit:
            return actions
        out = actions[0]
        key = FragmentTracker.key(side, data)
        self.fragments.remember(key, bytes(out.data[12:16]), bytes(out.data[16:20]), out.side, now)
        for waiting_side, waiting in self.fragments.release(key):
            actions = actions + self._later_fragment(waiting_side, bytearray(waiting), waiting, now)
        return actions

    def _later_fragment(self, side: Side, buf: bytearray, data: bytes, now: float) -> list:
        key = FragmentTracker.key(side, data)
        translation = self.fragments.lookup(key, now)
        if translation is None:
            if self.fragments.wait(key, side, bytes(data), now):
                self.counters["fragment_waiting"] += 1
                return []
            return self.output.drop(side, C.FRAGMENT_BUFFER_FULL)
        if buf[12:16] != translation.src:
            rewrite.address(buf, 12, translation.src)
        if buf[16:20] != translation.dst:
            rewrite.address(buf, 16, translation.dst)
        rewrite.decrement_ttl(buf)
        return [Transmit(translation.side, buf)]


def verify_engine_invariants(engine: Engine) -> list[str]:
    """Cross-checks of the table for tests and the self-check: every problem found."""
    problems = []
    table = engine.table
    for key, mapping in table.inn.items():
        if mapping.in_key != key:
            problems.append(f"inbound key mismatch for {mapping.in_key!r}")
        space = table.space(mapping.host.ext_ip, mapping.proto)
        if space.state[mapping.external_port] != IN_USE:
            problems.append(f"port {mapping.external_port} in use but not marked taken")
    if table.count != len(table.inn):
        problems.append(f"count {table.count} != {len(table.inn)} mappings")
    per_host: dict[bytes, int] = {}
    for mapping in table.inn.values():
        per_host[mapping.host.int_ip] = per_host.get(mapping.host.int_ip, 0) + 1
    for ip, host in table.hosts.items():
        if per_host.get(ip, 0) != host.count:
            problems.append(f"host {ipv4.text(ip)} counts {host.count}, has {per_host.get(ip)}")
    return problems


def _where(error: Exception) -> str:
    """The innermost frame of ``error`` (``sip.py:412 rewrite_sdp``): a bug report's first line.
    Read from the traceback object itself: the traceback module reads source files (no I/O
    in nat/)."""
    frame = error.__traceback__
    if frame is None:
        return ""
    while frame.tb_next is not None:
        frame = frame.tb_next
    code = frame.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno} {code.co_name}"
