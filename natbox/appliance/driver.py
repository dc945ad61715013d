"""The booted appliance, driven from the host: power on through the bootloader stage, the
console under pexpect (log in, run commands), reboots followed, the power cut at a named
checkpoint (natbox.faults.checkpoints) or whenever asked, and faults put on the disk while it
is off. natbox's own vm tests and `natbox fault matrix` drive the appliance through it."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from natbox.appliance import disk as appliance_disk
from natbox.appliance.console import Console, ConsoleError
from natbox.appliance.qmp import Qmp
from natbox.appliance.session import Options, open_session
from natbox.faults.checkpoints import Listener, Reached, Trigger


class DriverError(RuntimeError):
    pass


@dataclass
class Cut:
    """Where the power cuts landed, and the slots booted on the way (between them)."""

    points: list[Reached]
    boots: list[str] = field(default_factory=list)
    seen: list[Reached] = field(default_factory=list)  # every point of the last power-on cut


class Appliance:
    def __init__(self, workdir: Path, env: dict[str, str] | None = None,
                 tree: Path | None = None, build: bool = True, firmware: Path | None = None,
                 keyring: Path | None = None, clients: int = 2,
                 owner: int | None = None, captures: bool = True):  # fmt: skip
        """``env``: boot environment variables set before the first boot; ``build``: build
        the firmware if stale (False: a caller that built it already, perhaps in parallel);
        ``firmware``: boot this file instead (``keyring``: the keys that verify it);
        ``clients``: LAN client namespaces (the last is the UI's management PC); ``owner``:
        the PID the lab dies with (natbox.lab.lab.remove_orphans); ``captures``: tcpdump on
        every link into ``workdir/pcap`` (off for floods and bulk transfers nobody reads)."""
        import pexpect

        self.pexpect = pexpect
        self.pcaps = workdir / "pcap"
        if tree is not None:
            os.environ.setdefault("NATBOX_TREE", str(tree))
        self.session = open_session(
            Options(
                workdir=workdir,
                network="lab",
                pcap_dir=str(self.pcaps) if captures else None,
                build=build,
                firmware=firmware,
                keyring=keyring,
                clients=clients,
                owner=owner,
            ),
            log=lambda m: None,
        )
        self.lab = self.session.lab
        self.transcript = io.BytesIO()
        self.child = None
        self.console: Console | None = None
        self.listener: Listener | None = None
        self.pending: Trigger | None = None  # armed for the next power-on(s) until it fires
        try:
            if env:
                self.set_env(env)
            self.boot()
        except BaseException:
            self.close()  # a boot that fails must not leave the lab and QEMU behind
            raise

    # -- power --------------------------------------------------------------------------------

    def power_on(self) -> None:
        """The bootloader stage (it picks the slot, as the board's would), QEMU, and the host
        end of the checkpoint port, armed with the pending trigger."""
        argv = self.session.power_on(log=self.note)
        self.child = self.pexpect.spawn(argv[0], argv[1:])
        self.console = Console(self.child, self)
        self.listener = Listener(self.session.checkpoint_path, log=self.note).start()
        if self.pending is not None:
            self.listener.arm(self.pending, self.cut_power)

    def boot(self) -> None:
        self.power_on()
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
        # ... for the web UI on the LAN address (the host's forward resets a connection it
        # cannot pass on yet) ...
        self.console.check(
            'i=0; until wget -q -O /dev/null "http://$(cat /run/natbox/lan-address)/login" '
            "2>/dev/null || [ $i -ge 300 ]; do sleep 0.2; i=$((i+1)); done; [ $i -lt 300 ]",
            90,
        )
        # ... and for the WAN lease (the daemon notices it at its next link poll).
        self.console.check(
            "i=0; while ! ip -4 addr show dev eth1 | grep -q inet && [ $i -lt 300 ]; do "
            "sleep 0.1; i=$((i+1)); done; ip -4 addr show dev eth1 | grep -q inet && sleep 1",
            60,
        )

    def cut_power(self) -> None:
        """Pull the plug now (the board comes back when powered on again)."""
        qmp = Qmp(str(self.session.control_path), timeout=5)
        try:
            qmp.power_cut()
        finally:
            qmp.close()

    def stopped(self, timeout: float) -> None:
        """Wait for QEMU to exit (a reboot, a cut); reading the console all the while."""
        self.child.expect(self.pexpect.EOF, timeout=timeout)
        self.child.close()
        if self.listener is not None:
            self.listener.close()

    def power_off(self) -> None:
        """Off, for good (until ``boot``): sync if the guest answers, then QMP quit."""
        with contextlib.suppress(Exception):
            self.console.run("sync", 30)
        try:
            qmp = Qmp(str(self.session.qmp_path), timeout=5)
            qmp.kill()
            qmp.close()
        except OSError:
            pass
        self.stopped(30)

    def reboot(self) -> None:
        """Power-cycle: QEMU runs with -no-reboot (a reset ends it), so sync if the guest
        still answers, pull the plug through QMP and boot again from the same disk."""
        self.power_off()
        self.boot()

    # -- faults ---------------------------------------------------------------------------------

    def cut_at(self, triggers: str | Trigger | list, action: Callable[[], object] | None = None,
               timeout: float = 300, most_boots: int = 8,
               until_slot: str | None = None) -> Cut:  # fmt: skip
        """Arm the trigger(s), start ``action`` (a command that makes the device go there) in
        the background, and wait until the device reaches the point and the power is cut
        there, following the reboots the device makes on its way (a trial boot comes after
        one). Several triggers: after each cut the board powers on and the next is armed
        (the device goes on by itself: the next attempt of a trial, say). Then power on, log
        in and wait for the router (``until_slot``: follow the reboots the device makes until
        it boots that slot, then log in). DriverError if a point never comes."""
        chain = [triggers] if isinstance(triggers, str | Trigger) else list(triggers)
        pending = [t if isinstance(t, Trigger) else Trigger.parse(t) for t in chain]
        cuts: list[Reached] = []
        boots: list[str] = []
        deadline = time.monotonic() + timeout
        if action is not None:
            threading.Thread(target=_quietly, args=(action,), daemon=True).start()
        try:
            while pending:
                self.pending = pending.pop(0)
                self.listener.arm(self.pending, self.cut_power)
                while not self.listener.fired.is_set():
                    if time.monotonic() > deadline:
                        raise DriverError(f"{self.pending}: not reached within {timeout:.0f} s")
                    if self.child.expect([self.pexpect.EOF, self.pexpect.TIMEOUT], 0.5):
                        continue
                    if self.listener.fired.wait(2):
                        break
                    self._power_on_after_exit(boots, most_boots)  # the device rebooted itself
                cuts.append(self.listener.fired_at)
                self.pending = None
                self.stopped(60)
                if pending:
                    self._power_on_after_exit(boots, most_boots, exited=True)
        finally:
            self.pending = None
        seen = list(self.listener.seen)
        if until_slot is None:
            self.boot()
        else:
            boots += self._follow_to(until_slot, timeout, most_boots)
        return Cut(cuts, boots, seen)

    def _power_on_after_exit(self, boots: list[str], most: int, exited: bool = False) -> None:
        if not exited:
            self.child.close()
            self.listener.close()
        if len(boots) >= most:
            raise DriverError(f"{self.pending}: not reached in {most} boots")
        self.power_on()
        boots.append(self.session.bootable.slot)

    def follow_reboots(self, until_slot: str, timeout: float = 300, most: int = 6) -> list[str]:
        """The guest reboots itself, perhaps several times (a trial that fails): power on
        through the bootloader stage after each reboot, without logging in, until it boots
        ``until_slot``; then log in. Returns the slots booted, in order."""
        self.stopped(timeout)
        return self._follow_to(until_slot, timeout, most)

    def _follow_to(self, until_slot: str, timeout: float, most: int) -> list[str]:
        """Power on (the board is off), and again after each reboot, until ``until_slot``
        boots; log in there."""
        booted: list[str] = []
        while True:
            self.power_on()
            booted.append(self.session.bootable.slot)
            if booted[-1] == until_slot or len(booted) >= most:
                self.console.wait_login_prompt(90)
                self.console.login()
                self.wait_router()
                return booted
            self.stopped(timeout)

    def expect_reboot(self, timeout: float = 120) -> None:
        """The guest reboots itself (an update, a failed health check): QEMU exits under
        -no-reboot; boot again through the bootloader stage, log in, wait for the router."""
        self.stopped(timeout)
        self.boot()

    def set_env(self, variables: dict[str, str]) -> None:
        """Boot environment variables set on the disk (the appliance must be off, or not yet
        booted)."""
        env = appliance_disk.environment(self.session.disk)
        env.save(env.load() | variables)

    # -- reading --------------------------------------------------------------------------------

    def note(self, line: str) -> None:
        self.transcript.write(f"[natbox] {line}\n".encode())

    # pexpect writes what it reads here: into the current test's transcript
    def write(self, data: bytes) -> None:
        self.transcript.write(data)

    def flush(self) -> None:
        pass

    def healthy(self) -> bool:
        try:
            return self.console.run("true", 10) == ("", 0)
        except (ConsoleError, OSError, self.pexpect.ExceptionPexpect):
            return False

    def close(self) -> None:
        if self.child is not None:
            self.child.terminate(force=True)
        if self.listener is not None:
            self.listener.close()
        self.session.close()


def _quietly(action: Callable[[], object]) -> None:
    """The action of a power cut loses its device midway: whatever it raises is expected."""
    with contextlib.suppress(Exception):
        action()
