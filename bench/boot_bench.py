"""Appliance boot time under QEMU (the accelerator `natbox boot` would pick: TCG here).

Per run, from power-on, which here starts with the host-side boot stage (our bootloader:
verify slot A's signature and hashes, unpack the kernel; boot.bootstage_s) and goes on with
QEMU: the console's login prompt (boot.login_prompt_s) and the web UI answering HTTP 200 on
the LAN address (boot.ui_ready_s, reached through a user-mode hostfwd to 192.168.1.1:80);
and, as the floor, the same kernel and initramfs booted by QEMU straight into /bin/echo
instead of init (boot.kernel_floor_s: firmware, kernel and initramfs unpacking).
Median of 3 runs each; the runs are sequential (never two VMs at once).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

RUNS = 3
TREE = Path(__file__).resolve().parent.parent


def _boot_once(session) -> tuple[float, float, float]:
    import pexpect

    from natbox.appliance.console import Console

    ui_url = session.ui_url
    t0 = time.monotonic()
    # Power-on: the bootloader stage (slot choice, verification, unpacking), then QEMU.
    argv = session.power_on(log=lambda line: None)
    stage = time.monotonic() - t0
    child = pexpect.spawn(argv[0], argv[1:])
    try:
        Console(child).wait_login_prompt(timeout=120)
        login = time.monotonic() - t0
        while True:
            try:
                with urllib.request.urlopen(ui_url, timeout=2) as reply:
                    if reply.status == 200:
                        return stage, login, time.monotonic() - t0
            except OSError:
                pass
            if time.monotonic() - t0 > 120:
                raise TimeoutError("the web UI never answered")
            time.sleep(0.05)
    finally:
        child.terminate(force=True)


def _floor_once(session) -> float:
    import pexpect

    from natbox.appliance import qemu

    b = session.bootable
    cmdline = f"{b.cmdline or qemu.CMDLINE} rdinit=/bin/echo -- NBX_USERSPACE"
    argv = qemu.command(b.kernel, b.initrd, [], cmdline=cmdline)
    t0 = time.monotonic()
    child = pexpect.spawn(argv[0], argv[1:])
    try:
        child.expect("NBX_USERSPACE", timeout=120)
        return time.monotonic() - t0
    finally:
        child.terminate(force=True)


def main() -> None:
    import os
    import shutil

    if shutil.which("qemu-system-x86_64") is None:
        print("boot_bench: skipped (no qemu-system-x86_64)")
        return
    from natbox.appliance.session import Options, open_session

    os.environ.setdefault("NATBOX_TREE", str(TREE))
    with tempfile.TemporaryDirectory(prefix="natbox-boot-bench-") as tmp:
        session = open_session(Options(workdir=Path(tmp), network="user"), log=lambda m: None)
        try:
            floors, stages, logins, uis = [], [], [], []
            for _ in range(RUNS):
                stage, login, ui = _boot_once(session)
                floors.append(_floor_once(session))  # the kernel and initramfs just booted
                stages.append(stage)
                logins.append(login)
                uis.append(ui)
        finally:
            session.close()
    accel = f"accelerator: {session.accel}"
    print(f"# {accel}; runs: bootstage {stages}, login {logins}, ui {uis}, floor {floors}")
    print(f"BENCH boot.bootstage_s {statistics.median(stages):.2f} s")
    print(f"BENCH boot.login_prompt_s {statistics.median(logins):.2f} s")
    print(f"BENCH boot.ui_ready_s {statistics.median(uis):.2f} s")
    print(f"BENCH boot.kernel_floor_s {statistics.median(floors):.2f} s")


if __name__ == "__main__":
    main()
