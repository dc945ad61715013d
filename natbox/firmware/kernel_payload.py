"""How the firmware carries its kernel, and how the boot stage turns that back into a file
QEMU boots.

``linux-vmlinux-zstd``: the kernel ELF (booted through its PVH entry), zstd-compressed;
unpacking it on the host takes about 0.1 s. ``linux-bzimage``: a bzImage as Debian ships it,
booted as is (older firmware, and the small firmware files the tests build).
"""

from __future__ import annotations

import zstandard

VMLINUX_ZSTD = "linux-vmlinux-zstd"
BZIMAGE = "linux-bzimage"
# 19: the strongest level whose window (8 MiB) every decoder handles without --long.
LEVEL = 19


class KernelPayloadError(ValueError):
    pass


def pack(elf: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=LEVEL, write_checksum=True).compress(elf)


def bootable(kind: str, data: bytes) -> bytes:
    """The bytes to hand QEMU's -kernel for a payload of this type."""
    if kind == VMLINUX_ZSTD:
        try:
            return zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError as error:
            raise KernelPayloadError(f"kernel payload does not unpack: {error}") from error
    if kind == BZIMAGE:
        return data
    raise KernelPayloadError(f"kernel payload type {kind!r} is not bootable here")
