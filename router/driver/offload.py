"""virtio-net headers (PACKET_VNET_HDR): offload metadata that rides with each frame.

With the header, the kernel hands us TSO/GRO super-frames of up to 64 KB with a partial
checksum (only the pseudo-header sum is filled in) instead of segmenting them, and
segments/finishes them again on transmit. One Python-handled packet then carries up to 44
MTU-sized segments: that is what makes a userspace datapath fast enough.
"""

from __future__ import annotations

import struct

VNET_HDR = struct.Struct("<BBHHHH")  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VNET_LEN = VNET_HDR.size  # 10
NEEDS_CSUM = 1
DATA_VALID = 2
GSO_NONE = 0
GSO_TCPV4 = 1
GSO_UDP = 3
GSO_ECN = 0x80
PLAIN = bytes(VNET_LEN)  # no offload: the packet is complete as it stands


def needs_checksum(hdr: bytes | memoryview) -> bool:
    return bool(hdr[0] & NEEDS_CSUM)


def is_gso(hdr: bytes | memoryview) -> bool:
    return hdr[1] & 0x7F != GSO_NONE


def pseudo_header_sum(packet: bytearray, ihl: int) -> int:
    """The folded, uncomplemented pseudo-header sum a partial checksum field must hold."""
    total = (
        (packet[12] << 8 | packet[13])
        + (packet[14] << 8 | packet[15])
        + (packet[16] << 8 | packet[17])
        + (packet[18] << 8 | packet[19])
        + packet[9]
        + (len(packet) - ihl)
    )
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def refill_partial(packet: bytearray, hdr: bytes) -> None:
    """After translation, make the partial checksum match the new addresses and length.

    The engine adjusts checksums as if they were complete (RFC 1624); a partial one only
    covers the pseudo-header, so it is simply recomputed: the NIC (or the kernel) sums the
    rest on the way out, whatever the engine did to ports or payload.
    """
    _, _, _, _, csum_start, csum_offset = VNET_HDR.unpack(hdr)
    ihl = (packet[0] & 0x0F) << 2
    offset = csum_start - 14 + csum_offset  # csum_start counts from the Ethernet header
    if offset + 2 <= len(packet):
        struct.pack_into("!H", packet, offset, pseudo_header_sum(packet, ihl))


def for_transmit(hdr: bytes, packet: bytearray, mtu: int) -> bytes:
    """The header to send ``packet`` with: DATA_VALID is receive-only, and GSO segments
    must fit the egress MTU (a smaller gso_size is what MSS clamping would have done)."""
    flags, gso_type, hdr_len, gso_size, csum_start, csum_offset = VNET_HDR.unpack(hdr)
    if gso_type & 0x7F:
        ihl = (packet[0] & 0x0F) << 2
        l4_header = ((packet[ihl + 12] >> 4) << 2) if packet[9] == 6 else 8
        if ihl + l4_header + gso_size > mtu:
            gso_size = mtu - ihl - l4_header
    return VNET_HDR.pack(flags & NEEDS_CSUM, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def complete_checksum(packet: bytearray, hdr: bytes) -> None:
    """Finish a partial checksum in software (before fragmenting or quoting a packet)."""
    _, _, _, _, csum_start, csum_offset = VNET_HDR.unpack(hdr)
    start = csum_start - 14
    offset = start + csum_offset
    if offset + 2 > len(packet):
        return
    ihl = (packet[0] & 0x0F) << 2
    struct.pack_into("!H", packet, offset, pseudo_header_sum(packet, ihl))
    total = int.from_bytes(packet[start:] + (b"\0" if (len(packet) - start) & 1 else b""), "big")
    folded = total % 0xFFFF or (0xFFFF if total else 0)
    value = ~folded & 0xFFFF
    if packet[9] == 17 and value == 0:
        value = 0xFFFF
    struct.pack_into("!H", packet, offset, value)
