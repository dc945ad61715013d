"""Unwrapping a bzImage into its PVH-bootable ELF, on small hand-made kernels."""

from __future__ import annotations

import lzma
import struct

import lz4.block
import pytest

from natbox.imagebuild import vmlinux

pytestmark = pytest.mark.unit


def fake_elf(note_type: int = vmlinux.PVH_NOTE_TYPE, size: int = 0) -> bytes:
    """A 64-bit ELF header, one PT_NOTE program header and one Xen note (+ filler)."""
    note = struct.pack("<III", 4, 4, note_type) + b"Xen\0" + b"\x00\x10\x00\x01"
    header = bytearray(64)
    header[:5] = b"\x7fELF\x02"
    struct.pack_into("<Q", header, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", header, 0x36, 56, 1)  # e_phentsize, e_phnum
    phdr = struct.pack("<IIQQQQQQ", 4, 0, 64 + 56, 0, 0, len(note), len(note), 4)
    return bytes(header) + phdr + note + bytes(range(256)) * (size // 256)


def lz4_legacy(data: bytes) -> bytes:
    out = [vmlinux.LZ4_LEGACY_MAGIC]
    for i in range(0, len(data), vmlinux.LZ4_LEGACY_BLOCK):
        block = lz4.block.compress(data[i : i + vmlinux.LZ4_LEGACY_BLOCK], store_size=False)
        out += [struct.pack("<I", len(block)), block]
    return b"".join(out) + struct.pack("<I", len(data))  # the kernel's size trailer


def fake_bzimage(payload: bytes, setup_sects: int = 3, offset: int = 100) -> bytes:
    image = bytearray((setup_sects + 1) * 512 + offset)
    image[0x1F1] = setup_sects
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", image, 0x206, 0x020F)
    struct.pack_into("<II", image, 0x248, offset, len(payload))
    return bytes(image) + payload + b"\xaa" * 64  # bytes after the payload are ignored


def test_lz4_kernel_spanning_several_blocks_comes_back_whole() -> None:
    elf = fake_elf(size=9 << 20)  # more than one 8 MiB legacy block
    assert vmlinux.extract(fake_bzimage(lz4_legacy(elf))) == elf


def test_xz_kernel_is_unwrapped_too() -> None:
    elf = fake_elf(size=4096)
    assert vmlinux.extract(fake_bzimage(lzma.compress(elf, check=lzma.CHECK_CRC32))) == elf


def test_kernel_without_pvh_entry_is_refused_with_the_reason() -> None:
    image = fake_bzimage(lz4_legacy(fake_elf(note_type=5)))
    with pytest.raises(vmlinux.NotABzImage, match="CONFIG_PVH"):
        vmlinux.extract(image)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (b"MZ" + bytes(2000), "HdrS"),
        (fake_bzimage(b"\x01\x02\x03\x04rest"), "unknown kernel compression"),
        (fake_bzimage(lz4_legacy(b"not an elf at all")), "not an ELF"),
        (fake_bzimage(b"x" * 10)[:-80], "past the end"),
    ],
)
def test_what_is_not_a_usable_bzimage_says_why(image: bytes, reason: str) -> None:
    with pytest.raises(vmlinux.NotABzImage, match=reason):
        vmlinux.extract(image)
