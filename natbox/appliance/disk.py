"""The appliance's virtual disk: an MBR with a boot-environment area, firmware slots A and B
and a data partition (configuration that survives reboots and firmware updates).

The disk is a sparse raw file made on first boot. A slot holds a firmware file byte for byte;
the boot environment (partition 1) records, per slot, the size and sha256 of what was written
and which slot is active. Only slot A is booted for now: the firmware update issue adds the
switch to B, boot counting and fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

SECTOR = 512
MIB = 1024 * 1024
MAGIC = b"NATBOXENV1\n"


@dataclass(frozen=True)
class Partition:
    number: int  # the guest's /dev/vdaN
    name: str
    start_mib: int
    size_mib: int
    type_id: int  # MBR type: 0xda "non-FS data", 0x83 Linux

    @property
    def offset(self) -> int:
        return self.start_mib * MIB

    @property
    def size(self) -> int:
        return self.size_mib * MIB


LAYOUT = (
    Partition(1, "bootenv", 1, 1, 0xDA),
    Partition(2, "A", 2, 32, 0xDA),
    Partition(3, "B", 34, 32, 0xDA),
    Partition(4, "data", 66, 32, 0x83),
)
DISK_BYTES = (LAYOUT[-1].start_mib + LAYOUT[-1].size_mib) * MIB
BY_NAME = {p.name: p for p in LAYOUT}


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


def create(path: Path) -> None:
    """A new, empty disk (sparse): partition table and an empty boot environment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".new")
    with open(temp, "wb") as f:
        f.truncate(DISK_BYTES)
        f.write(mbr())
    write_env(temp, {"active": "A", "slots": {}})
    data = BY_NAME["data"]
    # ext4 made here (busybox's mke2fs in the guest is only the fallback).
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "data", "-E", f"offset={data.offset}",
                    str(temp), f"{data.size // 1024}k"], check=True)  # fmt: skip
    os.replace(temp, path)  # a half-made disk never looks like a disk


def read_env(path: Path) -> dict:
    part = BY_NAME["bootenv"]
    with open(path, "rb") as f:
        f.seek(part.offset)
        raw = f.read(part.size)
    if not raw.startswith(MAGIC):
        raise ValueError(f"{path}: no boot environment")
    return json.loads(raw[len(MAGIC) :].rstrip(b"\0"))


def write_env(path: Path, env: dict) -> None:
    part = BY_NAME["bootenv"]
    raw = MAGIC + json.dumps(env, sort_keys=True).encode()
    if len(raw) > part.size:
        raise ValueError("boot environment too large")
    with open(path, "r+b") as f:
        f.seek(part.offset)
        f.write(raw.ljust(part.size, b"\0"))
        f.flush()
        os.fsync(f.fileno())


def write_slot(path: Path, slot: str, firmware: bytes) -> None:
    part = BY_NAME[slot]
    if len(firmware) > part.size:
        raise ValueError(f"firmware of {len(firmware)} bytes does not fit slot {slot}")
    with open(path, "r+b") as f:
        f.seek(part.offset)
        f.write(firmware)
        f.flush()
        os.fsync(f.fileno())
    env = read_env(path)
    env["slots"][slot] = {"size": len(firmware), "sha256": hashlib.sha256(firmware).hexdigest()}
    write_env(path, env)


def read_slot(path: Path, slot: str) -> bytes:
    info = read_env(path)["slots"].get(slot)
    if not info:
        raise ValueError(f"slot {slot} is empty")
    with open(path, "rb") as f:
        f.seek(BY_NAME[slot].offset)
        return f.read(info["size"])
