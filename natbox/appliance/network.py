"""Where the appliance's NICs go: the built-in lab (taps on its bridges), the user's own taps
or bridges, or QEMU user-mode networking when we are not root."""

from __future__ import annotations

import os
import subprocess
import sys

from natbox.appliance.qemu import Nic
from natbox.lab import names as N
from natbox.lab import netns
from natbox.lab.lab import CLIENT_DHCP_SCRIPT, Lab, LabOptions

LAN_TAP, WAN_TAP = "tlan", "twan"
MGMT_HOST = 250  # 192.168.1.250 on the last client: reaches the UI without a lease


class ApplianceLab(Lab):
    """The lab without its netns router: the appliance takes the router's place, its taps on
    the switch namespace's bridges. The internet hands the WAN an address by DHCP."""

    LINKS = {"lan": LAN_TAP, "wan": WAN_TAP, "inet": "in"}

    def __init__(self, lab_id: str, clients: int = 1, pcap_dir: str | None = None,
                 owner: int | None = None):  # fmt: skip
        options = LabOptions(clients=clients, wan_dhcp=True, pcap_dir=pcap_dir)
        super().__init__(lab_id, options, owner)

    def _build(self) -> None:
        n, sw = self.names, self.names.switch
        clients = [n.client(i) for i in range(1, self.options.clients + 1)]
        for ns in [sw, n.internet, *clients]:
            netns.add(ns)
            netns.write_file(f"/etc/netns/{ns}/resolv.conf", "")
        for bridge in ("brlan", "brwan"):
            netns.ip(sw, "link", "add", bridge, "type", "bridge")
            netns.ip(sw, "link", "set", bridge, "up")
        links = [(f"c{i}", ns, "eth0", N.client_mac(i), "brlan") for i, ns in enumerate(clients, 1)]
        links.append(("in", n.internet, "eth0", None, "brwan"))
        for port, ns, ifname, mac, bridge in links:
            netns.veth(sw, port, ns, ifname, mac)
            netns.ip(sw, "link", "set", port, "master", bridge, "up")
            netns.ip(ns, "link", "set", ifname, "up")
        # Taps live in the switch namespace; QEMU runs there to open them.
        for tap, bridge in ((LAN_TAP, "brlan"), (WAN_TAP, "brwan")):
            netns.ip(sw, "tuntap", "add", "dev", tap, "mode", "tap")
            netns.ip(sw, "link", "set", tap, "master", bridge, "up")
        if len(clients) > 1:  # the last client is the "management PC": static, outside the pool
            netns.ip(clients[-1], "addr", "add", f"{N.LAN_NET}.{MGMT_HOST}/24", "dev", "eth0")
        self._internet()
        if self.options.pcap_dir:
            self._captures()

    def _captures(self) -> None:
        os.makedirs(self.options.pcap_dir, exist_ok=True)
        for link, port in self.LINKS.items():
            path = os.path.join(self.options.pcap_dir, f"{link}.pcap")
            self.spawn(f"pcap-{port}", self.names.switch, "tcpdump", "-q", "-U", "-i", port,
                       "-w", path)  # fmt: skip

    def lease(self, client: int = 1, timeout: float = 30) -> subprocess.CompletedProcess:
        """Ask the appliance for a DHCP lease from a LAN client namespace."""
        ns = self.names.client(client)
        resolv = f"/etc/netns/{ns}/resolv.conf"
        script = os.path.join(self.names.state_dir, f"dhcp-c{client}.sh")
        netns.write_file(script, CLIENT_DHCP_SCRIPT.format(resolv=resolv), 0o755)
        udhcpc = ["udhcpc", "-q", "-f", "-n", "-i", "eth0", "-t", "20", "-T", "1", "-s", script]
        return subprocess.run(
            netns.exec_args(ns, *udhcpc),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def forward_ui(self, port: int, guest_port: int = 80) -> None:
        """127.0.0.1:PORT -> the appliance's LAN address, from the management client."""
        mgmt = self.names.client(self.options.clients)
        forward = [sys.executable, "-m", "natbox.lab.forward", str(port), mgmt, N.ROUTER_LAN]
        self.spawn("ui-forward", None, *forward, str(guest_port))


def user_mode_nics(ui_port: int) -> list[Nic]:
    return [Nic("lan", "user", host_ui_port=ui_port), Nic("wan", "user")]


def tap_nics() -> list[Nic]:
    return [Nic("lan", "tap", LAN_TAP), Nic("wan", "tap", WAN_TAP)]


def bridge_taps(lan_bridge: str, wan_bridge: str, prefix: str) -> list[Nic]:
    """The user's own bridges (root namespace): a tap of ours on each, removed afterwards."""
    nics = []
    for role, bridge in (("lan", lan_bridge), ("wan", wan_bridge)):
        tap = f"{prefix}{role}"
        subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], check=True)
        subprocess.run(["ip", "link", "set", tap, "master", bridge, "up"], check=True)
        nics.append(Nic(role, "tap", tap))
    return nics


def remove_taps(nics: list[Nic]) -> None:
    for nic in nics:
        subprocess.run(["ip", "link", "del", nic.ifname], stderr=subprocess.DEVNULL, check=False)
