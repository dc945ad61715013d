"""Unwrap Debian's bzImage into the kernel ELF inside it (vmlinux), for direct PVH boot.

Why: the bzImage carries an LZ4-compressed kernel (fast to unpack, poor ratio: 14 MB) that
the guest unpacks itself, slowly under TCG. QEMU boots the ELF straight through its PVH entry
(CONFIG_PVH), so the firmware can carry the ELF compressed as tightly as we like and the boot
stage (our bootloader) unpacks it on the host: about 5 MB smaller, about 0.3 s faster.

Where the payload is: the setup header's payload_offset/payload_length (boot protocol 2.08+),
counted from the protected-mode code that follows the setup sectors.
"""

from __future__ import annotations

import struct

import lz4.block

from natbox.imagebuild import cpio

ELF_MAGIC = b"\x7fELF"
LZ4_LEGACY_MAGIC = b"\x02\x21\x4c\x18"
LZ4_LEGACY_BLOCK = 8 << 20  # every block but the last unpacks to exactly this
PVH_NOTE_TYPE = 18  # XEN_ELFNOTE_PHYS32_ENTRY: QEMU boots the ELF through it


class NotABzImage(ValueError):
    pass


def payload(bzimage: bytes) -> bytes:
    """The compressed kernel inside a bzImage, as the setup header places it."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        raise NotABzImage("no 'HdrS' setup header: not a bzImage")
    (version,) = struct.unpack_from("<H", bzimage, 0x206)
    if version < 0x0208:
        raise NotABzImage(f"boot protocol {version:#x} has no payload fields (needs 2.08)")
    setup_sects = bzimage[0x1F1] or 4
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if start + length > len(bzimage):
        raise NotABzImage("payload runs past the end of the file")
    return bzimage[start : start + length]


def _lz4_legacy(data: bytes) -> bytes:
    """The kernel's LZ4 "legacy" stream: [size u32][block]... then the kernel's own 4-byte
    uncompressed-size trailer (which no block can be this short)."""
    out, pos = [], len(LZ4_LEGACY_MAGIC)
    while pos + 4 < len(data):
        if data[pos : pos + 4] == LZ4_LEGACY_MAGIC:  # a concatenated stream
            pos += 4
            continue
        (size,) = struct.unpack_from("<I", data, pos)
        pos += 4
        out.append(lz4.block.decompress(data[pos : pos + size], uncompressed_size=LZ4_LEGACY_BLOCK))
        pos += size
    return b"".join(out)


def decompress(data: bytes) -> bytes:
    """LZ4 legacy (Debian's choice) here; zstd, xz and gzip as the initramfs step reads them."""
    if data.startswith(LZ4_LEGACY_MAGIC):
        return _lz4_legacy(data)
    try:
        return cpio.decompress(data)
    except ValueError as error:  # an unknown magic
        raise NotABzImage(f"unknown kernel compression (magic {data[:4].hex()})") from error


def has_pvh_entry(elf: bytes) -> bool:
    """True when a Xen-owned note of type PHYS32_ENTRY is present (64-bit ELF notes)."""
    if not elf.startswith(ELF_MAGIC) or elf[4] != 2:
        return False
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize
        )
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, n_type = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and n_type == PVH_NOTE_TYPE:
                return True
            pos += 12 + (namesz + 3 & ~3) + (descsz + 3 & ~3)
    return False


def extract(bzimage: bytes) -> bytes:
    """The bootable kernel ELF, or a clear error when this kernel cannot be booted by PVH."""
    elf = decompress(payload(bzimage))
    if not elf.startswith(ELF_MAGIC):
        raise NotABzImage("the bzImage payload is not an ELF kernel")
    if not has_pvh_entry(elf):
        raise NotABzImage("the kernel has no PVH entry note (CONFIG_PVH is off)")
    return elf
