"""Firmware file layout: pack and unpack, without any policy (verification lives in verify.py).

Layout (all integers big-endian)::

    magic     8 bytes   b"NATBOXFW"
    format    u32       FORMAT_VERSION
    mlen      u32       length of the manifest
    slen      u32       length of the signature block
    manifest  mlen      canonical JSON (UTF-8, sorted keys, no whitespace)
    signature slen      key id (8 bytes, first bytes of sha256(public key)) + Ed25519 signature
    payloads            concatenated in manifest order, no padding

Every byte belongs to exactly one of these parts, so a change anywhere is caught by the
structure checks, the signature over the manifest or a payload's sha256.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"NATBOXFW"
FORMAT_VERSION = 1
HEADER = struct.Struct(">8sIII")
KEY_ID_LEN = 8
SIG_LEN = 64
# The signature is over this prefix + the manifest bytes, so it cannot be reused elsewhere.
SIGNING_CONTEXT = b"natbox-firmware-manifest-v1\0"
# A manifest is a few hundred bytes; a bigger length field is a corrupt or hostile file.
MAX_MANIFEST = 64 * 1024


class FormatError(ValueError):
    """The file is not a well-formed natbox firmware."""


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Payload:
    name: str
    data: bytes
    kind: str = "blob"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "size": len(self.data),
            "sha256": sha256(self.data),
        }


@dataclass(frozen=True)
class Manifest:
    board: str
    compatible: str
    version: str
    compat_version: str
    build_id: str
    created: int
    payloads: tuple[dict[str, Any], ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "board": self.board,
            "compatible": self.compatible,
            "version": self.version,
            "compat_version": self.compat_version,
            "build_id": self.build_id,
            "created": self.created,
            "payloads": list(self.payloads),
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        try:
            d = json.loads(raw.decode())
        except (UnicodeDecodeError, ValueError, RecursionError) as e:  # deep nesting: recursion
            raise FormatError(f"manifest is not JSON: {e!r:.200}") from e
        if not isinstance(d, dict) or canonical_json(d) != raw:
            raise FormatError("manifest is not canonical JSON")
        if d.get("format") != FORMAT_VERSION:
            raise FormatError(f"manifest format {d.get('format')!r} is not {FORMAT_VERSION}")
        try:
            payloads = tuple(d["payloads"])
            for p in payloads:
                if not (
                    isinstance(p["name"], str)
                    and isinstance(p["size"], int)
                    and p["size"] >= 0
                    and isinstance(p["sha256"], str)
                ):
                    raise FormatError(f"bad payload entry {p!r}")
            # The checks after this one (verify.py) take these as text: other types are lies.
            for name in ("board", "compatible", "version", "compat_version", "build_id"):
                if not isinstance(d[name], str):
                    raise FormatError(f"manifest field {name} is not a string")
            if not isinstance(d["created"], int) or isinstance(d["created"], bool):
                raise FormatError("manifest field created is not an integer")
            return cls(
                board=d["board"],
                compatible=d["compatible"],
                version=d["version"],
                compat_version=d["compat_version"],
                build_id=d["build_id"],
                created=d["created"],
                payloads=payloads,
                extra=d.get("extra", {}),
            )
        except (KeyError, TypeError) as e:
            raise FormatError(f"manifest field missing or wrong: {e}") from e


def build_id(payloads: list[Payload], version: str) -> str:
    """Derived from the content only, so reproducible builds get the same id."""
    h = hashlib.sha256(version.encode())
    for p in payloads:
        h.update(p.name.encode() + b"\0" + sha256(p.data).encode())
    return h.hexdigest()[:16]


def pack(manifest: Manifest, payloads: list[Payload], key_id: bytes, signature: bytes) -> bytes:
    if len(key_id) != KEY_ID_LEN or len(signature) != SIG_LEN:
        raise FormatError("key id must be 8 bytes and signature 64 bytes")
    raw = manifest.to_bytes()
    sig_block = key_id + signature
    head = HEADER.pack(MAGIC, FORMAT_VERSION, len(raw), len(sig_block))
    return b"".join([head, raw, sig_block, *(p.data for p in payloads)])


def read_head(read_at) -> tuple[Manifest, int]:
    """The manifest and the file's length as its header declares them, read from the start
    of a file (a slot holds the file and then whatever was there before) without the
    payloads. ``read_at(offset, size)`` returns bytes; FormatError if it is no natbox firmware."""
    head = read_at(0, HEADER.size)
    if len(head) < HEADER.size:
        raise FormatError("file shorter than the header")
    magic, version, mlen, slen = HEADER.unpack(head)
    if magic != MAGIC:
        raise FormatError("bad magic: not a natbox firmware")
    if version != FORMAT_VERSION or slen != KEY_ID_LEN + SIG_LEN or mlen > MAX_MANIFEST:
        raise FormatError("not a natbox firmware of a known format")
    manifest = Manifest.from_bytes(read_at(HEADER.size, mlen))
    return manifest, HEADER.size + mlen + slen + sum(p["size"] for p in manifest.payloads)


def read_firmware(path, offset: int = 0, size: int | None = None) -> bytes:
    """The firmware file stored at ``offset`` of ``path`` (a slot of a disk or a block
    device), as long as its header declares, within ``size`` bytes. FormatError otherwise."""
    with open(path, "rb") as f:

        def read_at(at: int, n: int) -> bytes:
            f.seek(offset + at)
            return f.read(n if size is None else max(0, min(n, size - at)))

        length = read_head(read_at)[1]
        if size is not None and length > size:
            raise FormatError(f"the header declares {length} bytes, more than the {size} here")
        return read_at(0, length)


@dataclass(frozen=True)
class Unpacked:
    manifest_bytes: bytes
    manifest: Manifest
    key_id: bytes
    signature: bytes
    payloads: dict[str, memoryview]


def unpack(data: bytes) -> Unpacked:
    """Split a firmware file into its parts; checks structure only, not signature or hashes."""
    if len(data) < HEADER.size:
        raise FormatError("file shorter than the header")
    magic, version, mlen, slen = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FormatError("bad magic: not a natbox firmware")
    if version != FORMAT_VERSION:
        raise FormatError(f"format version {version} is not supported (want {FORMAT_VERSION})")
    if slen != KEY_ID_LEN + SIG_LEN:
        raise FormatError(f"signature block is {slen} bytes, want {KEY_ID_LEN + SIG_LEN}")
    pos = HEADER.size
    if len(data) < pos + mlen + slen:
        raise FormatError("file truncated inside the manifest or signature")
    raw = data[pos : pos + mlen]
    manifest = Manifest.from_bytes(raw)
    pos += mlen
    key_id, signature = data[pos : pos + KEY_ID_LEN], data[pos + KEY_ID_LEN : pos + slen]
    pos += slen
    # Views into the file, not copies: a firmware is 24 MB and the device has 256 MB.
    view = memoryview(data)
    payloads: dict[str, memoryview] = {}
    for p in manifest.payloads:
        if p["name"] in payloads:
            raise FormatError(f"payload {p['name']!r} listed twice")
        payloads[p["name"]] = view[pos : pos + p["size"]]
        pos += p["size"]
    if pos != len(data):
        raise FormatError(f"payload sizes add up to {pos} bytes but the file has {len(data)}")
    return Unpacked(raw, manifest, key_id, signature, payloads)
