"""A device on files: the boot environment, two slots and the data directory in tmp_path,
a keyring trusting a fresh key, and a reboot that is only recorded."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox.firmware.keys import public_pem
from router.update import slots
from router.update.bootenv import BootEnv
from router.update.device import UpdateDevice
from router.update.layout import ENV_COPY_OFFSETS, ENV_SIZE
from router.update.service import UpdateService

SLOT_BYTES = 64 * 1024


@dataclass
class FakeDevice:
    device: UpdateDevice
    key: Ed25519PrivateKey
    reboots: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)

    def service(self, **changes) -> UpdateService:
        return UpdateService(
            replace(self.device, **changes),
            reboot=lambda: self.reboots.append("reboot"),
            log=self.logged.append,
        )

    def booted_from(self, slot: str, version: str) -> UpdateService:
        """The same device after the bootloader started ``slot`` running ``version``."""
        return self.service(booted=slot, version=version)


@pytest.fixture
def fake(tmp_path: Path) -> FakeDevice:
    env_file = tmp_path / "bootenv"
    with open(env_file, "wb") as f:
        f.truncate(ENV_COPY_OFFSETS[1] + ENV_SIZE)
    BootEnv(env_file).save(slots.initial("0.1.0", "A"))
    slot_files = {}
    for name in ("A", "B"):
        path = tmp_path / f"slot{name}"
        with open(path, "wb") as f:
            f.truncate(SLOT_BYTES)
        slot_files[name] = path
    key = Ed25519PrivateKey.generate()
    ring = tmp_path / "keyring"
    ring.mkdir()
    (ring / "release.pub").write_bytes(public_pem(key.public_key()))
    (tmp_path / "data").mkdir()
    device = UpdateDevice(
        env=BootEnv(env_file),
        slots=slot_files,
        slot_size=SLOT_BYTES,
        work=tmp_path / "data" / "update",
        config=tmp_path / "data" / "config.json",
        keyring=ring,
        compatible="natbox,qemu-x86_64",
        compat_version="1.0",
        version="0.1.0",
        booted="A",
        lock=tmp_path / "run" / "update.lock",
    )
    return FakeDevice(device, key)
