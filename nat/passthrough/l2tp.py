"""L2TP passthrough (RFC 2661) on UDP 1701.

L2TP is ordinary UDP NAT with one twist: the responder may answer from a different source
port than 1701 (RFC 2661 section 8.1), which address-and-port-dependent filtering would
drop. When a LAN client opens an L2TP session the helper lets that server reach the
client's mapping from any port for as long as the session lives.

L2TP/IPsec (RFC 3193) puts L2TP inside ESP, so its passthrough is really the IPsec helper's
(IKE + ESP or NAT-T): enable both. Two road warriors behind one NAT to one L2TP/IPsec
server only work if the server keys its policies by port (RFC 3948 section 5.2).

Disabled: UDP 1701 is dropped; running sessions end.
"""

from __future__ import annotations

import struct

from nat.direction import INBOUND
from nat.helpers import Flow, HelperContext, HelperPacket
from nat.passthrough.base import PassthroughHelper

L2TP_PORT = 1701
SESSION_TIMEOUT = 300.0
CONTROL = 0x8000
LENGTH_PRESENT = 0x4000
MESSAGE_TYPE_AVP = 0
STOP_CCN = 4
MESSAGE_NAMES = {
    1: "SCCRQ",
    2: "SCCRP",
    3: "SCCCN",
    4: "StopCCN",
    6: "HELLO",
    10: "ICRQ",
    12: "ICCN",
    14: "CDN",
}


class L2tpHelper(PassthroughHelper):
    name = "l2tp"
    udp_ports = frozenset({L2TP_PORT})
    title = "L2TP"
    carries = "UDP 1701 (with IPsec: also the IPsec helper's IKE/ESP/NAT-T)"
    security = "Moderate-High (with IPsec)"
    use_case = "Older enterprise VPNs, mobile devices"
    when_enabled = "UDP 1701 is NATed and the server may answer from another port (RFC 2661 8.1)."
    when_disabled = "UDP 1701 is dropped; running sessions end."
    default_reason = "Off: RFC 4787 REQ-10; enable it (with IPsec) for L2TP/IPsec clients."

    def on_session_start(self, ctx: HelperContext, flow: Flow) -> None:
        if flow.direction == INBOUND and flow.session is not flow.mapping:
            # The server answering from another port: part of the session the client opened
            # first, which sits inline in the mapping.
            opener = flow.mapping.extra
            flow.state["vpn"] = opener.helper_state.get("vpn") if opener is not None else None
            return
        client, server = flow.internal[0], flow.remote[0]
        flow.state["vpn"] = self.monitor.start(ctx, self.name, client, server)
        ctx.permit(flow, server, None, SESSION_TIMEOUT)

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        vpn = flow.state.get("vpn")
        if vpn is None:
            return None
        vpn.count(len(packet.buf))
        if packet.direction != INBOUND:
            ctx.permit(flow, flow.remote[0], None, SESSION_TIMEOUT)  # keep the door open
        header = parse_header(packet.payload)
        if header is None:
            return None
        tunnel_id, message_type = header
        key = "server_tunnel_id" if packet.direction != INBOUND else "client_tunnel_id"
        if tunnel_id and key not in vpn.ids:
            self.monitor.update_ids(vpn, **{key: tunnel_id})
        if packet.direction == INBOUND and message_type == STOP_CCN:
            self.monitor.failed(
                ctx, self.name, flow.internal[0], flow.remote[0], "server sent StopCCN"
            )
        return None

    def on_session_end(self, ctx: HelperContext, flow: Flow) -> None:
        vpn = flow.state.get("vpn")
        if vpn is not None and flow.session is flow.mapping:
            self.monitor.end(ctx, vpn, "L2TP mapping ended")


def parse_header(payload: bytes) -> tuple[int, int | None] | None:
    """(tunnel ID, control message type or None) of an L2TPv2 packet, None if not one."""
    if len(payload) < 6:
        return None
    (flags,) = struct.unpack_from("!H", payload)
    if flags & 0x000F != 2:
        return None
    offset = 2 + (2 if flags & LENGTH_PRESENT else 0)
    if len(payload) < offset + 4:
        return None
    (tunnel_id,) = struct.unpack_from("!H", payload, offset)
    offset += 4  # tunnel ID, session ID
    if not flags & CONTROL:
        return tunnel_id, None
    offset += 4  # Ns, Nr (always present on control messages)
    if len(payload) < offset + 8:
        return tunnel_id, None
    _, _, attribute, message_type = struct.unpack_from("!HHHH", payload, offset)
    return tunnel_id, message_type if attribute == MESSAGE_TYPE_AVP else None
