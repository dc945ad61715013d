"""PPTP with real programs: pptpd on the internet host, pptp (pptp-linux) on LAN clients. The
control connection (TCP 1723) and GRE carry real call IDs; PPP itself is natbox.peers.pppstub
in pppd's place (this host kernel has no PPP), which opens LCP and echoes both ways."""

from __future__ import annotations

import sys
from pathlib import Path

from natbox.hil.hosts import Background, Host
from natbox.peers import pppstub
from natbox.peers.started import sockets, wait_until_ready

PORT = 1723

PPTPD_CONF = """ppp {wrapper}
option {directory}/options
localip 10.66.0.1
remoteip 10.66.0.100-199
listen {address}
"""


class Server:
    def __init__(self, host: Host, directory: Path, address: str | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.host, self.directory = host, directory
        self.address = address or host.address
        (directory / "options").write_text("nodefaultroute\n")
        launcher = pppstub.launcher(directory / "server-ppp.sh", "server-ppp")
        (directory / "pptpd.conf").write_text(PPTPD_CONF.format(
            wrapper=launcher, directory=directory, address=self.address))  # fmt: skip
        # A private /run: pptpd's PID file and pptpctrl's state stay in this test.
        self.process = host.start(f"mount -t tmpfs tmpfs /run && exec pptpd --fg --conf "
                                  f"{directory}/pptpd.conf --debug", name="pptpd")  # fmt: skip
        wait_until_ready(self.process, lambda: sockets(host, "tcp", PORT) > 0, "pptpd")

    def lcp(self) -> list[dict]:
        """What each call's PPP stand-in saw."""
        return pppstub.statuses(sorted(self.directory.glob("server-ppp-*-lcp.json")))


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
        return pppstub.wait_until_open(lambda: pppstub.statuses([self.status]),
                                       lambda: self.process.running, timeout)  # fmt: skip
