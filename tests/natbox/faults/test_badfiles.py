"""Each bad firmware file is refused by the update check, and by the check it is made for."""

from __future__ import annotations

import shutil
from pathlib import Path

import fwfactory
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox.faults import badfiles
from natbox.firmware.keys import DEV_KEY_NAME, public_pem
from router.firmware.keyring import Keyring, key_id
from router.firmware.verify import MAX_FIRMWARE_BYTES, Report, validate

pytestmark = pytest.mark.unit

TREE = Path(__file__).resolve().parents[3]
REVOKED = TREE / "image" / "keyring" / "revoked"
RESIGNED = ("other-board", "compat-bumped", "unknown-key", "revoked-key", "payload-hash")


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def firmware(key: Ed25519PrivateKey) -> bytes:
    return fwfactory.make(key, version="0.2.0")


@pytest.fixture(scope="module")
def ring(key: Ed25519PrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    """The dev key trusted, and revoked what the image's keyring revokes."""
    ring_dir = tmp_path_factory.mktemp("keyring")
    (ring_dir / f"{DEV_KEY_NAME}.pub").write_bytes(public_pem(key.public_key()))
    shutil.copyfile(REVOKED, ring_dir / "revoked")
    return Keyring.from_dir(ring_dir)


def check(data: bytes, ring: Keyring) -> Report:
    """As the update service's _check asks: board, compat_version, size limit, a running
    version older than the file's, settings kept, no force."""
    return validate(data, ring, fwfactory.BOARD, "1.0", MAX_FIRMWARE_BYTES, "0.1.0", True, False)


@pytest.fixture(scope="module")
def bad(firmware: bytes, key: Ed25519PrivateKey) -> dict[str, badfiles.BadFile]:
    return badfiles.make_all(firmware, key)


def test_the_original_is_valid(firmware: bytes, ring: Keyring) -> None:
    report = check(firmware, ring)
    assert report.valid, report.lines()


def test_the_kinds_are_complete(bad: dict[str, badfiles.BadFile]) -> None:
    assert badfiles.KINDS == (
        "truncated",
        "bit-flipped",
        "other-board",
        "compat-bumped",
        "unsigned",
        "unknown-key",
        "revoked-key",
        "payload-hash",
    )
    assert tuple(bad) == badfiles.KINDS
    assert all(b.kind == kind and b.what for kind, b in bad.items())


@pytest.mark.parametrize("kind", badfiles.KINDS)
def test_each_is_refused_by_its_check(
    kind: str, bad: dict[str, badfiles.BadFile], firmware: bytes, ring: Keyring
) -> None:
    b = bad[kind]
    assert b.data != firmware
    report = check(b.data, ring)
    assert not report.valid, report.lines()
    assert b.check in report.failed(), report.lines()
    if kind in RESIGNED:  # signed well enough that nothing else is wrong
        assert report.failed() == [b.check], report.lines()


def test_each_keeps_the_version(bad: dict[str, badfiles.BadFile], firmware: bytes) -> None:
    for kind, b in bad.items():
        if kind != "truncated":  # no manifest check gets that far
            assert check(b.data, Keyring()).checks["version"].status == "pass", kind


def test_the_revoked_key_is_refused_as_revoked(
    bad: dict[str, badfiles.BadFile], ring: Keyring
) -> None:
    report = check(bad["revoked-key"].data, ring)
    assert "revoked" in report.problems()


def test_the_image_keyring_revokes_the_test_key() -> None:
    kid = key_id(badfiles.revoked_test_key().public_key())
    assert kid in Keyring.from_dir(REVOKED.parent).revoked
    assert key_id(badfiles.unknown_key().public_key()) != kid


def test_the_keys_are_deterministic() -> None:
    for make_key in (badfiles.revoked_test_key, badfiles.unknown_key):
        assert key_id(make_key().public_key()) == key_id(make_key().public_key())


def test_an_unknown_kind_is_refused(firmware: bytes, key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match=r"no-such-kind.*truncated"):
        badfiles.make("no-such-kind", firmware, key)
