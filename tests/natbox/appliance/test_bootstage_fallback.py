"""The bootloader stage when neither environment copy can be read: U-Boot's default
environment (order A B, both slots good), written back, and the first slot that verifies
boots. The versions it records come from the slots' own headers."""

from __future__ import annotations

import shutil
from pathlib import Path

import fwfactory
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox.appliance import bootstage, disk
from natbox.faults import disk as faults
from natbox.firmware.keys import public_pem
from router.update import slots

pytestmark = pytest.mark.unit
needs_mkfs = pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")


def test_the_fallback_environment():
    env = slots.fallback({"A": "0.1.0", "B": "0.2.0"})
    assert env == {
        "BOOT_ORDER": "A B",
        "BOOT_A_LEFT": str(slots.ATTEMPTS),
        "SLOT_A_STATE": "good",
        "SLOT_A_VERSION": "0.1.0",
        "BOOT_B_LEFT": str(slots.ATTEMPTS),
        "SLOT_B_STATE": "good",
        "SLOT_B_VERSION": "0.2.0",
    }
    assert slots.order(env) == ["A", "B"]
    assert all(slots.bootable(env, s) for s in ("A", "B"))


def test_the_fallback_without_versions_leaves_them_empty():
    """A slot whose header names no version holds no firmware: empty, never booted."""
    env = slots.fallback({})
    assert env["SLOT_A_VERSION"] == env["SLOT_B_VERSION"] == ""
    assert slots.state(env, "A") == slots.state(env, "B") == "empty"
    assert slots.attempts(env, "A") == slots.attempts(env, "B") == 0
    env = slots.fallback({"B": "0.2.0"})
    assert slots.state(env, "A") == "empty" and slots.state(env, "B") == "good"


@pytest.fixture
def signed(tmp_path: Path):
    """A key, a device keyring trusting it, and a disk with 0.1.0 in A and 0.2.0 in B."""
    key = Ed25519PrivateKey.generate()
    ring = tmp_path / "keyring"
    ring.mkdir()
    (ring / "dev.pub").write_bytes(public_pem(key.public_key()))
    path = tmp_path / "disk.img"
    disk.create(path, slots.initial("0.1.0", "A"))
    disk.write_slot(path, "A", fwfactory.make(key, version="0.1.0"))
    disk.write_slot(path, "B", fwfactory.make(key, version="0.2.0"))
    return key, ring, path


@needs_mkfs
def test_slot_versions_read_the_slot_headers(signed, tmp_path):
    key, _, path = signed
    assert bootstage.slot_versions(path) == {"A": "0.1.0", "B": "0.2.0"}
    empty = tmp_path / "empty.img"
    disk.create(empty)
    disk.write_slot(empty, "A", fwfactory.make(key, version="0.3.0"))
    assert bootstage.slot_versions(empty) == {"A": "0.3.0", "B": ""}
    faults.corrupt_slot(empty, "A", 0)  # the header itself overwritten
    assert bootstage.slot_versions(empty) == {"A": "", "B": ""}


@needs_mkfs
def test_both_copies_bad_boots_a_from_the_default_environment(signed, tmp_path):
    _, ring, path = signed
    env = disk.environment(path)
    env.save(slots.switch_to(env.load(), "B", "0.2.0"))  # what the lost copies said: try B
    faults.corrupt_env(path)
    logged: list[str] = []
    booted = bootstage.prepare(path, ring, tmp_path / "boot", log=logged.append)
    assert booted.slot == "A" and booted.manifest.version == "0.1.0"
    assert any("default environment" in line for line in logged), logged
    assert faults.env_copies_good(path) == [True, True]  # written back
    after = env.load()
    assert after["BOOT_ORDER"] == "A B"
    assert slots.state(after, "A") == slots.state(after, "B") == "good"
    assert (after["SLOT_A_VERSION"], after["SLOT_B_VERSION"]) == ("0.1.0", "0.2.0")
    assert slots.attempts(after, "A") == slots.ATTEMPTS - 1  # the attempt this boot took
    assert slots.attempts(after, "B") == slots.ATTEMPTS


@needs_mkfs
def test_with_a_unbootable_the_default_environment_boots_b(signed, tmp_path):
    _, ring, path = signed
    faults.corrupt_slot(path, "A", 0)
    faults.corrupt_env(path)
    logged: list[str] = []
    booted = bootstage.prepare(path, ring, tmp_path / "boot", log=logged.append)
    assert booted.slot == "B" and booted.manifest.version == "0.2.0"
    after = disk.environment(path).load()
    # A's header is gone: the default environment holds it empty (never tried).
    assert slots.state(after, "A") == "empty" and after["SLOT_A_VERSION"] == ""
    assert any("slot A: skipped" in line for line in logged), logged


@needs_mkfs
def test_one_bad_copy_is_not_a_fallback(signed, tmp_path):
    _, ring, path = signed
    env = disk.environment(path)
    env.save(slots.switch_to(env.load(), "B", "0.2.0"))
    faults.corrupt_env_copy(path, 0)
    logged: list[str] = []
    booted = bootstage.prepare(path, ring, tmp_path / "boot", log=logged.append)
    assert booted.slot == "B"  # the trial the good copy holds goes on
    assert not any("default environment" in line for line in logged), logged
    assert slots.state(env.load(), "B") == "trial"


def test_a_disk_that_cannot_be_read_is_a_boot_error(tmp_path):
    with pytest.raises(bootstage.BootError, match="bootloader:"):
        bootstage.prepare(tmp_path / "missing.img", tmp_path, tmp_path / "boot")
