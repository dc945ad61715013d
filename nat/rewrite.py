"""Header rewriting with incremental checksum updates (RFC 1624). The datapath's inner loop.

A mapping carries the checksum deltas of its translation (host address and port), so a
rewrite is a few slice stores and two additions. Forwarding decrements the TTL, which is
folded into the header checksum delta as the constant 0xFEFF (the word TTL<<8|proto
drops by 0x100).
"""

from __future__ import annotations

from nat import checksum
from nat.mapping import Mapping

TTL_DELTA = 0xFEFF


def fold(value: int) -> int:
    value = (value & 0xFFFF) + (value >> 16)
    return (value & 0xFFFF) + (value >> 16)


def _apply(buf: bytearray, offset: int, delta: int) -> None:
    total = (~(buf[offset] << 8 | buf[offset + 1]) & 0xFFFF) + delta
    total = (total & 0xFFFF) + (total >> 16)
    total = ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF
    buf[offset] = total >> 8
    buf[offset + 1] = total & 0xFF


def _apply_udp(buf: bytearray, offset: int, delta: int) -> None:
    if buf[offset] or buf[offset + 1]:  # zero means "no checksum" and stays zero
        _apply(buf, offset, delta)
        if not (buf[offset] or buf[offset + 1]):
            buf[offset] = buf[offset + 1] = 0xFF


def source_out(buf: bytearray, ihl: int, proto: int, mapping: Mapping) -> None:
    """LAN -> WAN: internal source address and port become the external ones."""
    host = mapping.host
    buf[12:16] = host.ext_ip
    buf[8] -= 1
    _apply(buf, 10, host.d_addr + TTL_DELTA)
    if proto == 6:
        buf[ihl : ihl + 2] = mapping.in_key[5:7]
        _apply(buf, ihl + 16, host.d_addr + mapping.d_port)
    elif proto == 17:
        buf[ihl : ihl + 2] = mapping.in_key[5:7]
        _apply_udp(buf, ihl + 6, host.d_addr + mapping.d_port)
    else:  # ICMP echo: the identifier plays the port; no pseudo-header in the checksum
        buf[ihl + 4 : ihl + 6] = mapping.in_key[5:7]
        _apply(buf, ihl + 2, mapping.d_port)


def destination_in(buf: bytearray, ihl: int, proto: int, mapping: Mapping) -> None:
    """WAN -> LAN: external destination address and port become the internal ones."""
    host = mapping.host
    buf[16:20] = host.int_ip
    buf[8] -= 1
    d_addr = checksum.negate(host.d_addr)
    _apply(buf, 10, d_addr + TTL_DELTA)
    if proto == 6:
        buf[ihl + 2 : ihl + 4] = mapping.out_key[5:7]
        _apply(buf, ihl + 16, fold(d_addr + checksum.negate(mapping.d_port)))
    elif proto == 17:
        buf[ihl + 2 : ihl + 4] = mapping.out_key[5:7]
        _apply_udp(buf, ihl + 6, fold(d_addr + checksum.negate(mapping.d_port)))
    else:
        buf[ihl + 4 : ihl + 6] = mapping.out_key[5:7]
        _apply(buf, ihl + 2, checksum.negate(mapping.d_port))


def address(buf: bytearray, offset: int, new: bytes, csum_offsets: tuple[int, ...] = ()) -> None:
    """Replace the address at ``offset``; fix the header and any given checksums."""
    delta = checksum.words_delta(bytes(buf[offset : offset + 4]), new)
    buf[offset : offset + 4] = new
    _apply(buf, 10, delta)
    for csum_offset in csum_offsets:
        _apply_udp(buf, csum_offset, delta)


def decrement_ttl(buf: bytearray) -> None:
    buf[8] -= 1
    _apply(buf, 10, TTL_DELTA)


def restore_ttl(buf: bytearray) -> None:
    buf[8] += 1
    _apply(buf, 10, checksum.negate(TTL_DELTA))


def field(
    buf: bytearray, offset: int, new: bytes, csum_offset: int | None, udp_style: bool = False
) -> None:
    """Replace a 16-bit-aligned field and fix one checksum that covers it."""
    delta = checksum.words_delta(bytes(buf[offset : offset + len(new)]), new)
    buf[offset : offset + len(new)] = new
    if csum_offset is not None:
        (_apply_udp if udp_style else _apply)(buf, csum_offset, delta)


def endpoint(
    buf: bytearray, ihl: int, source: bool, new_addr: bytes | None, new_port: int | None = None
) -> None:
    """Rewrite the source or destination address (and TCP/UDP port) of any packet, fixing
    the header checksum and, when the packet carries a transport header, its checksum."""
    addr_at = 12 if source else 16
    d_addr = 0
    if new_addr is not None:
        d_addr = checksum.words_delta(bytes(buf[addr_at : addr_at + 4]), new_addr)
        buf[addr_at : addr_at + 4] = new_addr
        _apply(buf, 10, d_addr)
    proto = buf[9]
    later_fragment = buf[6] & 0x1F or buf[7]
    if later_fragment or proto not in (6, 17) or len(buf) < ihl + (20 if proto == 6 else 8):
        return
    delta = d_addr
    if new_port is not None:
        port_at = ihl if source else ihl + 2
        new = new_port.to_bytes(2, "big")
        delta = fold(delta + checksum.words_delta(bytes(buf[port_at : port_at + 2]), new))
        buf[port_at : port_at + 2] = new
    if proto == 6:
        _apply(buf, ihl + 16, delta)
    else:
        _apply_udp(buf, ihl + 6, delta)
