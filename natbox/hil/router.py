"""The router under test, one interface in both modes: ``NetnsRouter`` (natbox's Python
datapath and web UI in a namespace: up in seconds) and ``VmRouter`` (the firmware booted under
QEMU). Configuration goes through the router's own REST API, as a user's would; ``run`` is the
device's shell (the serial console in vm mode, the router's namespace in netns mode) and
``routerctl`` its command-line tool."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nat.profiles import DEFAULT_PROFILE, PROFILES
from natbox.hil.api import ApiError, RouterApi, Unreachable
from natbox.hil.hosts import Host
from natbox.lab import names as N
from natbox.lab.lab import Lab

PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
PASSWORD = "natbox-hil-Pa55"  # the administrator's, set at the first login
INTERNET_ADDRESSES = (N.WAN_GATEWAY, *N.SERVERS)
ALL_PASSTHROUGHS = "all"  # set_passthrough({"all": False}): every one


@dataclass(frozen=True)
class Forward:
    proto: str
    port: int
    host: str
    host_port: int | None = None
    end: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {"proto": self.proto, "ext_port": self.port, "ext_port_end": self.end,
                "host": self.host, "host_port": self.host_port or self.port}  # fmt: skip


class Router:
    """What every router under test offers. ``lan_clients``, ``internet``: the hosts around
    it; ``links``: the per-link captures of the lab (name -> pcap file)."""

    mode = ""
    lan_address = N.ROUTER_LAN
    wan_address = N.ROUTER_WAN

    def __init__(self, lab: Lab, api_url: str, lan_clients: list[Host], internet: Host):
        self.lab = lab
        self.api = RouterApi(api_url, PASSWORD)
        self.lan_clients, self.internet = lan_clients, internet
        self.baseline: dict[str, Any] | None = None
        self.ready_s = 0.0  # how long it took to come up

    # -- configuration, through the API -------------------------------------------------------

    def set_profile(self, profile: str) -> None:
        self.api.put("/nat", {"profile": profile})

    @property
    def profile(self) -> str:
        return self.api.get("/nat")["profile"]

    def set_flow_offload(self, on: bool) -> None:
        """Flow offloading (off by default): established plain TCP/UDP flows forwarded by
        the kernel, the engine still deciding; for tests that need the speed."""
        self.api.put("/nat", {"flow_offload": on})

    def set_passthrough(self, switches: dict[str, bool] | None = None, **more: bool) -> None:
        """``set_passthrough(ipsec=False)`` or ``set_passthrough({"ipsec": False})``;
        ``{"all": False}`` switches every passthrough the router has (others named beside it
        win)."""
        switches = {**(switches or {}), **more}
        if ALL_PASSTHROUGHS in switches:
            every = switches.pop(ALL_PASSTHROUGHS)
            switches = {**{name: every for name in self.passthrough()}, **switches}
        self.api.put("/passthrough", {"helpers": switches})

    def passthrough(self) -> dict[str, bool]:
        rows = self.api.get("/passthrough")["protocols"]
        return {row["name"]: row["enabled"] for row in rows}

    def forwards(self) -> list[dict[str, Any]]:
        return self.api.get("/nat")["port_forwards"]

    def add_forward(self, proto: str, port: int, host: str, host_port: int | None = None,
                    end: int | None = None) -> None:  # fmt: skip
        """Inbound ``proto`` to the WAN address's ``port`` (..``end``) goes to ``host``."""
        rows = [*self.forwards(), Forward(proto, port, host, host_port, end).to_api()]
        self.api.put("/nat", {"port_forwards": rows})

    def remove_forward(self, proto: str, port: int) -> None:
        rows = [f for f in self.forwards() if (f["proto"], f["ext_port"]) != (proto, port)]
        self.api.put("/nat", {"port_forwards": rows})

    # -- reading ------------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        return self.api.get("/status")["counters"]

    def mappings(self, q: str = "", proto: str = "") -> list[dict[str, Any]]:
        return self.api.get("/connections", q=q, proto=proto)

    def vpn_events(self, **filters: str) -> list[dict[str, Any]]:
        return self.api.get("/vpn/events", **filters)

    # -- the device's shell ---------------------------------------------------------------------

    def run(self, command: str, timeout: float = 30) -> tuple[str, int]:
        """A shell command on the device: (output, exit code)."""
        raise NotImplementedError

    def routerctl(self, *args: str, timeout: float = 60) -> tuple[str, int]:
        return self.run(shlex.join(["routerctl", *args]) + " 2>&1", timeout)

    # -- the links ----------------------------------------------------------------------------

    def impair(self, link: str, spec: str) -> None:
        """netem on a link (lan, wan, inet): ``"delay 20ms loss 1%"``."""
        self.lab.impair(link, spec)

    def clear_impairments(self) -> None:
        self.lab.clear_impairments()

    @property
    def links(self) -> dict[str, Path]:
        folder = Path(self.lab.options.pcap_dir or "")
        return {p.stem: p for p in sorted(folder.glob("*.pcap"))} if folder.name else {}

    # -- the plugin's side: between tests -------------------------------------------------------

    def take_baseline(self) -> None:
        self.baseline = self.api.get("/system/backup")

    def restore_baseline(self) -> None:
        if self.baseline is not None:
            self.api.post("/system/restore", self.baseline)

    def evidence(self) -> dict[str, bytes]:
        """Files that explain a failure (name -> contents), beyond the link captures."""
        return {}

    def begin_test(self) -> None:
        pass

    def update_firmware(self, firmware: Path, timeout: float = 600) -> str:
        """Install ``firmware`` through the REST API as `natbox flash` does (upload, checks,
        install, the reboot into the other slot, the trial) and wait for the outcome. Returns
        what `natbox flash` printed; RuntimeError unless the update was committed."""
        raise NotImplementedError(f"a firmware update needs the booted firmware (vm mode), "
                                  f"not {self.mode} mode")  # fmt: skip

    def firmware(self) -> dict[str, Any]:
        """What the status says: version, active_slot, slots ([{name, version, active}])."""
        return self.api.get("/status")["firmware"]

    def peak_rss_kb(self) -> int:
        """The most memory the router's processes held (VmHWM), for the bench."""
        return 0

    def healthy(self) -> bool:
        return True

    def recover(self) -> None:
        pass

    def close(self) -> None:
        raise NotImplementedError


class NetnsRouter(Router):
    mode = "netns"

    def __init__(self, lab: Lab):
        inet = lab.names.internet
        clients = [Host(f"lan{i}", lab.names.client(i), N.client_address(i))
                   for i in range(1, lab.options.clients + 1)]  # fmt: skip
        internet = Host("internet", inet, N.SERVERS[0], INTERNET_ADDRESSES)
        super().__init__(lab, f"http://127.0.0.1:{lab.options.ui_port}", clients, internet)

    def run(self, command: str, timeout: float = 30) -> tuple[str, int]:
        env = f"NATBOX_RUN={self.lab.names.state_dir} NATBOX_DATA={self.lab.names.state_dir}/data"
        result = self.lab.run(self.lab.names.router, "sh", "-c", f"export {env}; {command}",
                              check=False, timeout=timeout)  # fmt: skip
        return result.stdout + result.stderr, result.returncode

    def routerctl(self, *args: str, timeout: float = 60) -> tuple[str, int]:
        import sys  # the device's routerctl is router.routerctl: this interpreter runs it

        call = "import sys; from router.routerctl import main; sys.exit(main())"
        return self.run(shlex.join([sys.executable, "-c", call, *args]) + " 2>&1", timeout)

    def evidence(self) -> dict[str, bytes]:
        state = Path(self.lab.names.state_dir)
        return {p.name: p.read_bytes() for p in sorted(state.glob("*.log"))}

    def peak_rss_kb(self) -> int:
        return sum(_peak_kb(self.lab.pids.get(role)) for role in ("router", "ui"))

    def healthy(self) -> bool:
        try:
            self.api.get("/session")
            return bool(self.lab.ctl("status")["forwarding"])
        except (OSError, ValueError, KeyError, ApiError, Unreachable):
            return False

    def recover(self) -> None:
        """The daemon or the UI died (a test killed it): both again, on the stored
        configuration."""
        self.lab.stop("ui")
        self.lab.stop_router()
        self.lab.start_router(keep_config=True)
        self.lab.start_ui()
        self.api.session = None

    def close(self) -> None:
        self.lab.down()


class VmRouter(Router):
    mode = "vm"

    def __init__(self, appliance):
        lab = appliance.lab
        clients = [
            Host(f"lan{i}", lab.names.client(i), N.client_address(i))
            for i in range(1, lab.options.clients)
        ]  # the last: the UI's management PC
        internet = Host("internet", lab.names.internet, N.SERVERS[0], INTERNET_ADDRESSES)
        super().__init__(lab, appliance.session.ui_url, clients, internet)
        self.appliance = appliance
        self.lease_all()

    def update_firmware(self, firmware: Path, timeout: float = 600) -> str:
        import subprocess
        import sys

        flash = subprocess.Popen(
            [sys.executable, "-c", "import sys; from natbox.cli import main; sys.exit(main())",
             "flash", str(firmware), "--url", self.appliance.session.ui_url,
             "--password", PASSWORD, "--timeout", str(int(timeout))],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            self._wait_for_the_reboot(flash, timeout)
            self.appliance.expect_reboot(timeout=timeout)  # into the other slot, on trial
            out, _ = flash.communicate(timeout=timeout)
        finally:
            if flash.poll() is None:
                flash.kill()
                flash.wait()
        self.api.session = None  # the UI restarted with the device
        if flash.returncode != 0 or "committed:" not in out:
            raise RuntimeError(f"the update was not committed:\n{out}")
        return out

    def _wait_for_the_reboot(self, flash, timeout: float) -> None:
        """Until QEMU exits (the device reboots); an update refused before that (a check
        that failed, a wrong password) ends the wait with `natbox flash`'s words."""
        deadline = time.monotonic() + timeout
        while self.appliance.child.isalive():
            if flash.poll() is not None and self.appliance.child.isalive():
                time.sleep(3)  # the reboot may just be coming
                if self.appliance.child.isalive():
                    raise RuntimeError(f"the update stopped before the reboot:\n"
                                       f"{flash.stdout.read()}")  # fmt: skip
            if time.monotonic() > deadline:
                raise RuntimeError(f"no reboot within {timeout:.0f} s of the update")
            # Read the console meanwhile: its transcript is the test's evidence.
            self.appliance.child.expect([self.appliance.pexpect.EOF,
                                         self.appliance.pexpect.TIMEOUT], timeout=1)  # fmt: skip

    def lease_all(self) -> None:
        """Each LAN client asks the appliance for a lease; its address is what it got."""
        for i, host in enumerate(self.lan_clients, 1):
            lease = self.lab.lease(i)
            if lease.returncode:
                raise RuntimeError(f"lan{i} got no lease from the appliance: {lease.stderr}")
            shown = host.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout.split()
            host.address = shown[shown.index("inet") + 1].split("/")[0]

    @property
    def console(self):
        return self.appliance.console

    def run(self, command: str, timeout: float = 30) -> tuple[str, int]:
        return self.appliance.console.run(command, timeout)

    def begin_test(self) -> None:
        import io

        self.appliance.transcript = io.BytesIO()

    def evidence(self) -> dict[str, bytes]:
        return {"console.log": self.appliance.transcript.getvalue()}

    def peak_rss_kb(self) -> int:
        child = self.appliance.child
        return _peak_kb(child.pid if child is not None else None)

    def healthy(self) -> bool:
        return self.appliance.healthy()

    def recover(self) -> None:
        self.appliance.reboot()
        self.api.session = None

    def close(self) -> None:
        self.appliance.close()


def wait_for_api(router: Router, timeout: float) -> None:
    """The UI answers (and the administrator's password is ours) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            router.api.get("/session")
            return
        except (OSError, Unreachable):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _peak_kb(pid: int | None) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, TypeError):
        return 0


__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "Forward", "NetnsRouter", "Router", "VmRouter"]
