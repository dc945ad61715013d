"""The appliance harness: one boot per test session, a console per test with its transcript
(kept with the link pcaps in out/vm/ when the test fails), and a reboot when a test left the
device unusable."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from pathlib import Path

import pytest

TREE = Path(__file__).resolve().parents[2]
KEPT = TREE / "out" / "vm"


class Appliance:
    def __init__(self, workdir: Path):
        import pexpect

        from natbox.appliance.session import Options, open_session

        self.pexpect = pexpect
        self.pcaps = workdir / "pcap"
        os.environ.setdefault("NATBOX_TREE", str(TREE))
        self.session = open_session(
            Options(workdir=workdir, network="lab", pcap_dir=str(self.pcaps)), log=lambda m: None
        )
        self.lab = self.session.lab
        self.transcript = io.BytesIO()
        self.child = None
        self.console = None
        try:
            self.boot()
        except BaseException:
            self.close()  # a boot that fails must not leave the lab and QEMU behind
            raise

    def boot(self) -> None:
        from natbox.appliance.console import Console

        # The bootloader stage runs at every power-on: it picks the slot as the board would.
        argv = self.session.power_on(log=self.note)
        self.child = self.pexpect.spawn(argv[0], argv[1:])
        self.console = Console(self.child, self)
        self.console.wait_login_prompt(90)
        self.console.login()
        self.wait_router()

    def wait_router(self) -> None:
        """The login prompt comes before the daemons are up: wait for the control socket."""
        self.console.check(
            "i=0; while [ ! -S /run/natbox/router.sock ] && [ $i -lt 300 ]; do sleep 0.1; "
            "i=$((i+1)); done; test -S /run/natbox/router.sock",
            60,
        )
        # ... and for the WAN lease (the daemon notices it at its next link poll).
        self.console.check(
            "i=0; while ! ip -4 addr show dev eth1 | grep -q inet && [ $i -lt 300 ]; do "
            "sleep 0.1; i=$((i+1)); done; ip -4 addr show dev eth1 | grep -q inet && sleep 1",
            60,
        )

    def note(self, line: str) -> None:
        self.transcript.write(f"[natbox] {line}\n".encode())

    def expect_reboot(self, timeout: float = 120) -> None:
        """The guest reboots itself (an update, a failed health check): QEMU exits under
        -no-reboot; boot again through the bootloader stage, log in, wait for the router."""
        self.child.expect(self.pexpect.EOF, timeout=timeout)
        self.child.close()
        self.boot()

    def follow_reboots(self, until_slot: str, timeout: float = 300, most: int = 6) -> list[str]:
        """The guest reboots itself, perhaps several times (a trial that fails its health
        check): power on through the bootloader stage after each reboot, without logging in,
        until it boots ``until_slot``; then log in. Returns the slots booted, in order."""
        booted: list[str] = []
        self.child.expect(self.pexpect.EOF, timeout=timeout)
        self.child.close()
        from natbox.appliance.console import Console

        while True:
            argv = self.session.power_on(log=self.note)
            booted.append(self.session.bootable.slot)
            self.child = self.pexpect.spawn(argv[0], argv[1:])
            self.console = Console(self.child, self)
            if booted[-1] == until_slot or len(booted) >= most:
                self.console.wait_login_prompt(90)
                self.console.login()
                self.wait_router()
                return booted
            self.child.expect(self.pexpect.EOF, timeout=timeout)
            self.child.close()

    # pexpect writes what it reads here: into the current test's transcript
    def write(self, data: bytes) -> None:
        self.transcript.write(data)

    def flush(self) -> None:
        pass

    def reboot(self) -> None:
        """Power-cycle: QEMU runs with -no-reboot (a reset ends it), so sync if the guest
        still answers, pull the plug through QMP and boot again from the same disk."""
        from natbox.appliance.qmp import Qmp

        # A broken device may not answer: the power cut is the point then.
        with contextlib.suppress(Exception):
            self.console.run("sync", 30)
        try:
            qmp = Qmp(str(self.session.qmp_path), timeout=5)
            qmp.kill()
            qmp.close()
        except OSError:
            pass
        self.child.expect(self.pexpect.EOF, timeout=30)
        self.child.close()
        self.boot()

    def healthy(self) -> bool:
        try:
            return self.console.run("true", 10) == ("", 0)
        except Exception:
            return False

    def close(self) -> None:
        if self.child is not None:
            self.child.terminate(force=True)
        self.session.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def appliance_class():
    """For a test module that needs an appliance of its own (its own disk and boot)."""
    return Appliance


@pytest.fixture(scope="session")
def appliance(tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("qemu-system-x86_64") is None:
        pytest.skip("the appliance tests need root and qemu-system-x86_64")
    a = Appliance(tmp_path_factory.mktemp("appliance"))
    yield a
    a.close()


@pytest.fixture
def device(appliance, request):
    appliance.transcript = io.BytesIO()
    started = time.monotonic()
    yield appliance
    reports = [getattr(request.node, f"rep_{w}", None) for w in ("setup", "call")]
    failed = any(r is not None and r.failed for r in reports)
    if failed:
        keep = KEPT / request.node.name
        keep.mkdir(parents=True, exist_ok=True)
        (keep / "console.log").write_bytes(appliance.transcript.getvalue())
        if appliance.pcaps.is_dir():
            for pcap in appliance.pcaps.glob("*.pcap"):
                shutil.copyfile(pcap, keep / pcap.name)
        print(f"kept {keep} ({time.monotonic() - started:.1f} s)")
    if not appliance.healthy():  # recover: the next test gets a working device
        appliance.reboot()
