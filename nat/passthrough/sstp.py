"""SSTP passthrough: plain TCP 443 NAT, and a disable switch limited to what a NAT can see.

SSTP (Microsoft's Secure Socket Tunneling Protocol) runs inside TLS on TCP 443. Its
signature, the ``SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/`` request, is
encrypted, so a NAT cannot tell an SSTP VPN from any other HTTPS connection. natbox says so
plainly: with SSTP passthrough disabled it blocks only

* a cleartext SSTP_DUPLEX_POST (test servers without TLS), and
* TLS connections whose ClientHello names (SNI) one of the configured ``sstp_servers``.

Every other TCP 443 connection passes untouched: the helper looks at the first payload a
client sends and then steps aside (the session returns to the fast path). An SSTP VPN to a
server not in the list, or one that sends no SNI, is not blocked.

Enabled (the default, because nothing is rewritten and TLS is not ours to inspect): SSTP
connections the helper recognises are reported to the VPN monitor.
"""

from __future__ import annotations

from nat.direction import OUTBOUND
from nat.helpers import Flow, HelperContext, HelperPacket
from nat.passthrough.base import PassthroughHelper

SSTP_PORT = 443
DUPLEX_POST = b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"
TLS_HANDSHAKE = 0x16
CLIENT_HELLO = 0x01
SNI_EXTENSION = 0


class SstpHelper(PassthroughHelper):
    name = "sstp"
    tcp_ports = frozenset({SSTP_PORT})
    default_enabled = True
    inspect_when_disabled = True
    title = "SSTP"
    carries = "TCP 443 (inside TLS)"
    security = "High (TLS)"
    use_case = "Windows remote-access VPN over HTTPS (not in the article's table)"
    when_enabled = "Plain TCP NAT; recognised SSTP sessions are reported to the VPN monitor."
    when_disabled = (
        "Blocks only what a NAT can see: a cleartext SSTP_DUPLEX_POST, or TLS whose SNI names "
        "a configured SSTP server. Other SSTP inside TLS cannot be told from HTTPS and passes."
    )
    default_reason = (
        "On: it is plain TCP NAT with nothing rewritten; disabling it cannot block SSTP "
        "reliably because the protocol is hidden inside TLS."
    )

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        state = flow.state
        if state.get("blocked"):
            return "sstp_disabled"
        if "vpn" in state:
            state["vpn"].count(len(packet.buf))
            return None
        if packet.direction != OUTBOUND or packet.payload_offset >= len(packet.buf):
            return None  # wait for the client's first bytes
        how = recognise(packet.payload, ctx.config.sstp_servers)
        if how is None:
            packet.detach()  # not SSTP: back to the fast path for good
            return None
        client, server = flow.internal[0], flow.remote[0]
        if not ctx.is_enabled(self.name):
            state["blocked"] = True
            state["identified"] = True
            self.monitor.refused(
                ctx, self.name, client, server, f"SSTP passthrough disabled ({how})"
            )
            return "sstp_disabled"
        state["identified"] = True
        state["vpn"] = self.monitor.start(ctx, self.name, client, server, recognised_by=how)
        state["vpn"].count(len(packet.buf))
        return None

    def should_tear_down(self, flow: Flow) -> bool:
        return bool(flow.state.get("identified"))

    def on_session_end(self, ctx: HelperContext, flow: Flow) -> None:
        vpn = flow.state.get("vpn")
        if vpn is not None:
            self.monitor.end(ctx, vpn, "TCP connection ended")


def recognise(payload: bytes, sstp_servers: tuple[str, ...]) -> str | None:
    """How a client's first bytes give SSTP away, if they do."""
    if payload.startswith(DUPLEX_POST):
        return "cleartext SSTP_DUPLEX_POST"
    name = client_hello_sni(payload)
    if name is not None and name.lower().rstrip(".") in {s.lower() for s in sstp_servers}:
        return f"TLS SNI {name}"
    return None


def client_hello_sni(data: bytes) -> str | None:
    """The server name a TLS ClientHello asks for (RFC 6066), if the record holds one."""
    if len(data) < 9 or data[0] != TLS_HANDSHAKE or data[5] != CLIENT_HELLO:
        return None
    end = min(len(data), 5 + int.from_bytes(data[3:5], "big"))
    offset = 9 + 2 + 32  # record header, handshake header, version, random
    try:
        offset += 1 + data[offset]  # session id
        offset += 2 + int.from_bytes(data[offset : offset + 2], "big")  # cipher suites
        offset += 1 + data[offset]  # compression methods
        extensions_end = min(end, offset + 2 + int.from_bytes(data[offset : offset + 2], "big"))
        offset += 2
        while offset + 4 <= extensions_end:
            kind = int.from_bytes(data[offset : offset + 2], "big")
            length = int.from_bytes(data[offset + 2 : offset + 4], "big")
            body = data[offset + 4 : offset + 4 + length]
            if kind == SNI_EXTENSION and len(body) >= 5 and body[2] == 0:
                name_length = int.from_bytes(body[3:5], "big")
                return body[5 : 5 + name_length].decode("ascii", "replace")
            offset += 4 + length
    except IndexError:
        return None
    return None
