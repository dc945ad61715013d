"""Builds small synthetic firmware files for the tests (no image build needed)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox.firmware.keys import sign
from router.firmware import format as fw

BOARD = "natbox,qemu-x86_64"


def make(
    key: Ed25519PrivateKey,
    compatible: str = BOARD,
    kernel: bytes = b"K" * 48,
    rootfs: bytes = b"R" * 40,
    compat: str = "1.0",
    lie_about: str | None = None,
    version: str = "0.1.0",
) -> bytes:
    parts = [fw.Payload("kernel", kernel, "linux-bzimage"), fw.Payload("rootfs", rootfs)]
    described = [p.describe() for p in parts]
    if lie_about:
        for d in described:
            if d["name"] == lie_about:
                d["sha256"] = fw.sha256(b"something else")
    manifest = fw.Manifest(
        "natbox_x86_64",
        compatible,
        version,
        compat,
        fw.build_id(parts, version),
        1700000000,
        tuple(described),
    )
    kid, sig = sign(key, manifest.to_bytes())
    return fw.pack(manifest, parts, kid, sig)
