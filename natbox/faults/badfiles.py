"""Firmware files the device's update check must refuse, each made from one real signed file.

Each bad file breaks one thing and keeps the rest (board, compat_version, version, the other
payloads) as the original has it, so that the check named in ``BadFile.check`` is the one that
refuses it: a test of the update path then shows that check, and not an accident, at work.
Variants that must still carry a good signature are re-signed with the key of the original.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox.firmware.keys import sign
from router.firmware import format as fw

# Seeds are in the source, so these private keys are public by construction: the first is
# revoked in every natbox keyring (image/keyring/revoked), the second trusted by none.
REVOKED_SEED = b"natbox published test key: revoked everywhere"
UNKNOWN_SEED = b"natbox published test key: trusted nowhere"
OTHER_BOARD = "natbox,other-board"


@dataclass(frozen=True)
class BadFile:
    kind: str
    data: bytes
    check: str  # the router.firmware.verify.validate() check that must fail
    what: str


def _seeded_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def revoked_test_key() -> Ed25519PrivateKey:
    """The published natbox test key (seed sha256(REVOKED_SEED)); every keyring revokes it."""
    return _seeded_key(REVOKED_SEED)


def unknown_key() -> Ed25519PrivateKey:
    """A key no natbox keyring lists (seed sha256(UNKNOWN_SEED))."""
    return _seeded_key(UNKNOWN_SEED)


def _parts(firmware: bytes) -> tuple[fw.Unpacked, list[fw.Payload]]:
    u = fw.unpack(firmware)
    return u, [
        fw.Payload(p["name"], bytes(u.payloads[p["name"]]), p.get("type", "blob"))
        for p in u.manifest.payloads
    ]


def _repack(
    manifest: fw.Manifest,
    payloads: list[fw.Payload],
    key: Ed25519PrivateKey | None,
) -> bytes:
    if key is None:  # the format has no "no signature": all zeros is the nearest it has
        return fw.pack(manifest, payloads, bytes(fw.KEY_ID_LEN), bytes(fw.SIG_LEN))
    return fw.pack(manifest, payloads, *sign(key, manifest.to_bytes()))


def _resigned(firmware: bytes, key: Ed25519PrivateKey | None, **changes) -> bytes:
    u, payloads = _parts(firmware)
    return _repack(replace(u.manifest, **changes), payloads, key)


def _nonempty(u: fw.Unpacked) -> list[str]:
    names = [p["name"] for p in u.manifest.payloads if p["size"] > 0]
    if not names:
        raise ValueError("the firmware has no non-empty payload to damage")
    return names


def _bumped(compat_version: str) -> str:
    major, dot, rest = compat_version.partition(".")
    if not major.isdigit():
        raise ValueError(f"compat_version {compat_version!r} has no numeric major")
    return f"{int(major) + 1}{dot}{rest}"


def _truncated(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    u = fw.unpack(firmware)
    # 60% of the way through the payloads, not of the file: in a small test file the
    # manifest is most of the bytes, and a cut there is a different (earlier) error.
    start = len(firmware) - sum(len(v) for v in u.payloads.values())
    cut = start + (len(firmware) - start) * 6 // 10
    if cut == start:
        raise ValueError("the payloads are too small to cut inside")
    return BadFile(
        "truncated",
        firmware[:cut],
        "format",
        f"cut to {cut} of {len(firmware)} bytes, inside the payloads",
    )


def _bit_flipped(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    u = fw.unpack(firmware)
    name = _nonempty(u)[-1]  # the last (on the appliance the root file system, the biggest)
    at = len(firmware) - sum(len(v) for v in u.payloads.values())
    for p in u.manifest.payloads:
        if p["name"] == name:
            break
        at += p["size"]
    at += len(u.payloads[name]) // 2
    bad = bytearray(firmware)
    bad[at] ^= 0x10
    return BadFile(
        "bit-flipped",
        bytes(bad),
        f"hash:{name}",
        f"one bit flipped in payload {name}, signature untouched",
    )


def _other_board(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    board = fw.unpack(firmware).manifest.compatible
    other = OTHER_BOARD if board != OTHER_BOARD else OTHER_BOARD + "-2"
    return BadFile(
        "other-board",
        _resigned(firmware, key, compatible=other),
        "board",
        f"for board {other!r} instead of {board!r}, signed",
    )


def _compat_bumped(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    old = fw.unpack(firmware).manifest.compat_version
    new = _bumped(old)
    return BadFile(
        "compat-bumped",
        _resigned(firmware, key, compat_version=new),
        "compat",
        f"compat_version {old} -> {new}, a major step that cannot keep the settings, signed",
    )


def _unsigned(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    return BadFile(
        "unsigned",
        _resigned(firmware, None),
        "signature",
        "key id and signature all zeros: signed by nobody",
    )


def _unknown_key(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    return BadFile(
        "unknown-key",
        _resigned(firmware, unknown_key()),
        "signature",
        "signed by a key no keyring trusts",
    )


def _revoked_key(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    return BadFile(
        "revoked-key",
        _resigned(firmware, revoked_test_key()),
        "signature",
        "signed by the published natbox test key, which is revoked",
    )


def _payload_hash(firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    u, payloads = _parts(firmware)
    name = _nonempty(u)[0]  # the first, so that this and bit-flipped differ in payload too
    # One byte dropped, the size updated in a re-signed manifest, the sha256 left stale: only
    # the hash check can tell. (A same-size change would leave the manifest as it was; a
    # longer payload could fail the size check of a file at the limit.)
    payloads = [replace(p, data=p.data[:-1]) if p.name == name else p for p in payloads]
    described = tuple(
        {**d, "size": d["size"] - 1} if d["name"] == name else d for d in u.manifest.payloads
    )
    manifest = replace(u.manifest, payloads=described)
    return BadFile(
        "payload-hash",
        _repack(manifest, payloads, key),
        f"hash:{name}",
        f"payload {name} one byte shorter than its signed sha256 says",
    )


_MAKERS = {
    "truncated": _truncated,
    "bit-flipped": _bit_flipped,
    "other-board": _other_board,
    "compat-bumped": _compat_bumped,
    "unsigned": _unsigned,
    "unknown-key": _unknown_key,
    "revoked-key": _revoked_key,
    "payload-hash": _payload_hash,
}
KINDS = tuple(_MAKERS)  # in this order


def make(kind: str, firmware: bytes, key: Ed25519PrivateKey) -> BadFile:
    """The ``kind`` of bad file made from ``firmware``, a valid file signed by ``key``."""
    maker = _MAKERS.get(kind)
    if maker is None:
        raise ValueError(f"unknown bad firmware kind {kind!r}; known: {', '.join(KINDS)}")
    return maker(firmware, key)


def make_all(firmware: bytes, key: Ed25519PrivateKey) -> dict[str, BadFile]:
    return {kind: make(kind, firmware, key) for kind in KINDS}
