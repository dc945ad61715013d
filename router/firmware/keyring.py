"""The device keyring: trusted Ed25519 public keys by key id, several at once (rotation), and
revoked key ids. Verification only; the device never holds a private key."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from router.firmware.format import KEY_ID_LEN, SIGNING_CONTEXT


def key_id(public: Ed25519PublicKey) -> bytes:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:KEY_ID_LEN]


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
