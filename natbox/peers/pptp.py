"""PPTP with real programs: pptpd on the internet host, pptp (pptp-linux) on LAN clients. The
control connection (TCP 1723) and GRE carry real call IDs; PPP itself is natbox.peers.pppstub
in pppd's place (this host kernel has no PPP), which opens LCP and echoes both ways."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import time
from pathlib import Path

from natbox.hil.hosts import Background, Host

PORT = 1723

PPTPD_CONF = """ppp {wrapper}
option {directory}/options
localip 10.66.0.1
remoteip 10.66.0.100-199
listen {address}
"""


def _stub(directory: Path, name: str) -> Path:
    """pptpd runs its "ppp" program by path: a script that starts the stand-in."""
    wrapper = directory / f"{name}.sh"
    status = directory / f"{name}-$$-lcp.json"  # one per call: its PID
    python_path = ":".join(sys.path)
    wrapper.write_text(f"#!/bin/sh\nexec env PYTHONPATH={shlex.quote(python_path)} {sys.executable}"
                       f" -m natbox.peers.pppstub --status {status} \"$@\"\n")  # fmt: skip
    wrapper.chmod(0o755)
    return wrapper


class Server:
    def __init__(self, host: Host, directory: Path, address: str | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.host, self.directory = host, directory
        self.address = address or host.address
        (directory / "options").write_text("nodefaultroute\n")
        (directory / "pptpd.conf").write_text(PPTPD_CONF.format(
            wrapper=_stub(directory, "server-ppp"), directory=directory,
            address=self.address))  # fmt: skip
        # A private /run: pptpd's PID file and pptpctrl's state stay in this test.
        self.process = host.start(f"mount -t tmpfs tmpfs /run && exec pptpd --fg --conf "
                                  f"{directory}/pptpd.conf --debug", name="pptpd")  # fmt: skip
        _wait_for_listener(host, self.address, PORT, self.process)

    def lcp(self) -> list[dict]:
        """What each call's PPP stand-in saw."""
        return [json.loads(path.read_text()) for path in
                sorted(self.directory.glob("server-ppp-*-lcp.json"))]  # fmt: skip


class Client:
    def __init__(self, host: Host, directory: Path, server: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.status = directory / f"{host.name}-lcp.json"
        # pptp's call manager listens on a socket under /var/run/pptp: a private /run each, or
        # a second client would hand its call to the first one's control connection.
        command = (
            f"mount -t tmpfs tmpfs /run && exec {sys.executable} -m natbox.peers.pppstub "
            f"--status {self.status} --spawn pptp {server} --nolaunchpppd --loglevel 2"
        )
        self.process: Background = host.start(command, name="pptp")

    def opened(self, timeout: float) -> dict:
        """LCP's state once it opened and echoes came back, or as it was at ``timeout``."""
        deadline = time.monotonic() + timeout
        seen: dict = {}
        while time.monotonic() < deadline:
            if self.status.exists():
                with contextlib.suppress(ValueError):  # caught between two writes
                    seen = json.loads(self.status.read_text())
                if seen.get("opened") and seen.get("received", {}).get("echo-reply"):
                    return seen
            if not self.process.running:
                break
            time.sleep(0.2)
        return seen


def _wait_for_listener(host: Host, address: str, port: int, process: Background,
                       timeout: float = 10.0) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running:
            raise RuntimeError(f"{process.name} exited: {process.output()[-2000:]}")
        listening = host.run(["ss", "-Hltn", f"src {address}:{port}"], check=False).stdout
        if listening.strip():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} is not listening on {address}:{port}")
