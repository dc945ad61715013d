"""One appliance, set up and torn down: firmware into slot A (built if stale), the network (lab
taps, the user's taps or bridges, or user mode) and, for every power-on, the boot stage and the
QEMU argv (``Session.power_on``: a reboot runs the bootloader again, as on hardware).
`natbox boot` runs the argv on the terminal; the test fixture runs it under pexpect."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from natbox.appliance import bootstage, network, qemu
from natbox.lab import names as N

# In the work directory, where tools find a running appliance (natbox fault).
CONTROL_SOCKET = "control.sock"
CHECKPOINT_SOCKET = "checkpoint.sock"

# The source tree (tox installs natbox into site-packages): the current directory by default.
TREE = Path(os.environ.get("NATBOX_TREE", os.getcwd())).resolve()


@dataclass
class Options:
    workdir: Path = field(default_factory=lambda: TREE / "build" / "appliance")
    network: str = "auto"  # auto (lab as root, user mode otherwise), lab, user, taps, bridges
    lan: str | None = None  # the user's tap or bridge names
    wan: str | None = None
    ui_port: int = 0  # 0: pick a free one
    build: bool = True
    lab_id: str | None = None
    clients: int = 2
    pcap_dir: str | None = None
    firmware: Path | None = None  # boot this file (the user's own build), not the tree's
    keyring: Path | None = None  # the keys that verify it (the tree's build keyring)
    owner: int | None = None  # the lab's owner (natbox.lab.lab.remove_orphans)


@dataclass
class Session:
    options: Options
    argv: list[str] = field(default_factory=list)
    qmp_path: Path | None = None
    control_path: Path | None = None  # a second QMP socket, for tools (natbox fault)
    checkpoint_path: Path | None = None  # the host end of the device's checkpoint port
    lab: network.ApplianceLab | None = None
    own_taps: list[qemu.Nic] = field(default_factory=list)
    ui_url: str | None = None
    notes: list[str] = field(default_factory=list)
    bootable: bootstage.Bootable | None = None
    disk: Path | None = None
    keyring: Path | None = None
    nics: list[qemu.Nic] = field(default_factory=list)
    netns: str | None = None
    accel: str | None = None  # probed at the first power-on
    process: subprocess.Popen | None = None  # QEMU, while natbox boot's power cycles run it

    def power_on(self, log=print) -> list[str]:
        """The bootloader stage (it picks the slot and writes the environment), then the
        QEMU command line for that slot. BootError when no slot can boot."""
        assert self.disk is not None and self.keyring is not None
        work = self.options.workdir
        self.bootable = bootstage.prepare(self.disk, self.keyring, work / "boot", log=log)
        if self.accel is None:
            self.accel = qemu.accelerator(self.bootable.kernel)
            log(f"natbox boot: accelerator: {self.accel}")
        self.argv = qemu.command(
            self.bootable.kernel,
            self.bootable.initrd,
            self.nics,
            disk=self.disk,
            qmp=self.qmp_path,
            control=self.control_path,
            checkpoint=self.checkpoint_path,
            accel=self.accel,
            cmdline=bootstage.kernel_command_line(self.bootable, qemu.CMDLINE),
            netns=self.netns,
        )
        for path in (self.qmp_path, self.control_path, self.checkpoint_path):
            if path is not None:
                path.unlink(missing_ok=True)
        return self.argv

    def close(self) -> None:
        if self.lab is not None:
            self.lab.down()
            self.lab = None
        network.remove_taps(self.own_taps)
        self.own_taps = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def firmware_and_keyring(build: bool, log=print, firmware: Path | None = None,
                         keyring: Path | None = None) -> tuple[Path, Path]:  # fmt: skip
    from natbox.imagebuild.build import make_build

    if firmware is not None and keyring is not None:  # no natbox checkout needed
        return firmware, keyring
    b = make_build(TREE, quiet=True)
    if firmware is not None:
        return firmware, b.build_dir / "keyring"
    if build:  # every step is skipped when its inputs did not change: "build if stale"
        log("natbox boot: building the firmware if it is missing or stale ...")
        b.run()
    if not b.firmware_path.exists():
        raise FileNotFoundError(f"{b.firmware_path}: no firmware; run `make image`")
    return b.firmware_path, b.build_dir / "keyring"


def open_session(options: Options, log=print) -> Session:
    session = Session(options)
    firmware, keyring = firmware_and_keyring(options.build, log, options.firmware,
                                             options.keyring)  # fmt: skip
    work = options.workdir
    work.mkdir(parents=True, exist_ok=True)
    session.disk, session.keyring = work / "disk.img", keyring
    if bootstage.install_if_changed(session.disk, firmware.read_bytes(), log=log):
        log(f"natbox boot: {firmware.name} written to slot A of {session.disk}")
    session.qmp_path = work / "qmp.sock"
    session.control_path = work / CONTROL_SOCKET
    session.checkpoint_path = work / CHECKPOINT_SOCKET
    ui_port = options.ui_port or free_port()
    kind = options.network
    if kind == "auto":
        kind = "lab" if os.geteuid() == 0 else "user"
    netns_name = None
    try:
        if kind == "lab":
            lab_id = options.lab_id or N.new_id()
            session.lab = network.ApplianceLab(lab_id, max(options.clients, 2), options.pcap_dir,
                                               options.owner)  # fmt: skip
            session.lab.up()
            session.lab.forward_ui(ui_port)
            nics = network.tap_nics()
            netns_name = session.lab.names.switch
            session.notes.append(
                f"lab {lab_id}: LAN clients {session.lab.names.client(1)}.. on the appliance's "
                f"LAN, internet {session.lab.names.internet} on its WAN"
            )
        elif kind == "taps":
            nics = [qemu.Nic("lan", "tap", options.lan), qemu.Nic("wan", "tap", options.wan)]
            ui_port = None
        elif kind == "bridges":
            nics = network.bridge_taps(options.lan, options.wan, "nbxt")
            session.own_taps = nics
            ui_port = None
        else:
            nics = network.user_mode_nics(ui_port)
            session.notes.append(
                "not root: QEMU user-mode networking (no lab, no taps); the UI is forwarded"
            )
        session.nics, session.netns = nics, netns_name
    except BaseException:
        session.close()
        raise
    if ui_port:
        session.ui_url = f"http://127.0.0.1:{ui_port}/"
    return session
