"""A fake update device for the Firmware page and API tests: the boot environment and both
slots are plain files, the keyring trusts one fresh test key, reboots are recorded. The
firmware files come from fwfactory (version 0.1.0): the device's running version decides
whether that is an update (0.0.9) or a downgrade (0.2.0).

tox -e webui-device installs the firmware's own cryptography (38.0.4), so these tests run
on the device's stack too."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import BOARD, make
from webui_clients import FAST_HASH, PASSWORD_HASH

from natbox.firmware.keys import public_pem
from router.model import AdminAccount, RouterConfig
from router.store import ConfigStore
from router.update import slots
from router.update.bootenv import BootEnv
from router.update.device import UpdateDevice
from router.update.service import UpdateService
from webui import create_app

SLOT_SIZE = 4 * 1024 * 1024
ENV_BYTES = 0x20000
NEWER, RUNNING = "0.1.0", "0.0.9"  # fwfactory's firmware, the fake device's


@dataclass
class FakeRouter:
    root: Path
    key: Ed25519PrivateKey
    service: UpdateService
    reboots: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    @property
    def device(self) -> UpdateDevice:
        return self.service.device

    def env(self) -> dict[str, str]:
        return self.device.env.load()

    def slot_bytes(self, slot: str, n: int | None = None) -> bytes:
        data = self.device.slots[slot].read_bytes()
        return data if n is None else data[:n]

    def firmware(self, **kwargs) -> bytes:
        return make(self.key, **kwargs)

    def put_in_slot(self, slot: str, data: bytes, state: str = "good") -> None:
        """A firmware already installed in ``slot`` (as a finished update leaves it)."""
        with open(self.device.slots[slot], "r+b") as f:
            f.write(data)
        env = slots.switch_to(self.env(), slot, NEWER)
        env = slots.mark_good(env, slot) if state == "good" else env
        env = env | {slots.ORDER: f"{self.device.booted} {slot}"}  # the booted one first
        self.device.env.save(env)


def stranger_firmware() -> bytes:
    """A well-formed firmware signed by a key no keyring trusts."""
    return make(Ed25519PrivateKey.generate())


def fake_router(root: Path, version: str = RUNNING) -> FakeRouter:
    root.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    keyring = root / "keyring"
    keyring.mkdir()
    (keyring / "test.pub").write_bytes(public_pem(key.public_key()))
    env_path = root / "env"
    with open(env_path, "wb") as f:
        f.truncate(ENV_BYTES)
    env = BootEnv(env_path)
    env.save(slots.initial(version))
    slot_paths = {}
    for slot in slots.SLOTS:
        slot_paths[slot] = root / f"slot{slot}"
        with open(slot_paths[slot], "wb") as f:
            f.truncate(SLOT_SIZE)
    device = UpdateDevice(
        env=env,
        slots=slot_paths,
        slot_size=SLOT_SIZE,
        work=root / "data" / "update",
        config=root / "data" / "config.json",
        keyring=keyring,
        compatible=BOARD,
        compat_version="1.0",
        version=version,
        booted="A",
        lock=root / "run" / "update.lock",
    )
    router = FakeRouter(root, key, service=None)  # type: ignore[arg-type]
    router.service = UpdateService(
        device, reboot=lambda: router.reboots.append("reboot"), log=router.logs.append
    )
    return router


def firmware_app(config_path: Path, clock, service: UpdateService | None):
    """An app whose admin has chosen webui_clients.PASSWORD, with the update service; the
    reboot after a rollback is not delayed (the tests join the job instead)."""
    admin = AdminAccount(password_hash=PASSWORD_HASH, must_change_password=False)
    ConfigStore(config_path).save(RouterConfig(admin=admin))
    test_config = {"CONFIG_PATH": str(config_path), "CLOCK": clock, "PASSWORD_METHOD": FAST_HASH,
                   "FIRMWARE_REBOOT_DELAY": 0}  # fmt: skip
    return create_app(test_config, update_service=service)


def jobs(app):
    return app.extensions["natbox"].firmware_jobs
