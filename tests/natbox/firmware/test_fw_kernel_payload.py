"""The firmware's kernel payload: packed by the build, unpacked by the boot stage."""

from __future__ import annotations

import pytest

from natbox.firmware import kernel_payload as kp

pytestmark = pytest.mark.unit


def test_vmlinux_payload_round_trips_and_is_smaller() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 400
    packed = kp.pack(elf)
    assert len(packed) < len(elf) // 10
    assert kp.bootable(kp.VMLINUX_ZSTD, packed) == elf


def test_bzimage_payload_is_booted_as_is() -> None:
    assert kp.bootable(kp.BZIMAGE, b"bzImage bytes") == b"bzImage bytes"


def test_corrupt_or_unknown_payload_is_a_clear_error() -> None:
    packed = bytearray(kp.pack(b"\x7fELF" + bytes(5000)))
    packed[-6] ^= 0xFF  # inside the frame's data and checksum
    with pytest.raises(kp.KernelPayloadError, match="does not unpack"):
        kp.bootable(kp.VMLINUX_ZSTD, bytes(packed))
    with pytest.raises(kp.KernelPayloadError, match="not bootable"):
        kp.bootable("linux-uimage", b"whatever")
