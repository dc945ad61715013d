"""Minimal IPv4 packet builders for the self-check and benchmarks (no scapy at run time)."""

from __future__ import annotations

import struct

from nat.checksum import checksum
from nat.ipv4 import ICMP, TCP, UDP, addr, build_header

SYN, ACK, PSH = 0x02, 0x10, 0x08


def segment(
    proto: int,
    src: str,
    sport: int,
    dst: str,
    dport: int,
    flags: int = PSH | ACK,
    payload: bytes = b"",
    ttl: int = 64,
) -> bytes:
    """A TCP or UDP packet with correct checksums."""
    if proto == TCP:
        l4 = bytearray(struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, flags, 65535, 0, 0))
        csum_at = 16
    elif proto == UDP:
        l4 = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0))
        csum_at = 6
    else:
        raise ValueError(f"not TCP or UDP: {proto}")
    l4 += payload
    pseudo = addr(src) + addr(dst) + bytes([0, proto]) + len(l4).to_bytes(2, "big")
    struct.pack_into("!H", l4, csum_at, checksum(pseudo + l4))
    return bytes(build_header(addr(src), addr(dst), proto, len(l4), ttl=ttl) + l4)


def echo(src: str, dst: str, ident: int, reply: bool = False, payload: bytes = b"ping") -> bytes:
    body = bytearray(struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, 1)) + payload
    struct.pack_into("!H", body, 2, checksum(body))
    return bytes(build_header(addr(src), addr(dst), ICMP, len(body)) + body)
