"""The host-side boot stage: what a bootloader does on the real device.

It reads the active slot (A for now) from the virtual disk, verifies the firmware there
(format, signature against the device keyring, board, hashes) and hands back the kernel and
initramfs to boot. An unverifiable slot is never booted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from natbox.appliance import disk
from natbox.firmware import kernel_payload
from natbox.firmware.format import Manifest
from natbox.firmware.keys import Keyring
from natbox.firmware.verify import validate

COMPATIBLE = "natbox,qemu-x86_64"


@dataclass(frozen=True)
class Bootable:
    kernel: Path
    initrd: Path
    manifest: Manifest
    slot: str
    cmdline: str = ""  # the firmware's own (its signed manifest); "" means QEMU's default


class BootError(RuntimeError):
    pass


def install_if_changed(disk_path: Path, firmware: bytes, slot: str = "A") -> bool:
    """Development flow: put a freshly built firmware into the slot (a no-op when it is
    already there). The firmware update issue replaces this with a real update path."""
    if not disk_path.exists():
        disk.create(disk_path)
    import hashlib

    info = disk.read_env(disk_path)["slots"].get(slot) or {}
    if info.get("sha256") == hashlib.sha256(firmware).hexdigest():
        return False
    disk.write_slot(disk_path, slot, firmware)
    return True


def prepare(disk_path: Path, keyring_dir: Path, workdir: Path, slot: str = "A") -> Bootable:
    data = disk.read_slot(disk_path, slot)
    report = validate(data, Keyring.from_dir(keyring_dir), COMPATIBLE)
    if not report.valid:
        raise BootError(f"slot {slot} does not verify:\n" + "\n".join(report.lines()))
    fw = report.unpacked
    workdir.mkdir(parents=True, exist_ok=True)
    kinds = {p["name"]: p["type"] for p in fw.manifest.payloads}
    try:
        image = kernel_payload.bootable(kinds["kernel"], fw.payloads["kernel"])
    except kernel_payload.KernelPayloadError as error:
        raise BootError(f"slot {slot}: {error}") from error
    kernel, initrd = workdir / "vmlinux", workdir / "initramfs"
    kernel.write_bytes(image)
    initrd.write_bytes(fw.payloads["rootfs"])
    cmdline = fw.manifest.extra.get("kernel_cmdline", "")
    return Bootable(kernel, initrd, fw.manifest, slot, cmdline if isinstance(cmdline, str) else "")
