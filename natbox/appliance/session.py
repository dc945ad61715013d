"""One appliance boot, set up and torn down: firmware into slot A (built if stale), the boot
stage, the network (lab taps, the user's taps or bridges, or user mode) and the QEMU argv.
`natbox boot` runs the argv on the terminal; the test fixture runs it under pexpect."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from natbox.appliance import bootstage, network, qemu
from natbox.lab import names as N

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


@dataclass
class Session:
    options: Options
    argv: list[str] = field(default_factory=list)
    qmp_path: Path | None = None
    lab: network.ApplianceLab | None = None
    own_taps: list[qemu.Nic] = field(default_factory=list)
    ui_url: str | None = None
    notes: list[str] = field(default_factory=list)
    bootable: bootstage.Bootable | None = None

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


def firmware_and_keyring(build: bool, log=print) -> tuple[Path, Path]:
    from natbox.imagebuild.build import make_build

    b = make_build(TREE, quiet=True)
    if build:  # every step is skipped when its inputs did not change: "build if stale"
        log("natbox boot: building the firmware if it is missing or stale ...")
        b.run()
    if not b.firmware_path.exists():
        raise FileNotFoundError(f"{b.firmware_path}: no firmware; run `make image`")
    return b.firmware_path, b.build_dir / "keyring"


def open_session(options: Options, log=print) -> Session:
    session = Session(options)
    firmware, keyring = firmware_and_keyring(options.build, log)
    work = options.workdir
    work.mkdir(parents=True, exist_ok=True)
    disk = work / "disk.img"
    if bootstage.install_if_changed(disk, firmware.read_bytes()):
        log(f"natbox boot: {firmware.name} written to slot A of {disk}")
    session.bootable = bootstage.prepare(disk, keyring, work / "boot")
    session.qmp_path = work / "qmp.sock"
    session.qmp_path.unlink(missing_ok=True)
    ui_port = options.ui_port or free_port()
    kind = options.network
    if kind == "auto":
        kind = "lab" if os.geteuid() == 0 else "user"
    netns_name = None
    try:
        if kind == "lab":
            lab_id = options.lab_id or N.new_id()
            session.lab = network.ApplianceLab(lab_id, max(options.clients, 2), options.pcap_dir)
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
        accel = qemu.accelerator(session.bootable.kernel)
        session.notes.append(f"accelerator: {accel}")
        session.argv = qemu.command(
            session.bootable.kernel,
            session.bootable.initrd,
            nics,
            disk=disk,
            qmp=session.qmp_path,
            accel=accel,
            cmdline=session.bootable.cmdline or qemu.CMDLINE,
            netns=netns_name,
        )
    except BaseException:
        session.close()
        raise
    if ui_port:
        session.ui_url = f"http://127.0.0.1:{ui_port}/"
    return session
