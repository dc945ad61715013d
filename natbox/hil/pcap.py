"""A test's share of a link capture: the packets of a pcap file (classic libpcap format, as
tcpdump -w writes it) whose timestamps fall in [start, end]. A session keeps one capture per
link running; a failing test keeps its slice."""

from __future__ import annotations

import struct
from pathlib import Path

HEADER = 24
NANO_MAGIC = 0xA1B23C4D


def slice_capture(source: Path, target: Path, start: float, end: float) -> int:
    """Write the packets of ``source`` captured between ``start`` and ``end`` (Unix time) to
    ``target``; returns how many. A capture cut short mid-record (tcpdump still writing)
    ends at its last whole record."""
    data = source.read_bytes()
    if len(data) < HEADER:
        return 0
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic in (0xA1B2C3D4, NANO_MAGIC) else ">"
    record = struct.Struct(endian + "IIII")
    scale = 1e-9 if struct.unpack_from(endian + "I", data)[0] == NANO_MAGIC else 1e-6
    kept, count, offset = [data[:HEADER]], 0, HEADER
    while offset + record.size <= len(data):
        seconds, fraction, captured, _ = record.unpack_from(data, offset)
        stop = offset + record.size + captured
        if stop > len(data):
            break
        if start <= seconds + fraction * scale <= end:
            kept.append(data[offset:stop])
            count += 1
        offset = stop
    target.write_bytes(b"".join(kept))
    return count
