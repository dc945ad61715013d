"""U-Boot's redundant environment, byte for byte as fw_printenv / fw_setenv read and write it.

Each copy is ENV_SIZE bytes: a CRC32 (little-endian) of the data, a flag byte, then the data:
``name=value`` strings, each ended by NUL, and a NUL after the last. Of two good copies the one
with the newer flag wins; flags count up and wrap (255 -> 0), as libubootenv's "incremental"
flags on a block device do. A save writes the older copy first, then the other (each with a
newer flag), so a power cut at any point leaves at least one good copy, old or new.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from router.update.layout import ENV_COPY_OFFSETS, ENV_SIZE

HEADER = 5  # CRC32 + flag


class EnvError(ValueError):
    """No good copy, or a variable that cannot be stored."""


@dataclass(frozen=True)
class Copy:
    good: bool
    flag: int
    variables: dict[str, str]
    problem: str = ""


def encode(variables: dict[str, str], flag: int, size: int = ENV_SIZE) -> bytes:
    data = b""
    for name in sorted(variables):
        value = variables[name]
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise EnvError(f"variable {name!r} cannot be stored")
        data += f"{name}={value}".encode() + b"\0"
    data += b"\0"
    if len(data) > size - HEADER:
        raise EnvError(f"environment of {len(data)} bytes does not fit {size - HEADER}")
    data = data.ljust(size - HEADER, b"\0")
    return zlib.crc32(data).to_bytes(4, "little") + bytes([flag & 0xFF]) + data


def decode(raw: bytes) -> Copy:
    if len(raw) < HEADER + 2:
        return Copy(False, 0, {}, "too short")
    crc, flag, data = int.from_bytes(raw[:4], "little"), raw[4], raw[HEADER:]
    if zlib.crc32(data) != crc:
        return Copy(False, flag, {}, "bad CRC")
    variables: dict[str, str] = {}
    for entry in data.split(b"\0\0", 1)[0].split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if not sep:
            continue  # U-Boot skips what is not name=value
        try:
            variables[name.decode()] = value.decode()
        except UnicodeDecodeError:
            return Copy(False, flag, {}, "not UTF-8")
    return Copy(True, flag, variables)


def newest(first: Copy, second: Copy) -> int | None:
    """Index of the copy to use (U-Boot's env_check_redund), None when neither is good."""
    if not (first.good or second.good):
        return None
    if first.good != second.good:
        return 0 if first.good else 1
    a, b = first.flag, second.flag
    if a == 0xFF and b == 0:
        return 1
    if b == 0xFF and a == 0:
        return 0
    return 1 if b > a else 0


class BootEnv:
    """The two copies in one file or device, at ``base`` (the partition's offset)."""

    def __init__(self, path: Path | str, base: int = 0, size: int = ENV_SIZE):
        self.path, self.base, self.size = Path(path), base, size

    def read_copies(self) -> tuple[Copy, Copy]:
        with open(self.path, "rb") as f:
            copies = []
            for offset in ENV_COPY_OFFSETS:
                f.seek(self.base + offset)
                copies.append(decode(f.read(self.size)))
        return copies[0], copies[1]

    def load(self) -> dict[str, str]:
        copies = self.read_copies()
        index = newest(*copies)
        if index is None:
            raise EnvError(
                f"{self.path}: no good environment copy ({copies[0].problem}, {copies[1].problem})"
            )
        return dict(copies[index].variables)

    def save(self, variables: dict[str, str], between=None) -> None:
        """Write the older copy, then the newer one. ``between`` (a callable) runs after the
        first copy is on disk: the fault-injection point "between the two copies"."""
        copies = self.read_copies()
        index = newest(*copies)
        flag = copies[index].flag if index is not None else 0
        older = 1 if index == 0 else 0
        for n, which in enumerate((older, 1 - older)):
            flag = (flag + 1) & 0xFF
            self._write(ENV_COPY_OFFSETS[which], encode(variables, flag, self.size))
            if n == 0 and between is not None:
                between()

    def _write(self, offset: int, raw: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, raw, self.base + offset)
            os.fsync(fd)
        finally:
            os.close(fd)
