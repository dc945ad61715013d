"""Manifest and signature round-trip, and tamper detection on small synthetic payloads."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import BOARD, make

from natbox.firmware.keys import sign
from router.firmware import format as fw
from router.firmware.keyring import Keyring, key_id
from router.firmware.verify import validate


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def ring(key: Ed25519PrivateKey) -> Keyring:
    return Keyring({"dev": key.public_key()})


def test_round_trip(key, ring) -> None:
    data = make(key)
    u = fw.unpack(data)
    assert u.manifest.compatible == BOARD
    assert u.payloads == {"kernel": b"K" * 48, "rootfs": b"R" * 40}
    assert u.key_id == key_id(key.public_key())
    assert fw.Manifest.from_bytes(u.manifest.to_bytes()) == u.manifest
    report = validate(data, ring, BOARD, "1.0")
    assert report.valid, report.lines()
    assert {n: c.status for n, c in report.checks.items()} == {
        "format": "pass",
        "signature": "pass",
        "board": "pass",
        "compat": "pass",
        "version": "skip",  # no running version given
        "size": "pass",
        "hash:kernel": "pass",
        "hash:rootfs": "pass",
    }


def test_building_twice_gives_the_same_bytes(key) -> None:
    assert make(key) == make(key)  # Ed25519 signatures are deterministic


def test_every_byte_is_covered(key, ring) -> None:
    data = make(key)
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            bad = bytearray(data)
            bad[i] ^= flip
            assert not validate(bytes(bad), ring, BOARD).valid, f"byte {i} ^ {flip:#x} unnoticed"


@pytest.mark.parametrize("cut", [1, 20, 100, -1, -41])
def test_truncation_and_extension(key, ring, cut) -> None:
    data = make(key)
    assert not validate(data[:cut], ring, BOARD).valid
    assert not validate(data + b"\0", ring, BOARD).valid


def test_tampered_payload_names_the_payload(key, ring) -> None:
    data = bytearray(make(key))
    data[-1] ^= 1  # last byte of the rootfs
    report = validate(bytes(data), ring, BOARD)
    assert report.checks["hash:rootfs"].status == "fail"
    assert report.checks["hash:kernel"].status == "pass"
    assert report.checks["signature"].status == "pass"


def test_other_board_is_refused(key, ring) -> None:
    report = validate(make(key, compatible="natbox,other-board"), ring, BOARD)
    assert not report.valid
    assert report.checks["board"].status == "fail"
    assert "other-board" in report.checks["board"].detail


def test_compat_major_bump_is_refused(key, ring) -> None:
    assert validate(make(key, compat="1.3"), ring, BOARD, "1.0").valid
    report = validate(make(key, compat="2.0"), ring, BOARD, "1.0")
    assert report.checks["compat"].status == "fail"


def test_unknown_key_is_refused(ring) -> None:
    report = validate(make(Ed25519PrivateKey.generate()), ring, BOARD)
    assert report.checks["signature"].status == "fail"
    assert "not in the keyring" in report.checks["signature"].detail


def test_several_keys_and_revocation(key) -> None:
    new = Ed25519PrivateKey.generate()
    ring = Keyring({"old": key.public_key(), "new": new.public_key()})
    assert validate(make(key), ring, BOARD).valid
    assert validate(make(new), ring, BOARD).valid
    ring.revoked.add(key_id(key.public_key()))
    report = validate(make(key), ring, BOARD)
    assert report.checks["signature"].status == "fail"
    assert "revoked" in report.checks["signature"].detail
    assert validate(make(new), ring, BOARD).valid


def test_good_signature_over_a_wrong_hash(key, ring) -> None:
    report = validate(make(key, lie_about="kernel"), ring, BOARD)
    assert report.checks["signature"].status == "pass"
    assert report.checks["hash:kernel"].status == "fail"
    assert not report.valid


def test_missing_payload_is_a_format_failure(key, ring) -> None:
    part = fw.Payload("kernel", b"k")
    m = fw.Manifest("b", BOARD, "1", "1.0", "x", 0, (part.describe(),))
    kid, sig = sign(key, m.to_bytes())
    report = validate(fw.pack(m, [part], kid, sig), ring, BOARD)
    assert report.checks["format"].status == "fail"


def test_oversized_firmware_is_refused(key, ring) -> None:
    report = validate(make(key), ring, BOARD, max_bytes=100)
    assert report.checks["size"].status == "fail"


def test_not_a_firmware() -> None:
    with pytest.raises(fw.FormatError, match="magic"):
        fw.unpack(b"\x7fELF" + b"\0" * 100)
    with pytest.raises(fw.FormatError, match="canonical"):
        fw.Manifest.from_bytes(b'{"format": 1}')


# Found by fuzzing (tests/fuzz, targets manifest and firmware); the inputs are in the corpus.
NON_TEXT_MANIFEST = (
    b'{"board":1,"build_id":1,"compat_version":1,"compatible":1,"created":1,"format":1,'
    b'"payloads":[],"version":1}'
)


def test_a_deeply_nested_manifest_is_a_format_error() -> None:
    with pytest.raises(fw.FormatError, match="not JSON"):
        fw.Manifest.from_bytes(b"[" * 5000)


def test_manifest_fields_of_the_wrong_type_are_a_format_error(ring) -> None:
    with pytest.raises(fw.FormatError, match="is not a string"):
        fw.Manifest.from_bytes(NON_TEXT_MANIFEST)
    # It used to reach verify's compat check as an int: AttributeError instead of a report.
    data = fw.HEADER.pack(fw.MAGIC, 1, len(NON_TEXT_MANIFEST), 72) + NON_TEXT_MANIFEST + bytes(72)
    report = validate(data, ring, BOARD, "1.0")
    assert report.checks["format"].status == "fail"
