"""Faults put on a powered-off appliance's disk: one environment copy or both, a slot's bytes,
the saved configuration on the data partition (written in place with debugfs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from natbox.appliance import disk
from natbox.faults import disk as faults
from router.update.bootenv import EnvError
from router.update.layout import BY_NAME, ENV_COPY_OFFSETS, ENV_SIZE

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs"),
]
needs_debugfs = pytest.mark.skipif(shutil.which("debugfs") is None, reason="no debugfs")

ENV = {"BOOT_ORDER": "A B", "SLOT_A_STATE": "good", "SLOT_A_VERSION": "0.1.0"}


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "d.img"
    disk.create(path, dict(ENV))
    return path


def env_bytes(path: Path, copy: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(BY_NAME["bootenv"].offset + ENV_COPY_OFFSETS[copy])
        return f.read(ENV_SIZE)


@pytest.mark.parametrize(("copy", "good"), [(0, [False, True]), (1, [True, False])])
def test_one_copy_corrupted_the_other_still_loads(image, copy, good):
    assert faults.env_copies_good(image) == [True, True]
    other = env_bytes(image, 1 - copy)
    line = faults.corrupt_env_copy(image, copy)
    assert f"copy {copy}" in line and "CRC" in line
    assert faults.env_copies_good(image) == good
    assert env_bytes(image, 1 - copy) == other  # the other copy untouched
    assert disk.environment(image).load() == ENV


def test_both_copies_corrupted_nothing_loads(image):
    faults.FAULTS["env-both"](image)
    assert faults.env_copies_good(image) == [False, False]
    with pytest.raises(EnvError, match="no good environment copy"):
        disk.environment(image).load()


def test_corrupting_twice_does_not_undo_it(image):
    faults.corrupt_env_copy(image, 0)
    once = env_bytes(image, 0)
    faults.corrupt_env_copy(image, 0)
    assert env_bytes(image, 0) == once
    assert faults.env_copies_good(image) == [False, True]


def test_only_copies_0_and_1_exist(image):
    with pytest.raises(faults.DiskFaultError, match="copies 0 and 1"):
        faults.corrupt_env_copy(image, 2)
    assert faults.env_copies_good(image) == [True, True]


def test_a_slot_is_overwritten_where_asked_and_nowhere_else(image):
    part = BY_NAME["B"]
    line = faults.corrupt_slot(image, "B", 8192, 4096)
    assert "slot B" in line
    with open(image, "rb") as f:
        f.seek(part.offset + 8192 - 16)
        around = f.read(4096 + 32)
    assert around[:16] == bytes(16) and around[-16:] == bytes(16)
    assert around[16:-16] == faults.PATTERN * 1024


@pytest.mark.parametrize(
    ("slot", "offset", "message"),
    [
        ("C", 0, "slots A and B"),
        ("data", 0, "slots A and B"),
        ("A", -1, "outside slot A"),
        ("A", BY_NAME["A"].size, "outside slot A"),
        ("B", BY_NAME["B"].size - 100, "outside slot B"),
    ],
)
def test_a_slot_fault_out_of_bounds_is_refused(image, slot, offset, message):
    before = image.read_bytes()
    with pytest.raises(faults.DiskFaultError, match=message):
        faults.corrupt_slot(image, slot, offset)
    assert image.read_bytes() == before


def debugfs(image: Path, *requests: str) -> None:
    target = f"{image}?offset={BY_NAME['data'].offset}"
    for request in requests:
        subprocess.run(["debugfs", "-w", "-R", request, target], check=True, capture_output=True)


@needs_debugfs
def test_the_saved_configuration_is_replaced_by_garbage(image, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"hostname": "fault-box"}\n')
    debugfs(image, "mkdir /natbox", f"write {config} {faults.CONFIG_ON_DATA}")
    assert faults.read_config(image) == config.read_bytes()
    line = faults.corrupt_config(image)
    assert faults.CONFIG_ON_DATA in line and str(len(faults.GARBAGE)) in line
    assert faults.read_config(image) == faults.GARBAGE
    faults.corrupt_config(image, b"second")  # the old one removed first: no leftover bytes
    assert faults.read_config(image) == b"second"
    assert faults.env_copies_good(image) == [True, True]  # nothing else touched


@needs_debugfs
def test_a_configuration_fault_on_a_disk_that_never_saved_one_says_so(image):
    """debugfs exits 0 when /natbox is missing: the fault must not report a write it did
    not make."""
    with pytest.raises(faults.DiskFaultError, match="not written"):
        faults.corrupt_config(image)
    assert faults.read_config(image) == b""
