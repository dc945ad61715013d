"""The crafted ESP peer's packets: what a NAT sees of ESP (SPI, sequence) survives the trip."""

import socket
import struct

from natbox.peers import esp


def _ip(payload: bytes, source: str) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, esp.PROTOCOL, 0,
                         socket.inet_aton(source), socket.inet_aton("192.168.1.101"))  # fmt: skip
    return header + payload


def test_a_packet_reads_back_as_it_was_built():
    packet = _ip(esp.esp(0xC0FFEE01, 7, b"reply-to:00001001"), "198.51.100.10")
    assert esp.parse(packet) == ("198.51.100.10", 0xC0FFEE01, 7, b"reply-to:00001001")
