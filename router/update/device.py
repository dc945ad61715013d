"""What the update service works on: the environment, the slots, its work directory, the
keyring and the running firmware's identity. ``appliance()`` is the booted device; the tests
give files instead of block devices."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from router import paths
from router.update import slots as slot_policy
from router.update.bootenv import BootEnv
from router.update.layout import BY_NAME, SLOT_ARGUMENT, SLOTS

ETC = Path(os.environ.get("NATBOX_ETC", "/etc/natbox"))


@dataclass(frozen=True)
class UpdateDevice:
    env: BootEnv
    slots: dict[str, Path]  # slot name -> its block device (or a file in the tests)
    slot_size: int
    work: Path  # the upload, the journal, the configuration kept for a rollback
    config: Path  # the saved configuration
    keyring: Path
    compatible: str
    compat_version: str
    version: str
    booted: str  # the slot this firmware runs from
    lock: Path
    watchdog: Path | None = None  # armed on a trial boot (router.update.trialwatch)

    @property
    def inactive(self) -> str:
        return slot_policy.other(self.booted)


def booted_slot(cmdline: str) -> str:
    for word in cmdline.split():
        name, _, value = word.partition("=")
        if name == SLOT_ARGUMENT and value in SLOTS:
            return value
    return SLOTS[0]  # a boot without the bootloader stage (a bare initramfs) runs "A"


def _etc(name: str) -> str:
    return (ETC / name).read_text().strip()


def appliance() -> UpdateDevice:
    return UpdateDevice(
        env=BootEnv(BY_NAME["bootenv"].guest_device),
        slots={s: Path(BY_NAME[s].guest_device) for s in SLOTS},
        slot_size=BY_NAME["A"].size,
        work=paths.DATA / "update",
        config=paths.saved_store().path,
        keyring=ETC / "keyring",
        compatible=_etc("board"),
        compat_version=_etc("compat_version"),
        version=_etc("version"),
        booted=booted_slot(Path("/proc/cmdline").read_text()),
        lock=paths.RUN / "update.lock",
        watchdog=Path("/dev/watchdog"),
    )
