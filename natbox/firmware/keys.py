"""Signing keys: a per-checkout development key (never committed) and the device keyring."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from natbox.firmware.format import KEY_ID_LEN, SIGNING_CONTEXT

DEV_KEY_NAME = "dev-ed25519"


def key_id(public: Ed25519PublicKey) -> bytes:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:KEY_ID_LEN]


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


class Keyring:
    """Trusted public keys by key id; several keys allowed (rotation), some possibly revoked."""

    def __init__(
        self, keys: dict[str, Ed25519PublicKey] | None = None, revoked: set[bytes] | None = None
    ) -> None:
        self.names: dict[bytes, str] = {}
        self.keys: dict[bytes, Ed25519PublicKey] = {}
        self.revoked = set(revoked or ())
        for name, pub in (keys or {}).items():
            self.add(name, pub)

    def add(self, name: str, public: Ed25519PublicKey) -> None:
        kid = key_id(public)
        self.keys[kid] = public
        self.names[kid] = name

    @classmethod
    def from_dir(cls, directory: Path) -> Keyring:
        """Load every *.pub (PEM) in directory; a file `revoked` lists revoked key ids (hex)."""
        ring = cls()
        for path in sorted(directory.glob("*.pub")):
            pub = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(pub, Ed25519PublicKey):
                raise ValueError(f"{path} is not an Ed25519 public key")
            ring.add(path.stem, pub)
        revoked = directory / "revoked"
        if revoked.exists():
            for line in revoked.read_text().split("\n"):
                if line.split("#")[0].strip():
                    ring.revoked.add(bytes.fromhex(line.split("#")[0].strip()))
        return ring

    def verify(self, kid: bytes, signature: bytes, manifest_bytes: bytes) -> tuple[bool, str]:
        if kid in self.revoked:
            return False, f"key {kid.hex()} is revoked"
        public = self.keys.get(kid)
        if public is None:
            return False, f"key {kid.hex()} is not in the keyring ({len(self.keys)} keys)"
        try:
            public.verify(signature, SIGNING_CONTEXT + manifest_bytes)
        except Exception:
            return False, f"bad signature by key {self.names[kid]} ({kid.hex()})"
        return True, f"signed by {self.names[kid]} ({kid.hex()})"
