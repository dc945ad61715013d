"""Packets for the fuzz targets, built without scapy (it costs milliseconds an exec).

The engine drops TCP/UDP/ICMP with a wrong checksum before any helper looks, so whatever the
fuzzer writes above the IP header gets a right checksum here: the bytes reach the parsers.
"""

from __future__ import annotations

import struct

from nat import ipv4

CLIENT = ipv4.addr("192.168.1.10")
SERVER = ipv4.addr("198.51.100.10")
PUBLIC = ipv4.addr("203.0.113.1")
CLIENT_PORT = 40000
TCP_HEADER = 20
# The handshake's numbers: data after it starts at these (see primed_engine).
CLIENT_ISN, SERVER_ISN = 1000, 9000


def ip_packet(src: bytes, dst: bytes, proto: int, body: bytes, ttl: int = 64) -> bytes:
    packet = ipv4.build_header(src, dst, proto, len(body), ttl=ttl) + body
    ipv4.transport_checksum(packet, 20, proto)
    return bytes(packet)


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    head = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return ip_packet(src, dst, ipv4.UDP, head + payload)


def tcp(
    src: bytes, dst: bytes, sport: int, dport: int, flags: int, seq: int, ack: int, payload=b""
) -> bytes:
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    return ip_packet(src, dst, ipv4.TCP, head + payload)


def icmp(src: bytes, dst: bytes, icmp_type: int, code: int, rest: int, body: bytes) -> bytes:
    return ip_packet(src, dst, ipv4.ICMP, struct.pack("!BBHI", icmp_type, code, 0, rest) + body)


SYN, SYN_ACK, ACK, PUSH_ACK = 0x02, 0x12, 0x10, 0x18
