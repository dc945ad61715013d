"""Faults put on the appliance's disk while it is powered off: one environment copy or both
made unreadable, a slot's bytes flipped, the saved configuration overwritten with garbage.
Each says what it did in one line (for the report)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from natbox.appliance.disk import environment
from router.update.layout import BY_NAME, ENV_COPY_OFFSETS

CONFIG_ON_DATA = "/natbox/config.json"  # the saved configuration, inside the data partition
PATTERN = b"\xde\xad\xbe\xef"
GARBAGE = b'{"nat": {"profile": \x00\xff truncated by natbox fault'


class DiskFaultError(RuntimeError):
    pass


def _overwrite(disk: Path, offset: int, length: int) -> None:
    """A fixed pattern over ``length`` bytes (not an inversion: doing it twice must not undo
    it)."""
    pattern = (PATTERN * (length // len(PATTERN) + 1))[:length]
    fd = os.open(disk, os.O_RDWR)
    try:
        os.pwrite(fd, pattern, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def corrupt_env_copy(disk: Path, copy: int) -> str:
    """Copy 0 or 1 of the redundant environment: its variables overwritten past the CRC and
    the flag (the CRC then fails)."""
    if copy not in (0, 1):
        raise DiskFaultError(f"copy {copy}: the environment has copies 0 and 1")
    start = BY_NAME["bootenv"].offset + ENV_COPY_OFFSETS[copy]
    _overwrite(disk, start + 5, 64)  # 4 CRC bytes and the flag, then the variables
    return f"environment copy {copy}: 64 bytes overwritten (its CRC fails)"


def corrupt_env(disk: Path) -> str:
    for copy in (0, 1):
        corrupt_env_copy(disk, copy)
    return "both environment copies: 64 bytes each overwritten (neither CRC holds)"


def corrupt_slot(disk: Path, slot: str, offset: int, length: int = 4096) -> str:
    part = BY_NAME.get(slot)
    if slot not in ("A", "B") or part is None:
        raise DiskFaultError(f"slot {slot!r}: the disk has slots A and B")
    if not 0 <= offset < part.size - length:
        raise DiskFaultError(f"offset {offset}: outside slot {slot} ({part.size} bytes)")
    _overwrite(disk, part.offset + offset, length)
    return f"slot {slot}: {length} bytes at {offset} overwritten"


def corrupt_config(disk: Path, content: bytes = GARBAGE) -> str:
    """The data partition's saved configuration replaced by bytes no parser takes (debugfs
    writes into the ext4 image in place: nothing to mount). A journal the guest left to
    replay (it was not shut down cleanly) is replayed first: else the guest's replay at the
    next mount would put the old file back."""
    if shutil.which("debugfs") is None:
        raise DiskFaultError("debugfs (e2fsprogs) is needed to write into the data partition")
    image = f"{disk}?offset={BY_NAME['data'].offset}"
    features = subprocess.run(["debugfs", "-R", "features", image], capture_output=True,
                              text=True, check=False).stdout  # fmt: skip
    if "needs_recovery" in features.split():
        replay_journal(disk)
    with tempfile.NamedTemporaryFile() as garbage:
        garbage.write(content)
        garbage.flush()
        script = f"rm {CONFIG_ON_DATA}\nwrite {garbage.name} {CONFIG_ON_DATA}\n"
        done = subprocess.run(["debugfs", "-w", "-f", "-", image], input=script.encode(),
                              capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0 or b"rror" in done.stderr.replace(b"debugfs", b""):
        raise DiskFaultError(f"debugfs: {done.stderr.decode(errors='replace').strip()}")
    if read_config(disk) != content:  # debugfs exits 0 when the write found no directory
        where = Path(CONFIG_ON_DATA).parent
        raise DiskFaultError(f"{CONFIG_ON_DATA} not written: the data partition has no {where} "
                             "yet (boot and save a configuration first)")  # fmt: skip
    return f"{CONFIG_ON_DATA} on the data partition: replaced by {len(content)} bytes of garbage"


def replay_journal(disk: Path) -> None:
    """e2fsck -p on a loop device over the data partition (it replays the journal; debugfs
    and e2fsck cannot both address a partition inside an image file). Needs root."""
    if os.geteuid() != 0:
        raise DiskFaultError(
            "the data partition's journal needs replaying (the appliance was "
            "not shut down cleanly): run as root, or power it off cleanly"
        )
    data = BY_NAME["data"]
    loop = subprocess.run(["losetup", "--find", "--show", "--offset", str(data.offset),
                           "--sizelimit", str(data.size), str(disk)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if loop.returncode != 0:
        raise DiskFaultError(f"losetup: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    try:
        fsck = subprocess.run(["e2fsck", "-p", device], capture_output=True, text=True,
                              check=False)  # fmt: skip
        if fsck.returncode not in (0, 1):  # 1: errors corrected (the replay)
            raise DiskFaultError(f"e2fsck: {fsck.stdout.strip()} {fsck.stderr.strip()}")
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def env_copies_good(disk: Path) -> list[bool]:
    """Whether each environment copy's CRC holds (after a boot: both, the bad one repaired)."""
    return [copy.good for copy in environment(disk).read_copies()]


def read_config(disk: Path) -> bytes:
    """The saved configuration as the data partition holds it (for the report)."""
    image = f"{disk}?offset={BY_NAME['data'].offset}"
    done = subprocess.run(["debugfs", "-R", f"cat {CONFIG_ON_DATA}", image],
                          capture_output=True, check=False)  # fmt: skip
    return done.stdout


FAULTS = {
    "env-copy-0": lambda disk: corrupt_env_copy(disk, 0),
    "env-copy-1": lambda disk: corrupt_env_copy(disk, 1),
    "env-both": corrupt_env,
    "config": corrupt_config,
}
