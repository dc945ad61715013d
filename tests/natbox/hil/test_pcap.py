"""A failing test keeps its slice of each link capture: the records in its time window, whole,
from a file tcpdump may still be writing."""

from __future__ import annotations

import struct

from natbox.hil.pcap import slice_capture

HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def record(seconds: float, payload: bytes) -> bytes:
    whole, micro = int(seconds), round((seconds % 1) * 1e6)
    return struct.pack("<IIII", whole, micro, len(payload), len(payload)) + payload


def test_only_the_window_is_kept(tmp_path):
    source, target = tmp_path / "wan.pcap", tmp_path / "slice.pcap"
    source.write_bytes(HEADER + record(100.0, b"a" * 60) + record(105.5, b"b" * 70)
                       + record(110.0, b"c" * 80))  # fmt: skip
    assert slice_capture(source, target, 105.0, 106.0) == 1
    assert target.read_bytes() == HEADER + record(105.5, b"b" * 70)


def test_a_record_cut_short_ends_the_slice(tmp_path):
    source, target = tmp_path / "lan.pcap", tmp_path / "slice.pcap"
    source.write_bytes(HEADER + record(1.0, b"x" * 40) + record(2.0, b"y" * 40)[:30])
    assert slice_capture(source, target, 0, 10) == 1
    assert target.read_bytes() == HEADER + record(1.0, b"x" * 40)


def test_an_empty_capture_gives_nothing(tmp_path):
    (tmp_path / "e.pcap").write_bytes(b"")
    assert slice_capture(tmp_path / "e.pcap", tmp_path / "s.pcap", 0, 1) == 0
