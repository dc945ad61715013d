"""The appliance's virtual disk on the host: a sparse raw file with the partition table of
router.update.layout, the redundant boot environment and the firmware slots.

A slot holds a firmware file byte for byte (its header says how long it is); the environment
says which slot boots and how it stands (router.update.slots)."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

from router.firmware.format import FormatError, read_firmware
from router.update.bootenv import BootEnv
from router.update.layout import BY_NAME, DISK_BYTES, LAYOUT, SECTOR, Partition


def mbr(layout: tuple[Partition, ...] = LAYOUT) -> bytes:
    table = b""
    for p in layout:
        # Status, CHS start (unused: 0xfffffe), type, CHS end, LBA start, sector count.
        table += struct.pack(
            "<B3sB3sII",
            0,
            b"\xfe\xff\xff",
            p.type_id,
            b"\xfe\xff\xff",
            p.offset // SECTOR,
            p.size // SECTOR,
        )
    return bytes(446) + table + b"\x55\xaa"


def create(path: Path, env: dict[str, str] | None = None) -> None:
    """A new disk (sparse): partition table, the environment (both copies), an ext4 data
    partition. Made under another name and renamed: a half-made disk never looks like one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".new")
    with open(temp, "wb") as f:
        f.truncate(DISK_BYTES)
        f.write(mbr())
    environment(temp).save(env or {})
    data = BY_NAME["data"]
    # ext4 made here (busybox's mke2fs in the guest is only the fallback).
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "data", "-E", f"offset={data.offset}",
                    str(temp), f"{data.size // 1024}k"], check=True)  # fmt: skip
    os.replace(temp, path)


def matches_layout(path: Path) -> bool:
    """False for a disk of an older layout (a different size or partition table)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
        return os.path.getsize(path) == DISK_BYTES and head == mbr()
    except OSError:
        return False


def environment(path: Path) -> BootEnv:
    return BootEnv(path, BY_NAME["bootenv"].offset)


def write_slot(path: Path, slot: str, firmware: bytes) -> None:
    part = BY_NAME[slot]
    if len(firmware) > part.size:
        raise ValueError(f"firmware of {len(firmware)} bytes does not fit slot {slot}")
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, firmware, part.offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_slot(path: Path, slot: str) -> bytes:
    """The firmware file in ``slot``; ValueError when the slot holds none."""
    part = BY_NAME[slot]
    try:
        return read_firmware(path, part.offset, part.size)
    except FormatError as error:
        raise ValueError(f"slot {slot} holds no firmware ({error})") from error
