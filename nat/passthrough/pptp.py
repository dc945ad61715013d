"""PPTP passthrough (RFC 2637): the TCP 1723 control connection and enhanced GRE.

The control connection is ordinary NAT plus Call ID translation. Client (PNS) Call IDs are
replaced by NAT-unique IDs on the way out (Outgoing-Call-Request 7, Incoming-Call-Reply 10,
Call-Clear-Request 12) and restored on the way in (Peer's Call ID in Outgoing-Call-Reply 8,
Incoming-Call-Connected 11, WAN-Error-Notify 14, Set-Link-Info 15). Server Call IDs are
never touched. So several LAN clients may use the same Call ID towards the same server at
once, and any number of calls share one control connection (Linux supports one).

GRE version 1 carries the receiver's Call ID in its key. Outbound GRE keeps its key (the
server's Call ID) and gets the public source address; inbound GRE is matched by (server,
NAT Call ID) and gets the client's address and original Call ID back. GRE for a call is
admitted only once the server reported it connected (8 with result 1, or 11), and closed on
Call-Disconnect-Notify (13), on Stop-Control-Connection (3 or 4, either side), and when the
control connection closes (FIN or RST: not minutes later, when its mapping expires).

Disabled: TCP 1723 and IP protocol 47 are dropped, running calls are torn down.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from nat import ipv4
from nat.direction import OUTBOUND, Direction
from nat.helpers import Flow, HelperContext, HelperPacket
from nat.passthrough.base import PassthroughHelper
from nat.passthrough.monitor import VpnSession

PPTP_PORT = 1723
MAGIC = 0x1A2B3C4D
CONTROL_MESSAGE = 1
HEADER = 12  # length, message type, magic cookie, control type, reserved

OUTGOING_CALL_REQUEST = 7
OUTGOING_CALL_REPLY = 8
INCOMING_CALL_REQUEST = 9
INCOMING_CALL_REPLY = 10
INCOMING_CALL_CONNECTED = 11
CALL_CLEAR_REQUEST = 12
CALL_DISCONNECT_NOTIFY = 13
WAN_ERROR_NOTIFY = 14
SET_LINK_INFO = 15
STOP_CONTROL_REQUEST = 3
STOP_CONTROL_REPLY = 4

# RFC 2637 message sizes: anything shorter is not the structure it claims to be.
MESSAGE_SIZES = {
    1: 156,
    2: 156,
    3: 16,
    4: 16,
    5: 16,
    6: 20,
    7: 168,
    8: 32,
    9: 220,
    10: 24,
    11: 28,
    12: 16,
    13: 148,
    14: 40,
    15: 24,
}
RESULT_CONNECTED = 1
GRE_PROTOCOL_PPP = 0x880B
TCP_FLAGS = 13  # the flags byte's offset in the TCP header
GRE_KEY = 0x2000
GRE_UNREPLIED_TIMEOUT = 600.0
GRE_REPLIED_TIMEOUT = 5 * 3600.0
MAX_CALLS = 4096

_U16 = struct.Struct("!H")


@dataclass(eq=False)
class Call:
    client: bytes
    server: bytes
    client_call_id: int
    nat_call_id: int
    control: dict[str, Any]  # the control session's helper state
    server_call_id: int | None = None
    connected: bool = False
    replied: bool = False
    expires: float = 0.0
    vpn: VpnSession | None = None


class PptpHelper(PassthroughHelper):
    name = "pptp"
    tcp_ports = frozenset({PPTP_PORT})
    ip_protocols = frozenset({ipv4.GRE})
    title = "PPTP"
    carries = "TCP 1723 (control), IP protocol 47 (enhanced GRE)"
    security = "Very Low"
    use_case = "Legacy Windows dial-up, old devices"
    when_enabled = (
        "Call IDs of each LAN client are made unique per server; GRE for a call is admitted "
        "once the server reports it connected, and closed when the call or control ends."
    )
    when_disabled = "TCP 1723 and GRE are dropped; running calls are torn down."
    default_reason = (
        "Off: PPTP's security is rated very low and RFC 4787 REQ-10 wants helpers off until "
        "someone needs them."
    )
    enable_warning = (
        "PPTP's security is rated very low: its weak encryption is broken quickly by modern "
        "attacks. Use it only as a last resort for non-critical traffic, and switch it off after."
    )

    def __init__(self, monitor=None):
        super().__init__(monitor)
        self._by_nat_id: dict[tuple[bytes, int], Call] = {}
        self._by_server_id: dict[tuple[bytes, bytes, int], Call] = {}

    # -- control connection -----------------------------------------------------------------

    def on_session_start(self, ctx: HelperContext, flow: Flow) -> None:
        flow.state["calls"] = {}

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        payload = bytearray(packet.payload)
        changed = False
        offset = 0
        while offset + HEADER <= len(payload):
            length, message_type, magic, control_type = struct.unpack_from("!HHIH", payload, offset)
            if length < HEADER or offset + length > len(payload) or magic != MAGIC:
                break  # not PPTP framing, or split across segments: leave it alone
            if message_type == CONTROL_MESSAGE and length >= MESSAGE_SIZES.get(control_type, 0):
                body = offset + HEADER
                if packet.direction == OUTBOUND:
                    changed |= self._outbound(ctx, flow, payload, body, control_type)
                else:
                    changed |= self._inbound(ctx, flow, payload, body, control_type)
            offset += length
        if changed:
            packet.replace_payload(bytes(payload))
        if packet.buf[packet.ihl + TCP_FLAGS] & (ipv4.FIN | ipv4.RST):
            self._end_calls(ctx, flow, "control connection closed")
        return None

    def _outbound(
        self, ctx: HelperContext, flow: Flow, payload: bytearray, body: int, kind: int
    ) -> bool:
        calls: dict[int, Call] = flow.state["calls"]
        if kind in (OUTGOING_CALL_REQUEST, INCOMING_CALL_REPLY):
            (client_id,) = _U16.unpack_from(payload, body)
            call = calls.get(client_id) or self._new_call(ctx, flow, client_id)
            if call is None:
                return False
            if kind == INCOMING_CALL_REPLY:
                (call.server_call_id,) = _U16.unpack_from(payload, body + 2)
            _U16.pack_into(payload, body, call.nat_call_id)
            return True
        if kind in (STOP_CONTROL_REQUEST, STOP_CONTROL_REPLY):
            self._end_calls(ctx, flow, "control connection stopped")
            return False
        if kind in (CALL_CLEAR_REQUEST, CALL_DISCONNECT_NOTIFY):
            (client_id,) = _U16.unpack_from(payload, body)
            call = calls.get(client_id)
            if call is None:
                return False
            _U16.pack_into(payload, body, call.nat_call_id)
            if kind == CALL_DISCONNECT_NOTIFY:
                self._end_call(ctx, call, "client disconnected")
            return True
        return False

    def _inbound(
        self, ctx: HelperContext, flow: Flow, payload: bytearray, body: int, kind: int
    ) -> bool:
        server = flow.remote[0]
        if kind == OUTGOING_CALL_REPLY:
            server_id, nat_id = struct.unpack_from("!HH", payload, body)
            call = self._by_nat_id.get((server, nat_id))
            if call is None:
                return False
            _U16.pack_into(payload, body + 2, call.client_call_id)
            if payload[body + 4] == RESULT_CONNECTED:
                call.server_call_id = server_id
                self._connect(ctx, call)
            else:
                reason = f"outgoing call refused by server (result {payload[body + 4]})"
                self.monitor.failed(ctx, self.name, call.client, server, reason)
                self._end_call(ctx, call, reason)
            return True
        if kind in (INCOMING_CALL_CONNECTED, WAN_ERROR_NOTIFY, SET_LINK_INFO):
            (nat_id,) = _U16.unpack_from(payload, body)
            call = self._by_nat_id.get((server, nat_id))
            if call is None:
                return False
            _U16.pack_into(payload, body, call.client_call_id)
            if kind == INCOMING_CALL_CONNECTED:
                self._connect(ctx, call)
            return True
        if kind == CALL_DISCONNECT_NOTIFY:
            # RFC 2637 puts the server's own Call ID here; some servers answer a
            # Call-Clear-Request with the peer's (ours): either ends that call.
            (call_id,) = _U16.unpack_from(payload, body)
            calls = list(flow.state["calls"].values())
            ended = [c for c in calls if c.server_call_id == call_id]
            for call in ended or [c for c in calls if c.nat_call_id == call_id]:
                self._end_call(ctx, call, "server disconnected the call")
            return False
        if kind in (STOP_CONTROL_REQUEST, STOP_CONTROL_REPLY):
            self._end_calls(ctx, flow, "control connection stopped")
        return False

    def on_session_end(self, ctx: HelperContext, flow: Flow) -> None:
        self._end_calls(ctx, flow, "control connection ended")

    def _end_calls(self, ctx: HelperContext, flow: Flow, reason: str) -> None:
        for call in list(flow.state.get("calls", {}).values()):
            self._end_call(ctx, call, reason)

    # -- calls ------------------------------------------------------------------------------

    def _new_call(self, ctx: HelperContext, flow: Flow, client_id: int) -> Call | None:
        client, server = flow.internal[0], flow.remote[0]
        if len(self._by_nat_id) >= MAX_CALLS:
            self.monitor.refused(ctx, self.name, client, server, "pptp call table full")
            return None
        nat_id = self._free_nat_id(server, client_id)
        if nat_id is None:
            self.monitor.refused(ctx, self.name, client, server, "no free PPTP call ID")
            return None
        call = Call(
            client, server, client_id, nat_id, flow.state, expires=ctx.now + GRE_UNREPLIED_TIMEOUT
        )
        flow.state["calls"][client_id] = call
        self._by_nat_id[(server, nat_id)] = call
        return call

    def _free_nat_id(self, server: bytes, wanted: int) -> int | None:
        if wanted and (server, wanted) not in self._by_nat_id:
            return wanted
        for candidate in range(1, 65536):
            if (server, candidate) not in self._by_nat_id:
                return candidate
        return None

    def _connect(self, ctx: HelperContext, call: Call) -> None:
        if call.connected:
            return
        call.connected = True
        call.expires = ctx.now + GRE_UNREPLIED_TIMEOUT
        if call.server_call_id is not None:
            self._by_server_id[(call.client, call.server, call.server_call_id)] = call
        call.vpn = self.monitor.start(
            ctx,
            self.name,
            call.client,
            call.server,
            client_call_id=call.client_call_id,
            nat_call_id=call.nat_call_id,
            server_call_id=call.server_call_id,
        )

    def _end_call(self, ctx: HelperContext, call: Call, reason: str) -> None:
        call.control["calls"].pop(call.client_call_id, None)
        if self._by_nat_id.get((call.server, call.nat_call_id)) is call:
            del self._by_nat_id[(call.server, call.nat_call_id)]
        key = (call.client, call.server, call.server_call_id)
        if self._by_server_id.get(key) is call:
            del self._by_server_id[key]
        if call.vpn is not None:
            self.monitor.end(ctx, call.vpn, reason)

    # -- GRE --------------------------------------------------------------------------------

    def on_ip_packet(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int
    ) -> list | str:
        if len(packet) < ihl + 4:
            return "pptp_gre_malformed"
        flags_version, protocol = struct.unpack_from("!HH", packet, ihl)
        if flags_version & 0x7 != 1 or protocol != GRE_PROTOCOL_PPP or not flags_version & GRE_KEY:
            return "pptp_gre_unsupported"  # plain GRE (version 0) is not PPTP's
        if len(packet) < ihl + 8:
            return "pptp_gre_malformed"
        (key_call_id,) = _U16.unpack_from(packet, ihl + 6)
        if direction == OUTBOUND:
            call = self._by_server_id.get((bytes(packet[12:16]), bytes(packet[16:20]), key_call_id))
            if call is None or not call.connected:
                return "pptp_gre_unmatched"
            self._refresh(ctx, call, len(packet), replied=False)
            return ctx.forward_outbound(packet, ihl, ctx.external_address_for(call.client))
        server = bytes(packet[12:16])
        call = self._by_nat_id.get((server, key_call_id))
        if call is None or not call.connected:
            self.monitor.unsolicited(ctx, self.name, server, 0, key_call_id)
            return "pptp_gre_unmatched"
        self._refresh(ctx, call, len(packet), replied=True)
        _U16.pack_into(packet, ihl + 6, call.client_call_id)  # GRE v1 has no checksum
        return ctx.forward_inbound(packet, ihl, call.client)

    def icmp_error_owner(self, ctx: HelperContext, embedded: bytes) -> bytes | None:
        """A quoted outbound GRE packet carries the server's call ID, as the client sent it."""
        ihl = (embedded[0] & 0x0F) << 2
        if embedded[9] != ipv4.GRE or len(embedded) < ihl + 8:
            return None
        (flags_version,) = _U16.unpack_from(embedded, ihl)
        if flags_version & 0x7 != 1 or not flags_version & GRE_KEY:
            return None
        (server_call_id,) = _U16.unpack_from(embedded, ihl + 6)
        ext_ip, server = embedded[12:16], embedded[16:20]
        for (client, call_server, call_id), call in self._by_server_id.items():
            if (
                (call_server, call_id) == (server, server_call_id)
                and call.connected
                and ctx.external_address_for(client) == ext_ip
            ):
                return client
        return None

    def _refresh(self, ctx: HelperContext, call: Call, size: int, replied: bool) -> None:
        call.replied = call.replied or replied
        timeout = GRE_REPLIED_TIMEOUT if call.replied else GRE_UNREPLIED_TIMEOUT
        call.expires = ctx.now + timeout
        if call.vpn is not None:
            call.vpn.count(size)

    def on_time(self, ctx: HelperContext, now: float) -> None:
        for call in [c for c in self._by_nat_id.values() if c.connected and c.expires <= now]:
            self._end_call(ctx, call, "GRE idle timeout")

    def on_disable(self, ctx: HelperContext) -> None:
        for call in list(self._by_nat_id.values()):
            self._end_call(ctx, call, "PPTP passthrough disabled")
        self._by_nat_id.clear()
        self._by_server_id.clear()
