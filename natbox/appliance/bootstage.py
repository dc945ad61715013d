"""The host-side boot stage: what the bootloader does on the real device.

It reads the redundant boot environment from the virtual disk (either good copy, the newer by
flag), lets router.update.slots choose the slot (one attempt taken and written back before the
slot is verified), verifies the firmware there (format, signature against the device keyring,
board, hashes) and hands back the kernel and initramfs to boot, with ``natbox.slot=<slot>`` on
the kernel command line so the device knows which slot it runs from. A slot that does not
verify is never booted; when no slot can boot, BootError says why for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from natbox.appliance import disk
from natbox.firmware import kernel_payload
from router.firmware.format import FormatError, Manifest, read_head
from router.firmware.keyring import Keyring
from router.firmware.verify import Report
from router.update import slots
from router.update.bootenv import EnvError
from router.update.layout import BY_NAME, SLOT_ARGUMENT
from router.update.service import slot_report

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


def install_if_changed(disk_path: Path, firmware: bytes, log=print) -> bool:
    """Development flow: a freshly built firmware goes into slot A, which then boots first
    (a no-op when slot A already holds it). A disk of an older layout is made anew."""
    if disk_path.exists() and not disk.matches_layout(disk_path):
        log(f"natbox boot: {disk_path} has an older layout; making a new disk")
        disk_path.unlink()
    if not disk_path.exists():
        disk.create(disk_path)
    else:
        try:
            if disk.read_slot(disk_path, "A") == firmware:
                return False
        except ValueError:
            pass
    version = read_head(lambda at, n: firmware[at : at + n])[0].version
    env = disk.environment(disk_path)
    try:
        current = env.load()
    except EnvError:
        current = {}
    disk.write_slot(disk_path, "A", firmware)
    new = slots.initial(version, "A")
    if slots.state(current, "B") in ("good", "trial"):  # keep a good B as the fallback
        for name in (slots.left_name("B"), slots.state_name("B"), slots.version_name("B")):
            new[name] = current.get(name, "")
    env.save(new)
    return True


def prepare(disk_path: Path, keyring_dir: Path, workdir: Path, log=print) -> Bootable:
    env = disk.environment(disk_path)
    try:
        variables = env.load()
    except EnvError as error:
        variables = slots.fallback(slot_versions(disk_path))
        log(f"bootloader: {error}; the default environment (order A B, every slot holding a "
            "firmware good) is used and written back")  # fmt: skip
        env.save(variables)
    except OSError as error:
        raise BootError(f"bootloader: {error}") from error
    keyring = Keyring.from_dir(keyring_dir)
    verified: dict[str, Report] = {}

    def verify(slot: str) -> str | None:
        part = BY_NAME[slot]
        result = slot_report(disk_path, part.offset, part.size, keyring, COMPATIBLE)
        if isinstance(result, str):
            return result
        verified[slot] = result
        return None

    selection = slots.select(variables, verify, env.save)
    for note in selection.notes:
        log(f"bootloader: {note}")
    if selection.slot is None:
        raise BootError("bootloader: no slot can boot:\n  " + "\n  ".join(selection.notes))
    slot = selection.slot
    fw = verified[slot].unpacked
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
    cmdline = cmdline if isinstance(cmdline, str) else ""
    return Bootable(kernel, initrd, fw.manifest, slot, cmdline)


def slot_versions(disk_path: Path) -> dict[str, str]:
    """What each slot's header says it holds ("" when it holds no firmware)."""
    versions = {}
    for slot in ("A", "B"):
        part = BY_NAME[slot]
        with open(disk_path, "rb") as f:

            def read_at(at: int, n: int, f=f, base=part.offset) -> bytes:
                f.seek(base + at)
                return f.read(n)

            try:
                versions[slot] = read_head(read_at)[0].version
            except (FormatError, ValueError):  # the slot holds no firmware we know
                versions[slot] = ""
    return versions


def kernel_command_line(bootable: Bootable, default: str) -> str:
    return f"{bootable.cmdline or default} {SLOT_ARGUMENT}={bootable.slot}"
