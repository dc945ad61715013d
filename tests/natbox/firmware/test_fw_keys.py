"""Development key and keyring."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from natbox.firmware.keys import load_or_create_dev_key, sign
from router.firmware.keyring import Keyring, key_id

TREE = Path(__file__).resolve().parents[3]


def test_dev_key_created_once_and_private(tmp_path: Path) -> None:
    key, created = load_or_create_dev_key(tmp_path / "keys")
    assert created
    mode = stat.S_IMODE((tmp_path / "keys" / "dev-ed25519.key").stat().st_mode)
    assert mode == 0o600
    again, created = load_or_create_dev_key(tmp_path / "keys")
    assert not created
    assert key_id(again.public_key()) == key_id(key.public_key())


def test_keyring_from_dir(tmp_path: Path) -> None:
    k1, _ = load_or_create_dev_key(tmp_path / "a")
    k2, _ = load_or_create_dev_key(tmp_path / "b")
    ring_dir = tmp_path / "ring"
    ring_dir.mkdir()
    (ring_dir / "one.pub").write_bytes((tmp_path / "a" / "dev-ed25519.pub").read_bytes())
    (ring_dir / "two.pub").write_bytes((tmp_path / "b" / "dev-ed25519.pub").read_bytes())
    ring = Keyring.from_dir(ring_dir)
    assert len(ring.keys) == 2
    kid, sig = sign(k2, b"manifest")
    assert ring.verify(kid, sig, b"manifest") == (True, f"signed by two ({kid.hex()})")
    assert not ring.verify(kid, sig, b"manifest!")[0]
    (ring_dir / "revoked").write_text(f"{kid.hex()}  # leaked\n")
    assert "revoked" in Keyring.from_dir(ring_dir).verify(kid, sig, b"manifest")[1]
    assert Keyring.from_dir(ring_dir).verify(*sign(k1, b"m"), b"m")[0]


def test_private_keys_are_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "-C", str(TREE), "check-ignore", "-q", "keys/dev-ed25519.key"], check=False
    )
    assert ignored.returncode == 0
    tracked = subprocess.run(
        ["git", "-C", str(TREE), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [t for t in tracked if t.endswith(".key") or "PRIVATE" in t]
