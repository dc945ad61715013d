"""L2TP with real programs: xl2tpd on both ends (an LNS on the internet host, a LAC with
autodial on each LAN client), tunnel and session up over UDP 1701. xl2tpd starts pppd by its
fixed path and this host kernel has no PPP: inside each xl2tpd's own mount namespace a
script that starts natbox.peers.pppstub is bind-mounted over /usr/sbin/pppd, and LCP then
opens and echoes both ways across the router."""

from __future__ import annotations

from pathlib import Path

from natbox.hil.hosts import Background, Host
from natbox.peers import pppstub
from natbox.peers.started import sockets, wait_until_ready

PORT = 1701
PPPD = "/usr/sbin/pppd"

SERVER_CONF = """[global]
listen-addr = {address}
port = {port}

[lns default]
ip range = 10.69.0.100-10.69.0.199
local ip = 10.69.0.1
require authentication = no
pppoptfile = {directory}/options
length bit = yes
"""

CLIENT_CONF = """[global]
port = {port}

[lac server]
lns = {server}
require authentication = no
pppoptfile = {directory}/options
length bit = yes
autodial = yes
redial = no
"""


def _xl2tpd(host: Host, directory: Path, conf: str, name: str) -> Background:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "options").write_text("noauth\n")
    (directory / "xl2tpd.conf").write_text(conf)
    stand_in = pppstub.launcher(directory / "pppd", name)
    # A private /run (xl2tpd's control pipe) and our pppd, in this xl2tpd's mount namespace.
    return host.start(f"mount -t tmpfs tmpfs /run && mkdir -p /run/xl2tpd && "
                      f"mount --bind {stand_in} {PPPD} && exec xl2tpd -D -c {directory}/xl2tpd.conf"
                      f" -p /run/xl2tpd.pid -C /run/xl2tpd/l2tp-control", name=name)  # fmt: skip


class Server:
    def __init__(self, host: Host, directory: Path, address: str | None = None):
        self.directory = directory
        address = address or host.address
        self.process = _xl2tpd(host, directory, SERVER_CONF.format(
            address=address, port=PORT, directory=directory), "xl2tpd-lns")  # fmt: skip
        wait_until_ready(self.process, lambda: sockets(host, "udp", PORT) > 0, "xl2tpd")


class Client:
    def __init__(self, host: Host, directory: Path, server: str):
        self.directory = directory
        self.process = _xl2tpd(host, directory, CLIENT_CONF.format(
            server=server, port=PORT, directory=directory), "xl2tpd-lac")  # fmt: skip

    def opened(self, timeout: float) -> dict:
        """LCP's state once it opened and echoes came back, or as it was at ``timeout``."""
        return pppstub.wait_until_open(
            lambda: pppstub.statuses(sorted(self.directory.glob("xl2tpd-lac-*-lcp.json"))),
            lambda: self.process.running, timeout)  # fmt: skip
