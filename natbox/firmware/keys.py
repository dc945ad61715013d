"""Signing keys (host only): a per-checkout development key, never committed, and signing.
The device keyring that checks signatures is router.firmware.keyring."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from router.firmware.format import SIGNING_CONTEXT
from router.firmware.keyring import key_id

DEV_KEY_NAME = "dev-ed25519"


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_or_create_dev_key(key_dir: Path) -> tuple[Ed25519PrivateKey, bool]:
    """Return the development key in key_dir, generating it on first use (mode 0600)."""
    path = key_dir / f"{DEV_KEY_NAME}.key"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        return key, False
    key_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(path.with_suffix(".tmp"), path)
    (key_dir / f"{DEV_KEY_NAME}.pub").write_bytes(public_pem(key.public_key()))
    return key, True


def sign(key: Ed25519PrivateKey, manifest_bytes: bytes) -> tuple[bytes, bytes]:
    """Return (key id, signature) over the manifest."""
    return key_id(key.public_key()), key.sign(SIGNING_CONTEXT + manifest_bytes)
