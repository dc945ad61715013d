"""ICMP through the NAT (RFC 5508): echo query sessions and error messages.

Queries: an echo request maps its identifier like a port, always endpoint-independently;
the reply must come from the address that was asked. Errors: the embedded packet is the
one that caused the error, as the remote side saw it; its IP and transport headers are
translated back (or forward), the outer address too, and the ICMP checksum recomputed.
Errors never create or refresh a session (RFC 4787 REQ-12, RFC 5382 REQ-10, RFC 7857).

The translator gets the table, the output and the helpers, not the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nat import checksum, ipv4, rewrite
from nat import counters as C
from nat.actions import Transmit
from nat.direction import LAN, WAN
from nat.mapping import Mapping
from nat.table import PREFIX

if TYPE_CHECKING:
    from nat.helper_dispatch import HelperDispatch
    from nat.output import Output
    from nat.table import NatTable


class IcmpTranslator:
    def __init__(self, output: Output, helpers: HelperDispatch, table: NatTable):
        self.output = output
        self.helpers = helpers
        self.table = table  # the engine hands over the new one when a flush rebuilds it
        self.inbound_refresh = True  # NatConfig.inbound_refresh, set by the engine

    # -- LAN -> WAN -----------------------------------------------------------------------------

    def from_lan(self, buf: bytearray, ihl: int, data: bytes, now: float) -> list:
        if len(buf) < ihl + 8 or not checksum.is_valid(buf[ihl:]):
            return self.output.drop(LAN, C.MALFORMED_ICMP)
        icmp_type = buf[ihl]
        if icmp_type == ipv4.ICMP_ECHO_REQUEST:
            return self._echo_out(buf, ihl, data, now)
        if icmp_type in ipv4.ICMP_ERROR_TYPES:
            return self._error_out(buf, ihl, data, now)
        return self.output.drop(LAN, C.ICMP_UNSUPPORTED)

    def _echo_out(self, buf: bytearray, ihl: int, data: bytes, now: float) -> list:
        table = self.table
        int_ip = bytes(buf[12:16])
        ident = bytes(buf[ihl + 4 : ihl + 6])
        remote = bytes(buf[16:20])
        key = PREFIX[1] + int_ip + ident
        mapping = table.out.get(key)
        if mapping is None:
            created = table.create(1, int_ip, ident, key, 0, now)
            if type(created) is str:
                return self.output.mapping_failed(buf, data, 1, created, now, table.count)
            mapping = created
        session = mapping.session_for(remote)
        if session is None or session.expires <= now:
            if session is not None:
                table.end_session(mapping, session, now)
            session = mapping.add_session(remote, now + table.icmp_timeout, 0)
            table.schedule(mapping, session.expires)
        session.expires = now + table.icmp_timeout
        rewrite.source_out(buf, ihl, 1, mapping)
        return [Transmit(WAN, buf)]

    def _error_out(self, buf: bytearray, ihl: int, data: bytes, now: float) -> list:
        """A LAN host reports a problem with a packet it received from the WAN."""
        inner = self._inner(buf, ihl)
        if inner is None:
            return self.output.drop(LAN, C.MALFORMED_ICMP)
        e, e_ihl, proto = inner
        if proto not in (6, 17):
            return self.output.drop(LAN, C.ICMP_ERROR_NO_MAPPING)
        remote = bytes(buf[e + 12 : e + 16] + buf[e + e_ihl : e + e_ihl + 2])
        int_ip = bytes(buf[e + 16 : e + 20])
        int_port = bytes(buf[e + e_ihl + 2 : e + e_ihl + 4])
        mapping = self.table.find_outbound(proto, int_ip, int_port, remote)
        if not self._has_live_session(mapping, remote, now):
            return self.output.drop(LAN, C.ICMP_ERROR_NO_MAPPING)
        host = mapping.host
        # Inner packet: its destination was the internal endpoint; make it the external one.
        rewrite.field(buf, e + 16, host.ext_ip, e + 10)
        self._inner_port(buf, e, e_ihl, proto, e_ihl + 2, mapping.in_key[5:7], host.d_addr)
        rewrite.address(buf, 12, host.ext_ip)
        rewrite.decrement_ttl(buf)
        ipv4.transport_checksum(buf, ihl, 1)
        return [Transmit(WAN, buf)]

    # -- WAN -> LAN -----------------------------------------------------------------------------

    def from_wan(self, buf: bytearray, ihl: int, data: bytes, now: float) -> list:
        if len(buf) < ihl + 8 or not checksum.is_valid(buf[ihl:]):
            return self.output.drop(WAN, C.MALFORMED_ICMP)
        icmp_type = buf[ihl]
        if icmp_type == ipv4.ICMP_ECHO_REPLY:
            return self._echo_in(buf, ihl, data, now)
        if icmp_type in ipv4.ICMP_ERROR_TYPES:
            return self._error_in(buf, ihl, data, now)
        # Echo requests to the router are the kernel's to answer; nothing else is mapped.
        return self.output.drop(WAN, C.NO_MAPPING if icmp_type == 8 else C.ICMP_UNSUPPORTED)

    def _echo_in(self, buf: bytearray, ihl: int, data: bytes, now: float) -> list:
        table = self.table
        mapping = table.inn.get(PREFIX[1] + buf[16:20] + buf[ihl + 4 : ihl + 6])
        remote = bytes(buf[12:16])
        if not self._has_live_session(mapping, remote, now):
            return self.output.drop(WAN, C.NO_MAPPING)
        if self.inbound_refresh:
            mapping.session_for(remote).expires = now + table.icmp_timeout
        rewrite.destination_in(buf, ihl, 1, mapping)
        return [Transmit(LAN, buf)]

    def _error_in(self, buf: bytearray, ihl: int, data: bytes, now: float) -> list:
        """The WAN reports a problem with a packet we sent: hand it to the internal host."""
        table = self.table
        inner = self._inner(buf, ihl)
        if inner is None:
            return self.output.drop(WAN, C.MALFORMED_ICMP)
        e, e_ihl, proto = inner
        ext_ip = bytes(buf[e + 12 : e + 16])
        if proto in (6, 17):
            port = bytes(buf[e + e_ihl : e + e_ihl + 2])
            remote = bytes(buf[e + 16 : e + 20] + buf[e + e_ihl + 2 : e + e_ihl + 4])
            port_at = e_ihl
        elif proto == 1 and buf[e + e_ihl] == ipv4.ICMP_ECHO_REQUEST and len(buf) >= e + e_ihl + 6:
            port = bytes(buf[e + e_ihl + 4 : e + e_ihl + 6])
            remote = bytes(buf[e + 16 : e + 20])
            port_at = e_ihl + 4
        else:
            return self._error_in_for_helper(buf, ihl, data, e, e_ihl, proto)
        mapping = table.inn.get(PREFIX[proto] + ext_ip + port)
        if not self._has_live_session(mapping, remote, now):
            return self._error_in_for_helper(buf, ihl, data, e, e_ihl, proto)
        host = mapping.host
        rewrite.field(buf, e + 12, host.int_ip, e + 10)
        self._inner_port(
            buf, e, e_ihl, proto, port_at, mapping.out_key[5:7], checksum.negate(host.d_addr)
        )
        rewrite.address(buf, 16, host.int_ip)
        rewrite.decrement_ttl(buf)
        ipv4.transport_checksum(buf, ihl, 1)
        return [Transmit(LAN, buf)]

    def _error_in_for_helper(
        self, buf: bytearray, ihl: int, data: bytes, e: int, e_ihl: int, proto: int
    ) -> list:
        """An error about a packet a passthrough helper forwarded: PMTU discovery for raw
        ESP and PPTP's GRE depends on these. The helper names the LAN host; only addresses
        change, as those flows keep their SPIs, call IDs and port 500 across the NAT."""
        int_ip = self.helpers.icmp_error_owner(bytes(buf[e:]))
        if int_ip is None:
            return self.output.drop(WAN, C.ICMP_ERROR_NO_MAPPING)
        ext_ip = bytes(buf[e + 12 : e + 16])
        rewrite.field(buf, e + 12, int_ip, e + 10)
        if proto == ipv4.UDP:  # a quoted UDP checksum covers the source address
            port = bytes(buf[e + e_ihl : e + e_ihl + 2])
            delta = checksum.words_delta(ext_ip, int_ip)
            self._inner_port(buf, e, e_ihl, proto, e_ihl, port, delta)
        rewrite.address(buf, 16, int_ip)
        rewrite.decrement_ttl(buf)
        ipv4.transport_checksum(buf, ihl, 1)
        return [Transmit(LAN, buf)]

    # -- shared ---------------------------------------------------------------------------------

    @staticmethod
    def _inner(buf: bytearray, ihl: int) -> tuple[int, int, int] | None:
        """Offset, header length and protocol of the embedded packet, if it is sound."""
        e = ihl + 8
        if len(buf) < e + 20 or buf[e] >> 4 != 4:
            return None
        e_ihl = (buf[e] & 0x0F) << 2
        if e_ihl < 20 or len(buf) < e + e_ihl + 4:
            return None
        if not checksum.is_valid(buf[e : e + e_ihl]):
            return None
        return e, e_ihl, buf[e + 9]

    @staticmethod
    def _inner_port(
        buf: bytearray, e: int, e_ihl: int, proto: int, port_at: int, new_port: bytes, d_addr: int
    ) -> None:
        """Rewrite the embedded port and, when it was quoted, the embedded checksum."""
        l4 = e + e_ihl
        csum_at = {6: l4 + 16, 17: l4 + 6, 1: l4 + 2}[proto]
        quoted = len(buf) >= csum_at + 2
        old = bytes(buf[e + port_at : e + port_at + 2])
        buf[e + port_at : e + port_at + 2] = new_port
        if not quoted:
            return
        delta = checksum.words_delta(old, new_port)
        if proto != 1:  # the pseudo-header address changed too
            delta = rewrite.fold(delta + d_addr)
        if proto == 17 and not (buf[csum_at] or buf[csum_at + 1]):
            return
        csum = buf[csum_at] << 8 | buf[csum_at + 1]
        new = checksum.adjust(csum, delta)
        buf[csum_at] = new >> 8
        buf[csum_at + 1] = new & 0xFF

    @staticmethod
    def _has_live_session(mapping: Mapping | None, remote: bytes, now: float) -> bool:
        if mapping is None:
            return False
        session = mapping.session_for(remote)
        return session is not None and session.expires > now
