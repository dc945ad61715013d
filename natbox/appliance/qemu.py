"""The appliance's QEMU command line: built here and nowhere else.

Two virtio NICs (LAN first, so the guest sees it as eth0; WAN as eth1), the serial console
on stdio (`-nographic`: leave with Ctrl-A X), a QMP socket for power off, reset and hard
kill, a second one for tools beside it (`natbox fault` cuts the power through it while
`natbox boot` holds the first), the checkpoint port (router.checkpoint: the device announces
where it is, so a power cut lands at a named point) and the virtual disk. KVM is used only
when a short probe shows a guest really runs: on some hosts /dev/kvm opens but guests hang,
so "can open /dev/kvm" is not enough.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from router.checkpoint import PORT_NAME as CHECKPOINT_PORT

QEMU = "qemu-system-x86_64"
# 384 MB: the firmware (python, Flask, the datapath) leaves about 45 MB free of 256, too
# little for a 24 MB firmware upload beside the running services.
MEMORY_MB = 384
# Two vCPUs: under TCG each is a host thread, so the datapath daemon and the web UI start
# side by side instead of taking turns (about 1.5 s of boot). NATBOX_SMP overrides.
SMP = 2
# The CPU model per accelerator. TCG: qemu64 plus RDRAND (QEMU answers it from the host's
# getrandom), so the guest's random pool is ready at once instead of the first getrandom()
# blocking for about a second on jitter entropy. KVM: the host's own CPU.
CPU = {"tcg": "qemu64,+rdrand", "kvm": "host"}
# For firmware whose manifest names no command line (the board's KERNEL_CMDLINE does).
CMDLINE = "console=ttyS0 quiet panic=-1"
# Fixed MACs: the guest names eth0/eth1 by PCI slot; these make captures easy to read.
LAN_MAC = "52:54:00:4e:42:01"
WAN_MAC = "52:54:00:4e:42:02"
GUEST_UI_PORT = 80


@dataclass(frozen=True)
class Nic:
    """One NIC: `tap` (an existing tap device) or `user` (QEMU's user-mode network)."""

    role: str  # "lan" or "wan"
    kind: str  # "tap" or "user"
    ifname: str | None = None
    host_ui_port: int | None = None  # user mode on the LAN: forward 127.0.0.1:PORT -> :80

    def args(self) -> list[str]:
        mac = LAN_MAC if self.role == "lan" else WAN_MAC
        if self.kind == "tap":
            netdev = f"tap,id={self.role},ifname={self.ifname},script=no,downscript=no"
        elif self.role == "lan":
            # A user-mode "LAN" with the guest's LAN address: the UI is reached by hostfwd.
            netdev = (
                f"user,id=lan,net=192.168.1.0/24,host=192.168.1.2,dhcpstart=192.168.1.50,"
                f"restrict=on,hostfwd=tcp:127.0.0.1:{self.host_ui_port}-192.168.1.1:"
                f"{GUEST_UI_PORT}"
            )
        else:
            netdev = "user,id=wan"  # QEMU's NAT hands the guest a WAN lease by DHCP
        # romfile=: no iPXE option ROM (the kernel is booted directly; saves boot time).
        device = f"virtio-net-pci,netdev={self.role},mac={mac},romfile="
        return ["-netdev", netdev, "-device", device]


def command(
    kernel: Path,
    initrd: Path,
    nics: list[Nic],
    *,
    disk: Path | None = None,
    qmp: Path | None = None,
    control: Path | None = None,
    checkpoint: Path | None = None,
    accel: str = "tcg",
    cmdline: str = CMDLINE,
    memory_mb: int = MEMORY_MB,
    netns: str | None = None,
) -> list[str]:
    """``netns``: run QEMU inside that namespace (its taps live there)."""
    smp = os.environ.get("NATBOX_SMP", str(SMP))
    argv = [QEMU, "-accel", accel, "-cpu", CPU[accel], "-smp", smp, "-m", str(memory_mb)]
    # mon:stdio keeps the Ctrl-A escapes (Ctrl-A X quits) even though -qmp replaces the
    # default monitor that -nographic would otherwise mux onto stdio.
    argv += ["-nographic", "-serial", "mon:stdio", "-no-reboot"]
    argv += ["-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline]
    for nic in nics:
        argv += nic.args()
    if disk is not None:
        argv += ["-drive", f"file={disk},format=raw,if=virtio,cache=writeback"]
    for socket_path in (qmp, control):
        if socket_path is not None:
            argv += ["-qmp", f"unix:{socket_path},server=on,wait=off"]
    if checkpoint is not None:
        argv += ["-chardev", f"socket,id=checkpoint,path={checkpoint},server=on,wait=off",
                 "-device", "virtio-serial-pci,id=vser",
                 "-device", f"virtserialport,bus=vser.0,chardev=checkpoint,"
                 f"name={CHECKPOINT_PORT}"]  # fmt: skip
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def probe_kvm(kernel: Path, timeout: float = 4.0) -> bool:
    """True when a KVM guest prints its first kernel line within ``timeout`` seconds."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    argv = [QEMU, "-accel", "kvm", "-m", "64", "-nographic", "-no-reboot", "-kernel",
            str(kernel), "-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1"]  # fmt: skip
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    except OSError:
        return False
    seen = b""
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while b"Linux version" not in seen and time.monotonic() < deadline:
            if sel.select(0.2):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
    finally:
        proc.kill()
        proc.wait()
    return b"Linux version" in seen


def accelerator(kernel: Path) -> str:
    """NATBOX_ACCEL=kvm|tcg overrides; otherwise probe once per host boot (cached)."""
    forced = os.environ.get("NATBOX_ACCEL")
    if forced:
        return forced
    cache = Path(os.environ.get("NATBOX_CACHE", Path.home() / ".cache/natbox")) / "accel"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    try:
        cached_id, accel = cache.read_text().split()
        if cached_id == boot_id:
            return accel
    except (OSError, ValueError):
        pass
    accel = "kvm" if probe_kvm(kernel) else "tcg"
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(f"{boot_id} {accel}\n")
    except OSError:  # only a cache (no writable home, say): probe again next time
        pass
    return accel
