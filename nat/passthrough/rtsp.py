"""RTSP ALG (RFC 2326, TCP 554): media ports for SETUP, closed again on TEARDOWN.

Enabled, for each complete RTSP message on a control connection to port 554:

* A client SETUP's Transport ``client_port`` moves outside: ``x`` (one port), ``x-y`` (an
  RTP/RTCP pair, kept adjacent outside) or ``x/y`` (two separate ports). External ports
  are the internal ones when free, else the next free (even, for a pair) ones. Each port
  gets an expectation admitting UDP from the server's address, for 300 s or until the
  control connection ends. At most 8 SETUPs per connection hold expectations at once.
* A 2xx reply whose Transport names a ``source=`` (RFC 2326 12.39: the media comes from
  another host than the RTSP server, a media server beside it) admits that address to the
  SETUP's ports too; a source inside the LAN is ignored.
* A ``destination=`` naming anything but our external address is removed, so a client
  cannot make the server stream at a third party (or at a private address).
* The server's reply gets the client's own ports back in its Transport, and its Session
  ties the SETUP's expectations to that session. A non-2xx reply removes them (and counts
  as a failed negotiation).
* TEARDOWN removes the expectations of the Session it names, or all of the connection's
  when it names none.
* Interleaved binary frames ($, channel, length) are skipped; only complete messages are
  rewritten (a message split across segments passes unchanged); the engine shifts later
  sequence numbers when a length changed.
* Monitor: one session per RTSP Session, from the first 2xx SETUP reply to TEARDOWN or the
  end of the control connection; counts are the control messages that name it.

Disabled (the default, RFC 4787 REQ-10): RTSP still passes, unrewritten, and nothing is
opened, so the server's UDP media is filtered like any unsolicited traffic (RTSP over TCP
interleaving still works). The helper detaches from each session at its first packet.

Limitations: IPv4 only; RTSP inside TLS or HTTP tunnelling is invisible; multicast
transports are left alone; media is admitted from the server's address (any port) and the
source= its reply names, from nobody else.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from nat import ipv4
from nat.direction import OUTBOUND
from nat.helpers import Flow, HelperContext, HelperPacket
from nat.passthrough.base import PassthroughHelper
from nat.passthrough.media import Reservation, reserve, reserve_pair
from nat.passthrough.monitor import VpnSession

RTSP_PORT = 554
MEDIA_TIMEOUT = 300.0
MAX_OUTSTANDING = 8  # SETUPs holding expectations, per control connection
MAX_PENDING = 32  # SETUPs waiting for their reply, per control connection
MAX_BODY = 65535

_REQUEST_LINE = re.compile(r"^([A-Z_]+) (\S+) RTSP/1\.\d$")
_STATUS_LINE = re.compile(r"^RTSP/1\.\d (\d{3})(?: .*)?$")
_DIGITS = re.compile(r"^\s*(\d{1,10})\s*$")
_SINGLE = re.compile(r"^(\d{1,5})$")
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_SEPARATE = re.compile(r"^(\d{1,5})/(\d{1,5})$")


# -- framing and parsing ---------------------------------------------------------------------


def split_stream(payload: bytes) -> tuple[list[bytes], bytes]:
    """Complete messages and interleaved frames of a segment, and the unfinished rest."""
    pieces: list[bytes] = []
    pos = 0
    while pos < len(payload):
        if payload[pos] == 0x24:  # '$': interleaved binary data (RFC 2326 10.12)
            if pos + 4 > len(payload):
                break
            stop = pos + 4 + int.from_bytes(payload[pos + 2 : pos + 4], "big")
        else:
            blank = payload.find(b"\r\n\r\n", pos)
            if blank < 0:
                break
            length = _content_length(payload[pos:blank])
            if length is None:
                break  # a Content-Length that is not a number: leave the rest alone
            stop = blank + 4 + length
        if stop > len(payload):
            break
        pieces.append(payload[pos:stop])
        pos = stop
    return pieces, payload[pos:]


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length":
            match = _DIGITS.match(value.decode("latin-1"))
            if not match or int(match.group(1)) > MAX_BODY:
                return None
            return int(match.group(1))
    return 0  # RFC 2326: no Content-Length, no body


@dataclass
class RtspMessage:
    lines: list[str]  # start line and header lines, as received
    rest: str  # blank line and body
    method: str = ""
    status: int = 0

    def header_index(self, name: str) -> int | None:
        for index, line in enumerate(self.lines[1:], 1):
            key, sep, _ = line.partition(":")
            if sep and key.strip().lower() == name:
                return index
        return None

    def header(self, name: str) -> str | None:
        index = self.header_index(name)
        return None if index is None else self.lines[index].partition(":")[2].strip()

    def set_header(self, index: int, value: str) -> None:
        key = self.lines[index].partition(":")[0]
        self.lines[index] = f"{key}: {value}"

    @property
    def cseq(self) -> str | None:
        value = self.header("cseq")
        return value if value and _DIGITS.match(value) else None

    @property
    def session(self) -> str | None:
        value = self.header("session")
        return value.split(";")[0].strip() or None if value else None

    def to_bytes(self) -> bytes:
        return ("\r\n".join(self.lines) + self.rest).encode("latin-1")


def parse(raw: bytes) -> RtspMessage | None:
    text = raw.decode("latin-1")
    head, sep, body = text.partition("\r\n\r\n")
    if not sep:
        return None
    message = RtspMessage(head.split("\r\n"), sep + body)
    request = _REQUEST_LINE.match(message.lines[0])
    status = _STATUS_LINE.match(message.lines[0])
    if request:
        message.method = request.group(1)
    elif status:
        message.status = int(status.group(1))
    else:
        return None
    return message if message.cseq is not None else None


# -- Transport ---------------------------------------------------------------------------------


def client_ports(spec: str) -> list[int] | None:
    """The ports a ``client_port`` value names: [x], [x, y] for x-y and x/y."""
    for form in (_SINGLE, _RANGE, _SEPARATE):
        match = form.match(spec.strip())
        if match:
            ports = [int(p) for p in match.groups()]
            if all(0 < p < 65536 for p in ports):
                return ports
    return None


def rewrite_transport(
    value: str, translate: Callable[[str], str | None], allowed_destination: str | None
) -> str:
    """Each transport spec of a Transport value: ``translate`` maps a client_port value to
    its replacement (or None to keep it); a destination= other than
    ``allowed_destination`` is dropped (None keeps every destination=)."""
    specs = []
    for spec in value.split(","):
        params = spec.split(";")
        multicast = any(p.strip().lower() == "multicast" for p in params)
        kept = []
        for param in params:
            key, eq, data = param.partition("=")
            name = key.strip().lower()
            foreign = allowed_destination is not None and data.strip() != allowed_destination
            if name == "destination" and foreign:
                continue
            if name == "client_port" and eq and not multicast:
                replacement = translate(data.strip())
                if replacement is not None:
                    param = f"{key}={replacement}"
            kept.append(param)
        specs.append(";".join(kept))
    return ",".join(specs)


def transport_sources(value: str) -> list[bytes]:
    """The unicast IPv4 ``source=`` addresses a reply's Transport names (RFC 2326 12.39: where
    the media comes from when that is not the RTSP server itself)."""
    found = []
    for spec in value.split(","):
        for param in spec.split(";"):
            key, eq, data = param.partition("=")
            if key.strip().lower() != "source" or not eq:
                continue
            try:
                address = ipaddress.IPv4Address(data.strip())
            except ValueError:
                continue
            if not (address.is_multicast or address.is_unspecified or address.is_loopback):
                found.append(address.packed)
    return found


# -- state -------------------------------------------------------------------------------------


@dataclass(eq=False)
class Stream:
    """The expectations one SETUP opened: internal port -> reservation."""

    cseq: str
    session: str | None
    reservations: dict[int, Reservation] = field(default_factory=dict)
    replied: bool = False

    def outside(self, ports: list[int], separator: str) -> str:
        return separator.join(str(self.reservations[p].external_port) for p in ports)

    def inside(self, external: list[int]) -> list[int] | None:
        by_external = {r.external_port: port for port, r in self.reservations.items()}
        found = [by_external.get(p) for p in external]
        return None if None in found else found  # type: ignore[return-value]


class RtspAlg(PassthroughHelper):
    name = "rtsp"
    tcp_ports = frozenset({RTSP_PORT})
    inspect_when_disabled = True  # RTSP passes while the ALG is off, only unrewritten
    title = "RTSP ALG"
    carries = "TCP 554 (control); RTP/RTCP over UDP on the ports SETUP announces"
    security = "Low-Moderate"
    use_case = "Streaming video, IP cameras"
    when_enabled = (
        "SETUP client ports are moved outside and opened to UDP from the server (and from "
        "the media source its reply names) only, foreign destination= parameters are "
        "stripped, TEARDOWN closes the ports again."
    )
    when_disabled = (
        "RTSP passes unrewritten and nothing is opened: UDP media from the server is "
        "filtered like any unsolicited traffic (interleaved RTSP over TCP still works)."
    )
    default_reason = (
        "Off (RFC 4787 REQ-10): ALGs stay off until needed; most RTSP players fall back to "
        "RTP over the TCP control connection, which needs no ALG."
    )

    # -- packets ----------------------------------------------------------------------------

    def on_session_start(self, ctx: HelperContext, flow: Flow) -> None:
        flow.state["streams"] = []
        flow.state["sessions"] = {}

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        if not ctx.is_enabled(self.name):
            packet.detach()  # ALG off: RTSP passes as it is, on the fast path from now on
            return None
        if flow.proto != ipv4.TCP:
            return None
        payload = packet.payload
        pieces, rest = split_stream(payload)
        outbound = packet.direction == OUTBOUND
        rewritten = b"".join(self._message(ctx, flow, piece, outbound) for piece in pieces)
        if rewritten + rest != payload:
            packet.replace_payload(rewritten + rest)
        return None

    def _message(self, ctx: HelperContext, flow: Flow, raw: bytes, outbound: bool) -> bytes:
        message = parse(raw) if raw[:1] != b"$" else None
        if message is None:
            return raw
        self._count(flow, message, len(raw))
        if outbound and message.method == "SETUP":
            self._setup(ctx, flow, message)
        elif outbound and message.method == "TEARDOWN":
            self._teardown(ctx, flow, message.session)
        elif not outbound and message.status:
            self._reply(ctx, flow, message)
        return message.to_bytes()

    def _count(self, flow: Flow, message: RtspMessage, size: int) -> None:
        vpn = flow.state["sessions"].get(message.session)
        if vpn is not None:
            vpn.count(size)

    # -- SETUP ------------------------------------------------------------------------------

    def _setup(self, ctx: HelperContext, flow: Flow, message: RtspMessage) -> None:
        index = message.header_index("transport")
        if index is None:
            return
        streams: list[Stream] = flow.state["streams"]
        live = [s for s in streams if self._holds_ports(ctx, s)]
        stream = Stream(str(message.cseq), message.session)
        external = ipv4.text(ctx.external_address_for(flow.internal[0]))

        def translate(spec: str) -> str | None:
            ports = client_ports(spec)
            if ports is None:
                return None
            if len(live) >= MAX_OUTSTANDING:
                self._refuse(ctx, flow, "too many outstanding SETUPs")
                return None
            separator = "-" if "-" in spec else "/"
            if not self._open(ctx, flow, stream, ports, separator):
                return None
            return stream.outside(ports, separator)

        value = message.header("transport") or ""
        message.set_header(index, rewrite_transport(value, translate, external))
        if stream.reservations:
            streams.append(stream)
            if len(streams) > MAX_PENDING:
                self._forget(ctx, flow, streams[0])

    def _open(
        self, ctx: HelperContext, flow: Flow, stream: Stream, ports: list[int], separator: str
    ) -> bool:
        if all(p in stream.reservations for p in ports):
            return True  # the same ports in another transport spec of this SETUP
        client, server = flow.internal[0], flow.remote[0]
        if len(ports) == 2 and separator == "-" and ports[1] == ports[0] + 1:
            pair = reserve_pair(ctx, flow, client, ports[0], server, MEDIA_TIMEOUT)
            if pair is not None:
                stream.reservations.update({ports[0]: pair[0], ports[1]: pair[1]})
                return True
        elif len(ports) == 1 or separator == "/":
            opened = [reserve(ctx, flow, (client, p), server, MEDIA_TIMEOUT, p) for p in ports]
            if all(opened):
                stream.reservations.update(zip(ports, opened, strict=True))  # type: ignore[arg-type]
                return True
            for reservation in opened:
                if reservation is not None:
                    reservation.remove(ctx)
        self._refuse(ctx, flow, f"no external ports for client_port {ports}")
        return False

    # -- replies and TEARDOWN ---------------------------------------------------------------

    def _reply(self, ctx: HelperContext, flow: Flow, message: RtspMessage) -> None:
        stream = next(
            (s for s in flow.state["streams"] if s.cseq == message.cseq and not s.replied), None
        )
        if stream is None:
            return
        stream.replied = True
        if not 200 <= message.status < 300:
            reason = f"SETUP answered {message.status}"
            self.monitor.failed(ctx, self.name, flow.internal[0], flow.remote[0], reason)
            self._forget(ctx, flow, stream)
            return
        stream.session = message.session or stream.session
        for source in transport_sources(message.header("transport") or ""):
            self._admit_source(ctx, flow, stream, source)
        self._restore_client_ports(message, stream)
        if stream.session is not None and stream.session not in flow.state["sessions"]:
            flow.state["sessions"][stream.session] = self.monitor.start(
                ctx, self.name, flow.internal[0], flow.remote[0], session=stream.session
            )

    def _admit_source(self, ctx: HelperContext, flow: Flow, stream: Stream, source: bytes) -> None:
        """The server says its media comes from ``source`` (a media server beside it): that
        address may reach the SETUP's ports too, for as long as the server may."""
        if source == flow.remote[0] or ipaddress.IPv4Address(source) in ctx.config.lan_network():
            return
        for port, reservation in stream.reservations.items():
            ctx.expect(flow, ipv4.UDP, (flow.internal[0], port), source, None,
                       max(0.0, reservation.until - ctx.now),
                       external_port=reservation.external_port)  # fmt: skip

    def _restore_client_ports(self, message: RtspMessage, stream: Stream) -> None:
        index = message.header_index("transport")
        if index is None:
            return

        def translate(spec: str) -> str | None:
            ports = client_ports(spec)
            inside = stream.inside(ports) if ports else None
            if inside is None:
                return None
            return ("-" if "-" in spec else "/").join(str(p) for p in inside)

        value = message.header("transport") or ""
        # Replies keep their destination=: only what the client asks for is filtered.
        message.set_header(index, rewrite_transport(value, translate, None))

    def _teardown(self, ctx: HelperContext, flow: Flow, session: str | None) -> None:
        streams: list[Stream] = flow.state["streams"]
        for stream in [s for s in streams if session is None or s.session == session]:
            self._forget(ctx, flow, stream)
        sessions: dict[str, VpnSession] = flow.state["sessions"]
        for name in [n for n in sessions if session is None or n == session]:
            self.monitor.end(ctx, sessions.pop(name), "TEARDOWN")

    def _forget(self, ctx: HelperContext, flow: Flow, stream: Stream) -> None:
        for reservation in stream.reservations.values():
            reservation.remove(ctx)
        stream.reservations.clear()
        streams: list[Stream] = flow.state["streams"]
        if stream in streams:
            streams.remove(stream)

    def _holds_ports(self, ctx: HelperContext, stream: Stream) -> bool:
        return any(r.until > ctx.now for r in stream.reservations.values())

    def _refuse(self, ctx: HelperContext, flow: Flow, reason: str) -> None:
        self.monitor.refused(ctx, self.name, flow.internal[0], flow.remote[0], reason)

    # -- the control connection ends --------------------------------------------------------

    def on_session_end(self, ctx: HelperContext, flow: Flow) -> None:
        # The engine removes the expectations with their parent connection.
        for stream in flow.state.get("streams", []):
            stream.reservations.clear()
        for vpn in flow.state.get("sessions", {}).values():
            self.monitor.end(ctx, vpn, "control connection ended")
        flow.state["sessions"] = {}

    def on_disable(self, ctx: HelperContext) -> None:
        self.monitor.end_all(ctx, self.name, "RTSP ALG disabled")
