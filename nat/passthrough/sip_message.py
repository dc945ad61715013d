"""SIP and SDP text for the SIP ALG: framing, parsing, and address rewriting.

Pure functions over text, no engine state. Messages are decoded as Latin-1, so any byte
sequence survives a parse and a re-encode unchanged; what does not look like SIP is
reported as ``None`` and the caller passes it through untouched.

* Framing: a UDP datagram is one message; a TCP segment may hold several, and only the
  complete ones (headers and a Content-Length body) are offered for rewriting. The
  unfinished remainder comes back as it was.
* Header names are matched case-insensitively, compact forms included (f, t, m, v, l, i,
  c, ...). Unchanged header lines are re-emitted byte for byte.
* Rewriting replaces an address only where address:port equals the given endpoint (a
  missing port counts as 5060), never a longer address that merely starts the same.
* SDP: o=, c= and m= lines are rewritten; a=candidate (ICE) lines are deliberately left
  alone, because rewriting them is what breaks ICE.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

SIP_PORT = 5060
MAX_CONTENT_LENGTH = 65535  # nothing larger fits in a datagram or is worth buffering

COMPACT_NAMES = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
}

_REQUEST_LINE = re.compile(r"^([A-Z][A-Z0-9._!%*+`'~-]*) (\S+) (SIP/2\.0)$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d)(?: (.*))?$")
_CSEQ = re.compile(r"^\s*(\d{1,10})\s+([A-Za-z]+)\s*$")
_DIGITS = re.compile(r"^\s*(\d{1,10})\s*$")
_EXPIRES_PARAM = re.compile(r";\s*expires\s*=\s*(\d{1,10})", re.IGNORECASE)


Endpoint = tuple[str, int]  # dotted quad, port


def canonical(name: str) -> str:
    lowered = name.strip().lower()
    return COMPACT_NAMES.get(lowered, lowered)


@dataclass
class Header:
    prefix: str  # the name, colon and spacing exactly as received
    value: str

    @property
    def name(self) -> str:
        return canonical(self.prefix.split(":", 1)[0])


@dataclass
class SipMessage:
    start_line: str
    headers: list[Header]
    body: str
    trailer: str = ""  # datagram bytes beyond Content-Length, kept as they were
    method: str = ""  # requests
    uri: str = ""
    status: int = 0  # responses
    line_end: str = "\r\n"
    original_body: str = field(default="", repr=False)

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def values(self, name: str) -> list[Header]:
        wanted = canonical(name)
        return [h for h in self.headers if h.name == wanted]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0].value if found else None

    @property
    def call_id(self) -> str | None:
        value = self.first("call-id")
        return value.strip() if value and value.strip() else None

    @property
    def cseq(self) -> tuple[int, str] | None:
        value = self.first("cseq")
        match = _CSEQ.match(value or "")
        return (int(match.group(1)), match.group(2).upper()) if match else None

    @property
    def content_length(self) -> int | None:
        value = self.first("content-length")
        match = _DIGITS.match(value or "")
        return int(match.group(1)) if match else None

    def expires(self) -> int | None:
        """The registration lifetime this message states: a Contact's expires= parameter,
        else the Expires header."""
        for header in self.values("contact"):
            match = _EXPIRES_PARAM.search(header.value)
            if match:
                return int(match.group(1))
        match = _DIGITS.match(self.first("expires") or "")
        return int(match.group(1)) if match else None

    def set_uri(self, uri: str) -> None:
        if uri != self.uri:
            self.uri = uri
            self.start_line = f"{self.method} {uri} SIP/2.0"

    def has_sdp(self) -> bool:
        content_type = (self.first("content-type") or "").lower()
        return "application/sdp" in content_type or (
            not content_type and self.body.startswith("v=")
        )

    def to_bytes(self) -> bytes:
        if self.body != self.original_body:
            for header in self.values("content-length"):
                header.value = str(len(self.body.encode("latin-1")))
        end = self.line_end
        lines = [self.start_line] + [h.prefix + h.value for h in self.headers]
        text = end.join(lines) + end + end + self.body + self.trailer
        return text.encode("latin-1")


# -- framing -------------------------------------------------------------------------------


def split_stream(payload: bytes) -> tuple[list[bytes], bytes]:
    """A TCP segment's complete messages (and CRLF keepalives), and the unfinished rest."""
    pieces: list[bytes] = []
    pos = 0
    while pos < len(payload):
        if payload.startswith(b"\r\n", pos):  # keepalive (RFC 5626) or separator
            end = pos
            while payload.startswith(b"\r\n", end):
                end += 2
            pieces.append(payload[pos:end])
            pos = end
            continue
        stop = message_end(payload, pos)
        if stop is None:
            break
        pieces.append(payload[pos:stop])
        pos = stop
    return pieces, payload[pos:]


def message_end(payload: bytes, start: int, length_required: bool = True) -> int | None:
    """Where the message starting at ``start`` ends, or None if it is not all here."""
    blank = payload.find(b"\r\n\r\n", start)
    if blank < 0:
        return None
    body_start = blank + 4
    length = _content_length(payload[start:blank])
    if length is None:
        if length_required:
            return None  # a stream message without Content-Length cannot be framed
        length = 0
    if length > MAX_CONTENT_LENGTH or body_start + length > len(payload):
        return None
    return body_start + length


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and canonical(name.decode("latin-1")) == "content-length":
            match = _DIGITS.match(value.decode("latin-1"))
            return int(match.group(1)) if match else None
    return None


# -- parsing -------------------------------------------------------------------------------


def parse(raw: bytes) -> SipMessage | None:
    """A SIP request or response, or None when ``raw`` is not one we can safely rewrite."""
    text = raw.decode("latin-1")
    head, sep, rest = text.partition("\r\n\r\n")
    if not sep:
        return None
    lines = head.split("\r\n")
    headers = _headers(lines[1:])
    if headers is None:
        return None
    message = SipMessage(lines[0], headers, rest)
    if not _start_line(message):
        return None
    length = message.content_length
    if message.first("content-length") is not None and length is None:
        return None  # a Content-Length that is not a number
    if length is not None:
        if length > len(rest.encode("latin-1")):
            return None  # claims more body than arrived (RFC 3261 18.3: discard)
        message.body, message.trailer = rest[:length], rest[length:]
    message.original_body = message.body
    if message.call_id is None or message.cseq is None:
        return None  # not a usable SIP message: leave it to the endpoints
    return message


def _headers(lines: list[str]) -> list[Header] | None:
    headers: list[Header] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not headers:
                return None
            headers[-1].value += "\r\n" + line  # folded continuation line
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            return None
        stripped = value.lstrip(" \t")
        headers.append(Header(line[: len(line) - len(stripped)], stripped))
    return headers


def _start_line(message: SipMessage) -> bool:
    request = _REQUEST_LINE.match(message.start_line)
    if request:
        message.method, message.uri = request.group(1), request.group(2)
        return True
    status = _STATUS_LINE.match(message.start_line)
    if status:
        message.status = int(status.group(1))
        return True
    return False


# -- address rewriting ---------------------------------------------------------------------


def _address_pattern(address: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(address)}(?![\w.])(?::(\d{{1,5}})(?!\d))?")


def replace_endpoint(text: str, old: Endpoint, new: Endpoint) -> str:
    """Replace ``old`` address:port by ``new`` wherever both match (no port means 5060)."""
    old_ip, old_port = old
    new_ip, new_port = new

    def swap(match: re.Match[str]) -> str:
        given = match.group(1)
        if (int(given) if given else SIP_PORT) != old_port:
            return match.group(0)
        if given or new_port != SIP_PORT:
            return f"{new_ip}:{new_port}"
        return new_ip

    return _address_pattern(old_ip).sub(swap, text)


def replace_address(text: str, old_ip: str, new_ip: str) -> str:
    """Replace a bare address (SDP lines, Via received=/maddr=), whatever follows it."""
    return re.sub(rf"(?<![\w.]){re.escape(old_ip)}(?![\w.])", new_ip, text)


def rewrite_via(value: str, old: Endpoint, new: Endpoint) -> str:
    """The topmost Via entry of a Via header value: sent-by, maddr=, received=, rport=."""
    top, comma, others = value.partition(",")
    sent, semicolon, params = top.partition(";")
    matched = _address_pattern(old[0]).search(sent) is not None
    sent = replace_endpoint(sent, old, new)
    rewritten = []
    for param in params.split(";") if semicolon else []:
        key, _, data = param.partition("=")
        name = key.strip().lower()
        if name in ("received", "maddr") and data.strip() == old[0]:
            matched = True
            param = f"{key}={new[0]}"
        rewritten.append(param)
    for index, param in enumerate(rewritten):
        key, _, data = param.partition("=")
        if matched and key.strip().lower() == "rport" and data.strip() == str(old[1]):
            rewritten[index] = f"{key}={new[1]}"
    top = sent + (";" + ";".join(rewritten) if semicolon else "")
    return top + comma + others


def translate_headers(message: SipMessage, old: Endpoint, new: Endpoint) -> None:
    """Request-URI, topmost Via, every Contact, From and To: ``old`` becomes ``new``."""
    if message.is_request:
        message.set_uri(replace_endpoint(message.uri, old, new))
    vias = message.values("via")
    if vias:
        vias[0].value = rewrite_via(vias[0].value, old, new)
    for name in ("contact", "from", "to"):
        for header in message.values(name):
            header.value = replace_endpoint(header.value, old, new)


# -- SDP -----------------------------------------------------------------------------------


@dataclass
class MediaLine:
    index: int  # line number of the m= line
    kind: str
    port: int
    transport: str
    address: str | None  # the connection address that applies (media c= or session c=)


def sdp_lines(body: str) -> tuple[list[str], str]:
    end = "\r\n" if "\r\n" in body else "\n"
    return body.split(end), end


def media_lines(lines: list[str]) -> list[MediaLine]:
    """Each m= line with the connection address that applies to it."""
    session_address: str | None = None
    media: list[MediaLine] = []
    for index, line in enumerate(lines):
        if line.startswith("c="):
            address = _connection_address(line)
            if media:
                media[-1].address = address
            else:
                session_address = address
        elif line.startswith("m="):
            parts = line[2:].split()
            if len(parts) < 3:
                continue
            port = parts[1].split("/")[0]
            # isdigit() alone passes "³", which int() refuses: ASCII digits only.
            if not (port.isascii() and port.isdigit()) or int(port) > 65535:
                continue
            media.append(MediaLine(index, parts[0], int(port), parts[2], session_address))
    return media


def _connection_address(line: str) -> str | None:
    parts = line[2:].split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] != "IP4":
        return None
    return parts[2].split("/")[0]


def rewrite_sdp(
    body: str,
    internal_ip: str,
    external_ip: str,
    open_media: Callable[[MediaLine], tuple[int, int] | None],
) -> str:
    """Rewrite the client's SDP: ``open_media`` gives each of its media lines (RTP port,
    RTCP port) on the outside, or None to leave that line alone."""
    lines, end = sdp_lines(body)
    for media in media_lines(lines):
        if media.address != internal_ip or media.port == 0:
            continue
        ports = open_media(media)
        if ports is None:
            continue
        lines[media.index] = _replace_media_port(lines[media.index], ports[0] + (media.port & 1))
        _rewrite_rtcp_attribute(lines, media, ports[1])
    for index, line in enumerate(lines):
        if line.startswith(("o=", "c=", "a=rtcp:")):
            lines[index] = _replace_last_address(line, internal_ip, external_ip)
    return end.join(lines)


# An m= line split as media_lines splits it (any whitespace): what precedes the port, the port.
_MEDIA_PORT = re.compile(r"m=\s*\S+\s+([0-9]+)")


def _replace_media_port(line: str, port: int) -> str:
    """The port of an m= line replaced; the rest (a /<number of ports>, the protocol and
    formats) kept byte for byte. Tokenised as media_lines does: a stray LF inside the line
    once made the two disagree (found by fuzzing)."""
    match = _MEDIA_PORT.match(line)
    if match is None:  # media_lines accepted no such line: nothing to rewrite
        return line
    return line[: match.start(1)] + str(port) + line[match.end(1) :]


def _rewrite_rtcp_attribute(lines: list[str], media: MediaLine, rtcp_port: int) -> None:
    """An a=rtcp: naming the stream's RTCP port (RFC 3605) follows it outside."""
    expected = f"a=rtcp:{(media.port & ~1) + 1}"
    for index in range(media.index + 1, len(lines)):
        line = lines[index]
        if line.startswith("m="):
            return
        if line == expected or line.startswith(expected + " "):
            lines[index] = f"a=rtcp:{rtcp_port}" + line[len(expected) :]


def _replace_last_address(line: str, old_ip: str, new_ip: str) -> str:
    parts = line.split(" ")
    if len(parts) >= 3 and parts[-2] == "IP4":
        address, slash, ttl = parts[-1].partition("/")
        if address == old_ip:
            parts[-1] = new_ip + slash + ttl
    return " ".join(parts)
