"""SIP ALG (RFC 3261 over UDP and TCP 5060): address rewriting, media and registrations.

Enabled, for each complete SIP message of a session to or from port 5060:

* Outbound, wherever address:port equals this connection's own internal endpoint (no port
  means 5060), it becomes the external one: Request-URI, topmost Via (sent-by, maddr=,
  received=, rport=), every Contact, From and To. In the client's SDP (INVITE, UPDATE,
  ACK, PRACK, and 1xx/2xx answers to INVITE/UPDATE/PRACK) o=, c= and each m= port move
  outside, and Content-Length is recomputed. Compact header names (f, t, m, v, l, i, c...)
  are understood.
* Inbound, the external endpoint is restored where it appears: the Request-URI of incoming
  requests, the topmost Via of responses (sent-by, received=, rport=), Contact, From, To.
* Media: each m= line of the client's SDP gets an RTP expectation on its even port and an
  RTCP one on the next, admitting UDP from the signalling peer only (``sip_direct_media``,
  the default, as Linux's nf_conntrack_sip), or from any address when that setting is off
  (a provider's media servers or SBC at other addresses than its proxy); external ports are
  the internal ones when free, else the next free even pair. The client's media leaves
  from the announced ports from then on under every profile: under symmetric NAT a packet
  it sent before (a called phone's first RTCP, ahead of its 200 OK) had made an ordinary
  mapping on another port, which is replaced. At most 4 expectations per
  call, 180 s each, refreshed by every new offer or answer naming the same port. BYE, and
  any final answer >= 300 to an INVITE, remove the call's expectations; an error answer
  also counts as a failed negotiation for the VPN/ALG monitor.
* Registration: a 2xx to a REGISTER opens the signalling mapping to incoming requests from
  the registrar for the granted Expires (Contact expires= first, then Expires, else what
  the REGISTER asked for, else 3600 s); a granted Expires of 0 closes it again.
* TCP: several messages may share a segment; only complete ones (Content-Length present and
  the whole body there) are rewritten, a partial one passes unchanged. The engine shifts
  later sequence numbers when a length changed.
* Monitor: one session per call (Call-ID), from the first INVITE to BYE, an error answer to
  the first INVITE, an hour without signalling, or the ALG being switched off. Its counts
  are the call's signalling messages (media takes the fast path and is not counted).

Disabled (the default, RFC 4787 REQ-10): SIP still passes, unrewritten, and no expectation
is opened, so inbound media is filtered like any unsolicited traffic. The helper stays
attached while disabled (``inspect_when_disabled``) only to let the engine know SIP must
not be blocked; it detaches from each session at its first packet.

Why off by default: SIP ALGs are known to do harm. Rewriting REGISTER hides the NAT from the
registrar (it sends no keepalives and incoming calls die when the mapping goes), rewriting
addresses breaks ICE and clients that already handle NAT (STUN, rport, outbound proxies),
and "NAT Slipstreaming" tricked SIP ALGs into opening arbitrary ports. This ALG limits the
last: it only opens ports the client itself announced, for the signalling peer only (unless
``sip_direct_media`` is off).

Limitations: IPv4 only; SIP inside TLS (5061) is invisible; media from anyone but the
signalling peer (direct media between endpoints) is filtered unless ``sip_direct_media`` is
off; a=candidate (ICE) lines are
left alone; inbound SDP is not rewritten; a message split across TCP segments is not
rewritten; an expectation whose port was already released (permit expired and the reuse
delay passed) is forgotten rather than removed, since the port may belong to someone else
by then; registrations need endpoint-independent mapping (else the registrar's port would
differ from the Contact and the expectation is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nat import ipv4
from nat.direction import OUTBOUND, Direction
from nat.helpers import Flow, HelperContext, HelperPacket
from nat.passthrough.base import PassthroughHelper
from nat.passthrough.media import Reservation, reserve_pair
from nat.passthrough.monitor import VpnSession
from nat.passthrough.sip_message import (
    MediaLine,
    SipMessage,
    parse,
    rewrite_sdp,
    split_stream,
    translate_headers,
)

SIP_PORT = 5060
MEDIA_TIMEOUT = 180.0
MAX_MEDIA_EXPECTATIONS = 4  # per call: RTP and RTCP each count
CALL_IDLE_TIMEOUT = 3600.0  # a call with no signalling for this long is gone
DEFAULT_REGISTRATION = 3600
MAX_CALLS = 4096
MAX_REGISTRATIONS = 4096
MAX_PENDING_REGISTERS = 16  # per signalling session
OFFER_ANSWER_METHODS = frozenset({"INVITE", "UPDATE", "PRACK"})
SDP_REQUESTS = frozenset({"INVITE", "UPDATE", "ACK", "PRACK"})
ANY_ADDRESS = b""  # an expectation's remote prefix that admits every address


# -- calls and registrations ------------------------------------------------------------------


@dataclass(eq=False)
class Call:
    call_id: str
    client: bytes
    peer: bytes
    last_seen: float
    media: dict[int, tuple[Reservation, Reservation]] = field(default_factory=dict)
    established: bool = False
    vpn: VpnSession | None = None

    def expectation_count(self) -> int:
        return 2 * len(self.media)


@dataclass(eq=False)
class Registration:
    reservation: Reservation
    registrar: bytes
    client: bytes


class SipAlg(PassthroughHelper):
    name = "sip"
    tcp_ports = frozenset({SIP_PORT})
    udp_ports = frozenset({SIP_PORT})
    inspect_when_disabled = True  # SIP passes while the ALG is off, only unrewritten
    title = "SIP ALG"
    carries = "UDP and TCP 5060 (signalling); RTP/RTCP on the ports the SDP announces"
    security = "Moderate"
    use_case = "Video conferencing, VoIP phones"
    when_enabled = (
        "The client's private address is rewritten in SIP headers and SDP; RTP/RTCP from "
        "the signalling peer is admitted to announced media ports; a registrar may reach a "
        "registered client for the granted Expires."
    )
    when_disabled = (
        "SIP passes unrewritten and nothing is opened: inbound media is filtered like any "
        "unsolicited traffic; running calls lose their media expectations."
    )
    default_reason = (
        "Off (RFC 4787 REQ-10): SIP ALGs are known to cause harm: REGISTER rewriting hides "
        "the NAT from the registrar, address rewriting breaks ICE and NAT-aware clients, and "
        "NAT Slipstreaming abused SIP ALGs to open arbitrary ports."
    )

    def __init__(self, monitor=None):
        super().__init__(monitor)
        self._calls: dict[tuple[bytes, str], Call] = {}
        self._registrations: dict[tuple[int, bytes, int, bytes], Registration] = {}

    # -- packets ----------------------------------------------------------------------------

    def on_session_start(self, ctx: HelperContext, flow: Flow) -> None:
        flow.state["registers"] = {}

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        if not ctx.is_enabled(self.name):
            packet.detach()  # ALG off: SIP passes as it is, on the fast path from now on
            return None
        payload = packet.payload
        if flow.proto == ipv4.TCP:
            pieces, rest = split_stream(payload)
        else:
            pieces, rest = [payload], b""
        rewritten = b"".join(self._message(ctx, flow, piece, packet.direction) for piece in pieces)
        if rewritten + rest != payload:
            packet.replace_payload(rewritten + rest)
        return None

    def _message(self, ctx: HelperContext, flow: Flow, raw: bytes, direction: Direction) -> bytes:
        message = parse(raw)
        if message is None:
            return raw  # not (complete, sane) SIP: the endpoints deal with it
        outbound = direction == OUTBOUND
        internal = (ipv4.text(flow.internal[0]), flow.internal[1])
        external = (ipv4.text(flow.external[0]), flow.external[1])
        old, new = (internal, external) if outbound else (external, internal)
        translate_headers(message, old, new)
        call = self._call_for(ctx, flow, message)
        if call is not None:
            call.last_seen = ctx.now
            if call.vpn is not None:
                call.vpn.count(len(raw))
        if outbound and call is not None and _carries_sdp_offer_or_answer(message):
            message.body = rewrite_sdp(
                message.body, internal[0], external[0], self._media_opener(ctx, flow, call)
            )
        if message.is_request:
            self._request(ctx, flow, message, call, outbound)
        else:
            self._response(ctx, flow, message, call, outbound)
        return message.to_bytes()

    def _request(
        self,
        ctx: HelperContext,
        flow: Flow,
        message: SipMessage,
        call: Call | None,
        outbound: bool,
    ) -> None:
        if message.method == "BYE" and call is not None:
            self._end_call(ctx, call, "BYE")
        elif message.method == "REGISTER" and outbound:
            self._note_register(flow, message)

    def _response(
        self,
        ctx: HelperContext,
        flow: Flow,
        message: SipMessage,
        call: Call | None,
        outbound: bool,
    ) -> None:
        cseq = message.cseq
        assert cseq is not None  # parse() refuses messages without one
        method = cseq[1]
        if method == "REGISTER" and not outbound and 200 <= message.status < 300:
            self._registered(ctx, flow, message)
        if method != "INVITE" or call is None:
            return
        if 200 <= message.status < 300:
            call.established = True
        elif message.status >= 300:
            self._invite_failed(ctx, call, message.status)

    # -- calls and media --------------------------------------------------------------------

    def _call_for(self, ctx: HelperContext, flow: Flow, message: SipMessage) -> Call | None:
        call_id = message.call_id
        assert call_id is not None
        key = (flow.internal[0], call_id)
        call = self._calls.get(key)
        if call is not None or message.method != "INVITE":
            return call
        client, peer = flow.internal[0], flow.remote[0]
        if len(self._calls) >= MAX_CALLS:
            self.monitor.refused(ctx, self.name, client, peer, "SIP call table full")
            return None
        call = Call(call_id, client, peer, ctx.now)
        call.vpn = self.monitor.start(ctx, self.name, client, peer, call_id=call_id)
        self._calls[key] = call
        return call

    def _media_opener(
        self, ctx: HelperContext, flow: Flow, call: Call
    ) -> Callable[[MediaLine], tuple[int, int] | None]:
        def open_media(media: MediaLine) -> tuple[int, int] | None:
            if media.transport.upper().startswith("TCP"):
                return None  # media over TCP is an ordinary outbound connection
            rtp_port = media.port & ~1
            pair = self._refresh(ctx, call, rtp_port) or self._open(ctx, call, rtp_port)
            return (pair[0].external_port, pair[1].external_port) if pair else None

        return open_media

    def _refresh(
        self, ctx: HelperContext, call: Call, rtp_port: int
    ) -> tuple[Reservation, Reservation] | None:
        """A port the call already holds: the same external ports, for another 180 s."""
        pair = call.media.get(rtp_port)
        if pair is None or not all(r.safe_to_remove(ctx) for r in pair):
            call.media.pop(rtp_port, None)
            return None
        renewed = reserve_pair(ctx, None, call.client, rtp_port, _media_source(ctx, call),
                               MEDIA_TIMEOUT)  # fmt: skip
        if renewed is None:
            return None
        call.media[rtp_port] = renewed
        return renewed

    def _open(
        self, ctx: HelperContext, call: Call, rtp_port: int
    ) -> tuple[Reservation, Reservation] | None:
        if call.expectation_count() + 2 > MAX_MEDIA_EXPECTATIONS:
            self._refuse(ctx, call, f"media expectation limit reached (port {rtp_port})")
            return None
        pair = reserve_pair(ctx, None, call.client, rtp_port, _media_source(ctx, call),
                            MEDIA_TIMEOUT)  # fmt: skip
        if pair is None:
            self._refuse(ctx, call, f"no external ports for RTP/RTCP {rtp_port}")
            return None
        call.media[rtp_port] = pair
        ctx.log(
            "sip_media_expected",
            call_id=call.call_id,
            client=ipv4.text(call.client),
            peer=ipv4.text(call.peer),
            internal_port=rtp_port,
            external_port=pair[0].external_port,
        )
        return pair

    def _refuse(self, ctx: HelperContext, call: Call, reason: str) -> None:
        self.monitor.refused(ctx, self.name, call.client, call.peer, reason)

    def _invite_failed(self, ctx: HelperContext, call: Call, status: int) -> None:
        reason = f"INVITE answered {status}"
        self.monitor.failed(ctx, self.name, call.client, call.peer, reason)
        self._drop_media(ctx, call)
        if not call.established:
            self._end_call(ctx, call, reason)

    def _drop_media(self, ctx: HelperContext, call: Call) -> None:
        for pair in call.media.values():
            for reservation in pair:
                reservation.remove(ctx)
        call.media.clear()

    def _end_call(self, ctx: HelperContext, call: Call, reason: str) -> None:
        self._drop_media(ctx, call)
        if self._calls.get((call.client, call.call_id)) is call:
            del self._calls[(call.client, call.call_id)]
        if call.vpn is not None:
            self.monitor.end(ctx, call.vpn, reason)

    # -- registrations ----------------------------------------------------------------------

    def _note_register(self, flow: Flow, message: SipMessage) -> None:
        pending: dict = flow.state.setdefault("registers", {})
        if len(pending) >= MAX_PENDING_REGISTERS:
            pending.pop(next(iter(pending)))
        pending[(message.call_id, message.cseq)] = message.expires()

    def _registered(self, ctx: HelperContext, flow: Flow, message: SipMessage) -> None:
        pending: dict = flow.state.setdefault("registers", {})
        key = (message.call_id, message.cseq)
        if key not in pending:
            return  # no REGISTER of ours went out for this answer
        asked = pending.pop(key)
        granted = message.expires()
        expires = granted if granted is not None else asked
        if expires is None:
            expires = DEFAULT_REGISTRATION
        if expires == 0:
            self._unregister(ctx, flow)
        else:
            self._register(ctx, flow, expires)

    def _registration_key(self, flow: Flow) -> tuple[int, bytes, int, bytes]:
        return (flow.proto, flow.internal[0], flow.internal[1], flow.remote[0])

    def _register(self, ctx: HelperContext, flow: Flow, expires: int) -> None:
        client, registrar = flow.internal[0], flow.remote[0]
        key = self._registration_key(flow)
        if key not in self._registrations and len(self._registrations) >= MAX_REGISTRATIONS:
            self.monitor.refused(ctx, self.name, client, registrar, "registration table full")
            return
        wanted = flow.external[1]
        port = ctx.expect(
            None, flow.proto, flow.internal, registrar, None, expires, self, external_port=wanted
        )
        if port != wanted:
            if port is not None:  # a separate mapping would not match the Contact we sent
                ctx.unexpect(flow.proto, port, flow.external[0])
            self.monitor.refused(
                ctx, self.name, client, registrar, "registration needs the signalling mapping"
            )
            return
        reservation = Reservation(flow.proto, flow.external[0], port, flow.internal[1], 0.0)
        reservation.until = ctx.now + expires
        self._registrations[key] = Registration(reservation, registrar, client)
        ctx.log(
            "sip_registered",
            client=ipv4.text(client),
            registrar=ipv4.text(registrar),
            external_port=port,
            expires=expires,
        )

    def _unregister(self, ctx: HelperContext, flow: Flow) -> None:
        registration = self._registrations.pop(self._registration_key(flow), None)
        if registration is not None:
            registration.reservation.remove(ctx)
            ctx.log(
                "sip_unregistered",
                client=ipv4.text(registration.client),
                registrar=ipv4.text(registration.registrar),
            )

    # -- time and switching off -------------------------------------------------------------

    def on_time(self, ctx: HelperContext, now: float) -> None:
        for call in list(self._calls.values()):
            for rtp_port, pair in list(call.media.items()):
                if not all(r.safe_to_remove(ctx) for r in pair):
                    del call.media[rtp_port]  # lapsed long ago: the port is not ours now
            if call.last_seen + CALL_IDLE_TIMEOUT <= now:
                self._end_call(ctx, call, "no signalling for an hour")
        for key, registration in list(self._registrations.items()):
            if registration.reservation.until <= now:
                del self._registrations[key]  # the table lets the permit lapse by itself

    def on_disable(self, ctx: HelperContext) -> None:
        for call in list(self._calls.values()):
            self._end_call(ctx, call, "SIP ALG disabled")
        for registration in self._registrations.values():
            registration.reservation.remove(ctx)
        self._calls.clear()
        self._registrations.clear()


def _media_source(ctx: HelperContext, call: Call) -> bytes:
    """Whom a call's media expectations admit: its signalling peer (``sip_direct_media``,
    the default), else anyone (an empty prefix, which every address starts with)."""
    return call.peer if ctx.config.sip_direct_media else ANY_ADDRESS


def _carries_sdp_offer_or_answer(message: SipMessage) -> bool:
    if not message.has_sdp():
        return False
    if message.is_request:
        return message.method in SDP_REQUESTS
    cseq = message.cseq
    return cseq is not None and cseq[1] in OFFER_ANSWER_METHODS and 100 <= message.status < 300
