"""The routers of one pytest process, one per mode, made on first use and removed at its end
(or at exit, or by the next run when this one was killed: each lab records its owner's PID,
and a lab whose owner is gone is removed). Names are unique per lab, so xdist workers and
other users' sessions never meet."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from natbox.hil.router import NetnsRouter, Router, VmRouter, wait_for_api
from natbox.lab import attach
from natbox.lab import lab as labs
from natbox.lab import names as N
from natbox.lab.lab import Lab, LabOptions

API_WAIT = 120.0  # seconds for the web UI to answer once the router forwards


class Unavailable(Exception):
    """This machine cannot run the mode (no root, no QEMU): the test is skipped, saying why."""


@dataclass
class Pool:
    workdir: Path
    clients: int = 2
    firmware: Path | None = None
    keyring: Path | None = None
    lan_interfaces: list[str] = field(default_factory=list)
    routers: dict[str, Router] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)

    def get(self, mode: str) -> Router:
        if mode in self.routers:
            return self.routers[mode]
        if mode in self.failed:  # one failed boot, not one per test
            raise RuntimeError(f"the {mode} router did not come up: {self.failed[mode]}")
        missing = self.missing(mode)
        if missing:
            raise Unavailable(f"natbox {mode} mode needs {missing}")
        labs.remove_orphans()
        started = time.monotonic()
        try:
            router = self.make(mode)
        except Exception as error:
            self.failed[mode] = str(error)
            raise
        router.ready_s = time.monotonic() - started
        self.routers[mode] = router
        return router

    @staticmethod
    def missing(mode: str) -> str:
        if os.geteuid() != 0 and not capable(CAP_NET_ADMIN, CAP_SYS_ADMIN):
            return "root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) for its network namespaces"
        programs = ["ip", "tcpdump", "udhcpc", "dnsmasq", "nft"]
        if mode == "vm":
            programs.append("qemu-system-x86_64")
        absent = [p for p in programs if shutil.which(p) is None]
        if mode == "vm" and not os.path.exists("/dev/net/tun"):
            absent.append("/dev/net/tun (its taps)")
        return ", ".join(absent)

    def discard(self, router: Router) -> None:
        """Close a router that cannot be reset; the next test gets a new one."""
        for mode, mine in list(self.routers.items()):
            if mine is router:
                del self.routers[mode]
                with contextlib.suppress(Exception):
                    router.close()

    def make(self, mode: str) -> Router:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pcaps = self.workdir / mode / "pcap"
        shutil.rmtree(pcaps, ignore_errors=True)
        if mode == "netns":
            lab = Lab(N.new_id(), LabOptions(clients=self.clients, pcap_dir=str(pcaps), ui=True,
                                             ui_port=free_port()), owner=os.getpid())  # fmt: skip
            lab.up()
            router: Router = NetnsRouter(lab)
        else:
            router = self.boot()
        try:
            for interface in self.lan_interfaces:
                attach.attach(router.lab, interface)
            wait_for_api(router, API_WAIT)
            router.take_baseline()
        except BaseException:
            router.close()
            raise
        return router

    def boot(self) -> Router:
        """An appliance on a fresh disk (what an earlier session left, an update's slot B
        or its settings, is not this one's starting point), its firmware built once for
        all the xdist workers."""
        from natbox.appliance.driver import Appliance
        from natbox.appliance.session import firmware_and_keyring

        work = self.workdir / "vm"
        shutil.rmtree(work, ignore_errors=True)
        if self.firmware is None:  # the build takes a lock of its own: workers build it once
            firmware_and_keyring(build=True, log=lambda line: None)
        box = Appliance(work, build=False, firmware=self.firmware, keyring=self.keyring,
                        clients=self.clients + 1, owner=os.getpid())  # fmt: skip
        try:
            return VmRouter(box)
        except BaseException:
            box.close()
            raise

    def close(self, mode: str | None = None) -> None:
        """Shut the routers down (only ``mode``'s, when given; the next ``get`` makes a new
        one) and write the bench's metrics."""
        while self.routers:
            if mode is None:
                which, router = self.routers.popitem()
            elif mode in self.routers:
                which, router = mode, self.routers.pop(mode)
            else:
                break
            try:
                self.metrics.append({"mode": which, "ready_s": router.ready_s,
                                     "rss_kb": router.peak_rss_kb()})  # fmt: skip
            finally:
                router.close()
        out = os.environ.get("NATBOX_HIL_METRICS")
        if out and self.metrics:
            with open(out, "a") as f:
                for row in self.metrics:
                    f.write(json.dumps(row) + "\n")
            self.metrics.clear()


CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21


def capable(*capabilities: int) -> bool:
    with open("/proc/self/status") as f:
        effective = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    return all(effective >> c & 1 for c in capabilities)


def free_port() -> int:
    from natbox.appliance.session import free_port as pick

    return pick()
