"""IPsec passthrough: IKE on UDP 500, raw ESP (protocol 50), NAT-T on UDP 4500, AH (51).

IKE (UDP 500): a client whose source port is 500 keeps external port 500 (RFC 4787 REQ-3a
keeps it in the well-known range anyway). When several LAN hosts talk IKE to the same
server at once they all share external port 500, and replies are told apart by the
initiator SPI, the first eight bytes of every IKE header. A client using another source
port is ordinary NAT.

Raw ESP has no ports. Outbound ESP records (LAN host, server, outbound SPI); the first
inbound ESP from that server with an SPI never seen before is bound to the OLDEST entry
still waiting for its inbound SPI (the design posted to netdev in 2021), and afterwards
inbound ESP is matched by SPI. So several LAN hosts can reach the same VPN server at once.
Entries time out after 60 s without a reply and 3600 s idle once replied; the table is
bounded.

NAT-T (UDP 4500, RFC 3947/3948) is an ordinary UDP mapping; the helper only watches it (IKE
SPIs behind the non-ESP marker, keepalives, byte counts) so the VPN monitor sees the session.
A 20 s keepalive refreshes it like any outbound packet.

AH authenticates the IP header, addresses included, so no NAT can translate it: AH is always
dropped, with a log line saying why, rather than forwarded broken.

Disabled: UDP 500 and 4500 and protocols 50 and 51 are dropped; running sessions end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from nat import ipv4
from nat.direction import INBOUND, OUTBOUND, Direction
from nat.helpers import Flow, HelperContext, HelperPacket
from nat.passthrough.base import PassthroughHelper
from nat.passthrough.monitor import VpnSession

IKE_PORT = 500
NATT_PORT = 4500
IKE_HEADER = 28
IKE_UNREPLIED_TIMEOUT = 60.0
IKE_REPLIED_TIMEOUT = 3600.0
ESP_UNREPLIED_TIMEOUT = 60.0
ESP_REPLIED_TIMEOUT = 3600.0
MAX_ENTRIES = 1024
NOTIFY_PAYLOAD = 41
NOTIFY_ERROR_LIMIT = 16384  # IKEv2 notify types below this are errors (RFC 7296 3.10.1)
IKEV2_RESPONSE = 0x20
AH_REASON = "AH authenticates the IP header, so it cannot survive address translation"


@dataclass(eq=False)
class IkeEntry:
    client: bytes
    server: bytes
    initiator_spi: bytes
    external_ip: bytes
    expires: float
    replied: bool = False
    vpn: VpnSession | None = None


@dataclass(eq=False)
class EspEntry:
    host: bytes
    server: bytes
    outbound_spi: int
    created: float
    expires: float
    inbound_spi: int | None = None
    vpn: VpnSession | None = None


class IpsecHelper(PassthroughHelper):
    name = "ipsec"
    udp_ports = frozenset({NATT_PORT})
    owns_udp_ports = frozenset({IKE_PORT})
    configurable_ports = False  # IKE shares port 500 by SPI; NAT-T floats to 4500 (RFC 3947)
    ip_protocols = frozenset({ipv4.ESP, ipv4.AH})
    title = "IPsec"
    carries = "UDP 500 (IKE), UDP 4500 (NAT-T), IP protocol 50 (ESP); protocol 51 (AH) blocked"
    security = "High"
    use_case = "Site-to-site tunnels, hardware VPNs"
    when_enabled = (
        "IKE keeps port 500 and several hosts share it, told apart by initiator SPI; raw ESP "
        "is tracked by SPI so several hosts can reach one server; NAT-T is plain UDP NAT. AH "
        "is dropped with a log line: it cannot survive NAT."
    )
    when_disabled = "UDP 500 and 4500, ESP and AH are dropped; running sessions end."
    default_reason = (
        "Off: RFC 4787 REQ-10 wants helpers off until needed; turn it on for IPsec clients "
        "that do not use NAT-T (it is the only way raw ESP crosses the NAT)."
    )

    def __init__(self, monitor=None):
        super().__init__(monitor)
        self._ike_by_spi: dict[tuple[bytes, bytes], IkeEntry] = {}
        self._port500_users: dict[bytes, int] = {}  # external address -> IKE entries on it
        self._esp_by_outbound: dict[tuple[bytes, bytes, int], EspEntry] = {}
        self._esp_by_inbound: dict[tuple[bytes, int], EspEntry] = {}

    # -- IKE on UDP 500 ---------------------------------------------------------------------

    def on_owned_packet(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int
    ) -> list | str | None:
        sport = packet[ihl] << 8 | packet[ihl + 1]
        dport = packet[ihl + 2] << 8 | packet[ihl + 3]
        if sport != IKE_PORT or dport != IKE_PORT:
            return None  # not IKE between the standard ports: ordinary NAT
        if len(packet) < ihl + 8 + IKE_HEADER:
            return "ipsec_ike_malformed"
        spi = bytes(packet[ihl + 8 : ihl + 16])
        if direction == OUTBOUND:
            return self._ike_out(ctx, packet, ihl, spi)
        return self._ike_in(ctx, packet, ihl, spi)

    def _ike_out(self, ctx: HelperContext, packet: bytearray, ihl: int, spi: bytes) -> list | str:
        client, server = bytes(packet[12:16]), bytes(packet[16:20])
        entry = self._ike_by_spi.get((server, spi))
        if entry is not None and entry.client != client:
            self.monitor.refused(ctx, self.name, client, server, "IKE initiator SPI collision")
            return "ipsec_ike_spi_collision"
        if entry is None:
            entry = self._new_ike(ctx, client, server, spi)
            if isinstance(entry, str):
                return entry
        entry.expires = ctx.now + (IKE_REPLIED_TIMEOUT if entry.replied else IKE_UNREPLIED_TIMEOUT)
        if entry.vpn is not None:
            entry.vpn.count(len(packet))
        return ctx.forward_outbound(packet, ihl, entry.external_ip)

    def _new_ike(self, ctx: HelperContext, client: bytes, server: bytes, spi: bytes):
        if len(self._ike_by_spi) >= MAX_ENTRIES:
            self.monitor.refused(ctx, self.name, client, server, "IKE table full")
            return "ipsec_ike_table_full"
        external_ip = ctx.external_address_for(client)
        users = self._port500_users.get(external_ip, 0)
        if users == 0 and not ctx.reserve_port(ipv4.UDP, external_ip, IKE_PORT):
            # Port 500 is held by an ordinary mapping: this client cannot share it.
            self.monitor.refused(ctx, self.name, client, server, "external port 500 in use")
            return "ipsec_ike_port_busy"
        self._port500_users[external_ip] = users + 1
        entry = IkeEntry(client, server, spi, external_ip, ctx.now + IKE_UNREPLIED_TIMEOUT)
        self._ike_by_spi[(server, spi)] = entry
        entry.vpn = self.monitor.start(
            ctx, self.name, client, server, transport="ike", initiator_spi=spi.hex()
        )
        return entry

    def _ike_in(self, ctx: HelperContext, packet: bytearray, ihl: int, spi: bytes) -> list | str:
        server = bytes(packet[12:16])
        entry = self._ike_by_spi.get((server, spi))
        if entry is None or bytes(packet[16:20]) != entry.external_ip:
            self.monitor.unsolicited(ctx, self.name, server, IKE_PORT, IKE_PORT)
            return "ipsec_ike_unmatched"
        entry.replied = True
        entry.expires = ctx.now + IKE_REPLIED_TIMEOUT
        if entry.vpn is not None:
            entry.vpn.count(len(packet))
            responder = bytes(packet[ihl + 16 : ihl + 24])
            if any(responder):
                self.monitor.update_ids(entry.vpn, responder_spi=responder.hex())
        error = ikev2_error_notify(packet[ihl + 8 :])
        if error is not None:
            self.monitor.failed(ctx, self.name, entry.client, server, f"IKE notify {error}")
        return ctx.forward_inbound(packet, ihl, entry.client)

    def _end_ike(self, ctx: HelperContext, entry: IkeEntry, reason: str) -> None:
        if self._ike_by_spi.pop((entry.server, entry.initiator_spi), None) is None:
            return
        users = self._port500_users.get(entry.external_ip, 1) - 1
        if users <= 0:
            self._port500_users.pop(entry.external_ip, None)
            ctx.release_port(ipv4.UDP, entry.external_ip, IKE_PORT)
        else:
            self._port500_users[entry.external_ip] = users
        if entry.vpn is not None:
            self.monitor.end(ctx, entry.vpn, reason)

    # -- ESP and AH -------------------------------------------------------------------------

    def on_ip_packet(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int
    ) -> list | str:
        if packet[9] == ipv4.AH:
            lan, remote = (
                (packet[12:16], packet[16:20])
                if direction == OUTBOUND
                else (packet[16:20], packet[12:16])
            )
            self.monitor.refused(ctx, self.name, bytes(lan), bytes(remote), AH_REASON)
            return "ipsec_ah_unsupported"
        if len(packet) < ihl + 8:
            return "ipsec_esp_malformed"
        (spi,) = struct.unpack_from("!I", packet, ihl)
        if spi == 0:
            return "ipsec_esp_malformed"  # SPI 0 is reserved (RFC 4303 2.1)
        if direction == OUTBOUND:
            return self._esp_out(ctx, packet, ihl, spi)
        return self._esp_in(ctx, packet, ihl, spi)

    def _esp_out(self, ctx: HelperContext, packet: bytearray, ihl: int, spi: int) -> list | str:
        host, server = bytes(packet[12:16]), bytes(packet[16:20])
        entry = self._esp_by_outbound.get((host, server, spi))
        if entry is None:
            if len(self._esp_by_outbound) >= MAX_ENTRIES:
                self.monitor.refused(ctx, self.name, host, server, "ESP table full")
                return "ipsec_esp_table_full"
            entry = EspEntry(host, server, spi, ctx.now, ctx.now + ESP_UNREPLIED_TIMEOUT)
            self._esp_by_outbound[(host, server, spi)] = entry
            entry.vpn = self.monitor.start(
                ctx, self.name, host, server, transport="esp", outbound_spi=f"{spi:08x}"
            )
        else:
            timeout = (
                ESP_REPLIED_TIMEOUT if entry.inbound_spi is not None else ESP_UNREPLIED_TIMEOUT
            )
            entry.expires = ctx.now + timeout
        if entry.vpn is not None:
            entry.vpn.count(len(packet))
        return ctx.forward_outbound(packet, ihl, ctx.external_address_for(host))

    def _esp_in(self, ctx: HelperContext, packet: bytearray, ihl: int, spi: int) -> list | str:
        server = bytes(packet[12:16])
        entry = self._esp_by_inbound.get((server, spi))
        if entry is None:
            entry = self._oldest_waiting(server, bytes(packet[16:20]), ctx)
            if entry is None:
                self.monitor.unsolicited(ctx, self.name, server, 0, spi & 0xFFFF)
                return "ipsec_esp_unmatched"
            entry.inbound_spi = spi
            self._esp_by_inbound[(server, spi)] = entry
            if entry.vpn is not None:
                self.monitor.update_ids(entry.vpn, inbound_spi=f"{spi:08x}")
        entry.expires = ctx.now + ESP_REPLIED_TIMEOUT
        if entry.vpn is not None:
            entry.vpn.count(len(packet))
        return ctx.forward_inbound(packet, ihl, entry.host)

    def _oldest_waiting(
        self, server: bytes, external_ip: bytes, ctx: HelperContext
    ) -> EspEntry | None:
        waiting = [
            e
            for e in self._esp_by_outbound.values()
            if e.server == server
            and e.inbound_spi is None
            and e.expires > ctx.now
            and ctx.external_address_for(e.host) == external_ip
        ]
        return min(waiting, key=lambda e: e.created, default=None)

    def _end_esp(self, ctx: HelperContext, entry: EspEntry, reason: str) -> None:
        self._esp_by_outbound.pop((entry.host, entry.server, entry.outbound_spi), None)
        if entry.inbound_spi is not None:
            self._esp_by_inbound.pop((entry.server, entry.inbound_spi), None)
        if entry.vpn is not None:
            self.monitor.end(ctx, entry.vpn, reason)

    # -- ICMP errors about IKE and ESP (path MTU discovery) ---------------------------------

    def icmp_error_owner(self, ctx: HelperContext, embedded: bytes) -> bytes | None:
        ihl = (embedded[0] & 0x0F) << 2
        ext_ip, server = embedded[12:16], embedded[16:20]
        if embedded[9] == ipv4.ESP and len(embedded) >= ihl + 4:
            (spi,) = struct.unpack_from("!I", embedded, ihl)
            # A scan, not an index: errors are rare and the table is bounded (MAX_ENTRIES).
            for entry in self._esp_by_outbound.values():
                if (
                    (entry.server, entry.outbound_spi) == (server, spi)
                    and entry.expires > ctx.now
                    and ctx.external_address_for(entry.host) == ext_ip
                ):
                    return entry.host
            return None
        if embedded[9] != ipv4.UDP or embedded[ihl : ihl + 2] != IKE_PORT.to_bytes(2, "big"):
            return None
        if len(embedded) >= ihl + 8 + 8:  # the initiator SPI is quoted: exact
            entry = self._ike_by_spi.get((server, embedded[ihl + 8 : ihl + 16]))
            return entry.client if entry is not None and entry.external_ip == ext_ip else None
        # Only the UDP header is quoted: unambiguous only with one client on this server.
        clients = {
            e.client
            for e in self._ike_by_spi.values()
            if (e.server, e.external_ip) == (server, ext_ip)
        }
        return clients.pop() if len(clients) == 1 else None

    # -- NAT-T on UDP 4500: an ordinary mapping, watched ------------------------------------

    def on_session_start(self, ctx: HelperContext, flow: Flow) -> None:
        client, server = flow.internal[0], flow.remote[0]
        flow.state["vpn"] = self.monitor.start(ctx, self.name, client, server, transport="nat-t")

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        vpn: VpnSession = flow.state["vpn"]
        vpn.count(len(packet.buf))
        payload = packet.payload
        if payload[:4] == b"\0\0\0\0" and len(payload) >= 4 + IKE_HEADER:
            spi = payload[4:12].hex()  # IKE behind the non-ESP marker
            if "initiator_spi" not in vpn.ids:
                self.monitor.update_ids(vpn, initiator_spi=spi)
            if packet.direction == INBOUND:
                error = ikev2_error_notify(payload[4:])
                if error is not None:
                    self.monitor.failed(
                        ctx, self.name, flow.internal[0], flow.remote[0], f"IKE notify {error}"
                    )
        return None

    def on_session_end(self, ctx: HelperContext, flow: Flow) -> None:
        vpn = flow.state.get("vpn")
        if vpn is not None:
            self.monitor.end(ctx, vpn, "NAT-T mapping ended")

    # -- time and switching off -------------------------------------------------------------

    def on_time(self, ctx: HelperContext, now: float) -> None:
        for entry in [e for e in self._ike_by_spi.values() if e.expires <= now]:
            self._end_ike(ctx, entry, "IKE idle timeout")
        for esp in [e for e in self._esp_by_outbound.values() if e.expires <= now]:
            self._end_esp(ctx, esp, "ESP idle timeout")

    def on_disable(self, ctx: HelperContext) -> None:
        for entry in list(self._ike_by_spi.values()):
            self._end_ike(ctx, entry, "IPsec passthrough disabled")
        for esp in list(self._esp_by_outbound.values()):
            self._end_esp(ctx, esp, "IPsec passthrough disabled")
        self._port500_users.clear()


def ikev2_error_notify(ike: bytes | bytearray) -> int | None:
    """The first error Notify type in an IKEv2 response, if it carries one."""
    if len(ike) < IKE_HEADER or ike[17] >> 4 != 2 or not ike[19] & IKEV2_RESPONSE:
        return None
    next_payload, offset = ike[16], IKE_HEADER
    end = min(len(ike), int.from_bytes(ike[24:28], "big"))
    while next_payload and offset + 4 <= end:
        length = int.from_bytes(ike[offset + 2 : offset + 4], "big")
        if length < 4:
            return None
        if next_payload == NOTIFY_PAYLOAD and offset + 8 <= end:
            notify_type = int.from_bytes(ike[offset + 6 : offset + 8], "big")
            if notify_type < NOTIFY_ERROR_LIMIT:
                return notify_type
        next_payload, offset = ike[offset], offset + length
    return None
