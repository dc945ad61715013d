"""IPv4 header layout, validation and the packets the router itself builds.

Everything works on ``bytes``/``bytearray`` with fixed offsets: no scapy in the datapath.
"""

from __future__ import annotations

import ipaddress
import struct

from nat import checksum

TCP = 6
UDP = 17
ICMP = 1
GRE = 47
ESP = 50
AH = 51

# Header field offsets.
TOTAL_LENGTH = 2
IDENT = 4
FLAGS_FRAG = 6
TTL = 8
PROTOCOL = 9
HEADER_CSUM = 10
SRC = 12
DST = 16

FLAG_DF = 0x4000
FLAG_MF = 0x2000
FRAG_OFFSET_MASK = 0x1FFF
# The same, seen in the single byte at FLAGS_FRAG (the fast path reads bytes, not words).
DF_BIT = FLAG_DF >> 8
MF_BIT = FLAG_MF >> 8
FRAG_OFFSET_HIGH = FRAG_OFFSET_MASK >> 8

# TCP flags.
FIN = 0x01
SYN = 0x02
RST = 0x04
ACK = 0x10

# ICMP types and codes the router uses.
ICMP_ECHO_REPLY = 0
ICMP_UNREACH = 3
ICMP_SOURCE_QUENCH = 4
ICMP_REDIRECT = 5
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11
ICMP_PARAM_PROBLEM = 12
ICMP_ERROR_TYPES = frozenset(
    {ICMP_UNREACH, ICMP_SOURCE_QUENCH, ICMP_REDIRECT, ICMP_TIME_EXCEEDED, ICMP_PARAM_PROBLEM}
)
UNREACH_PORT = 3
UNREACH_NEEDFRAG = 4
UNREACH_ADMIN_PROHIBITED = 13

# Offsets inside a TCP or UDP header (from its start, ihl bytes into the packet).
SRC_PORT = 0
DST_PORT = 2
UDP_LENGTH = 4
UDP_HEADER = 8
TCP_SEQ = 4
TCP_DATA_OFFSET = 12

MIN_HEADER = 20
DEFAULT_TTL = 64
# RFC 1812 4.3.2.3: an ICMP error should not exceed 576 bytes in all.
ICMP_ERROR_MAX = 576

_U16 = struct.Struct("!H")
_HEADER = struct.Struct("!BBHHHBBH4s4s")
_ICMP_HEADER = struct.Struct("!BBHHH")


def addr(text: str) -> bytes:
    """Dotted quad to four bytes."""
    return ipaddress.IPv4Address(text).packed


def text(raw: bytes) -> str:
    """Four bytes to a dotted quad."""
    return str(ipaddress.IPv4Address(bytes(raw)))


def header_length(buf: bytes | bytearray) -> int:
    return (buf[0] & 0x0F) << 2


def l4_checksum_offset(proto: int, ihl: int) -> int | None:
    """Where the transport checksum sits, for the protocols whose checksum covers ports."""
    if proto == TCP:
        return ihl + 16
    if proto == UDP:
        return ihl + 6
    if proto == ICMP:
        return ihl + 2
    return None


def build_header(
    src: bytes,
    dst: bytes,
    proto: int,
    payload_len: int,
    ident: int = 0,
    ttl: int = DEFAULT_TTL,
    flags_frag: int = 0,
) -> bytearray:
    """A 20-byte IPv4 header with its checksum filled in."""
    header = bytearray(
        _HEADER.pack(0x45, 0, 20 + payload_len, ident, flags_frag, ttl, proto, 0, src, dst)
    )
    _U16.pack_into(header, HEADER_CSUM, checksum.checksum(header))
    return header


def build_icmp_error(
    src: bytes, dst: bytes, icmp_type: int, code: int, original: bytes | bytearray, rest: int = 0
) -> bytes:
    """An ICMP error from the router quoting ``original`` (RFC 792, RFC 1812 4.3.2.3).

    ``rest`` fills the 32-bit word after the checksum (the next-hop MTU for 3/4).
    """
    quote_len = min(len(original), ICMP_ERROR_MAX - 28)
    body = bytearray(_ICMP_HEADER.pack(icmp_type, code, 0, rest >> 16, rest & 0xFFFF))
    body += original[:quote_len]
    _U16.pack_into(body, 2, checksum.checksum(body))
    return bytes(build_header(src, dst, ICMP, len(body)) + body)


def fragment(packet: bytes | bytearray, mtu: int) -> list[bytearray]:
    """Split a packet whose DF bit is clear into fragments that fit ``mtu`` (RFC 791)."""
    if len(packet) <= mtu:
        return [bytearray(packet)]
    ihl = header_length(packet)
    header = bytes(packet[:ihl])
    payload = packet[ihl:]
    (flags_frag,) = _U16.unpack_from(packet, FLAGS_FRAG)
    base_offset = flags_frag & FRAG_OFFSET_MASK
    last_has_more = flags_frag & FLAG_MF
    chunk = (mtu - ihl) & ~7
    if chunk <= 0:
        raise ValueError(f"MTU {mtu} cannot carry a {ihl}-byte header")
    pieces = []
    start = 0
    while start < len(payload):
        # Pieces before the last must be multiples of 8 bytes; the last takes what fits.
        last = len(payload) - start <= mtu - ihl
        data = payload[start:] if last else payload[start : start + chunk]
        more = last_has_more if last else FLAG_MF
        piece = bytearray(header) + data
        _U16.pack_into(piece, TOTAL_LENGTH, ihl + len(data))
        _U16.pack_into(piece, FLAGS_FRAG, more | (base_offset + start // 8))
        _U16.pack_into(piece, HEADER_CSUM, 0)
        _U16.pack_into(piece, HEADER_CSUM, checksum.checksum(piece[:ihl]))
        pieces.append(piece)
        start += len(data)
    return pieces


def transport_checksum(packet: bytearray, ihl: int, proto: int) -> None:
    """Recompute the TCP/UDP checksum (with pseudo-header) or the ICMP checksum in place."""
    segment_len = len(packet) - ihl
    offset = l4_checksum_offset(proto, ihl)
    if offset is None or segment_len < offset - ihl + 2:
        return
    packet[offset : offset + 2] = b"\0\0"
    if proto == ICMP:
        value = checksum.checksum(packet[ihl:])
    else:
        pseudo = bytes(packet[SRC : DST + 4]) + bytes([0, proto]) + segment_len.to_bytes(2, "big")
        value = checksum.checksum(pseudo + bytes(packet[ihl:]))
        if proto == UDP and value == 0:
            value = 0xFFFF
    _U16.pack_into(packet, offset, value)


def set_total_length(packet: bytearray, ihl: int) -> None:
    """Store the packet's length and recompute the header checksum from scratch."""
    _U16.pack_into(packet, TOTAL_LENGTH, len(packet))
    _U16.pack_into(packet, HEADER_CSUM, 0)
    _U16.pack_into(packet, HEADER_CSUM, checksum.checksum(packet[:ihl]))
