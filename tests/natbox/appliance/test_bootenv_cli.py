"""`natbox bootenv print|set` on a disk image: what the guest's fw_printenv would show."""

from __future__ import annotations

import shutil

import pytest

from natbox.appliance import disk
from natbox.cli import main
from router.update import slots

pytestmark = pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")


def test_print_and_set_round_trip(tmp_path, capsys):
    path = tmp_path / "disk.img"
    disk.create(path, slots.initial("0.1.0"))
    assert main(["bootenv", "set", "--disk", str(path), "BOOT_ORDER=B A", "SLOT_B_VERSION="]) == 0
    assert main(["bootenv", "print", "--disk", str(path)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "BOOT_ORDER=B A" in shown and "BOOT_A_LEFT=3" in shown
    assert not any(line.startswith("SLOT_B_VERSION=") for line in shown)  # removed
    assert disk.environment(path).load()["BOOT_ORDER"] == "B A"


def test_a_disk_without_a_good_copy_is_one_line(tmp_path, capsys):
    path = tmp_path / "blank.img"
    path.write_bytes(bytes(4 * 1024 * 1024))
    assert main(["bootenv", "print", "--disk", str(path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "no good environment copy" in out[0]
