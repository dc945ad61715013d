"""The hardware in the loop: a host interface (a NIC with a device on its cable, a VM's tap)
or a bridge of the host put on a lab's LAN bridge, so the router serves it like its own
clients. A bridge gets a veth pair from it to the lab; any other interface moves into the
lab's switch namespace for the lab's life and is moved back when the lab goes, with its
bridge, addresses and up state (by ``remove_lab`` too, after a crash: a tap would die with the
namespace)."""

from __future__ import annotations

import json

from natbox.lab import netns
from natbox.lab.names import LabNames


class AttachError(RuntimeError):
    pass


def _root_link(interface: str) -> dict:
    shown = netns.sh("ip", "-j", "-d", "link", "show", interface, check=False)
    if shown.returncode or not shown.stdout.strip():
        raise AttachError(f"--natbox-lan-interface {interface}: no such interface on this host")
    return json.loads(shown.stdout)[0]


def attach(lab, interface: str) -> dict[str, str]:
    """Put ``interface`` (of the root namespace) on ``lab``'s LAN bridge; returns the record
    ``detach`` needs (kept in the lab's state)."""
    link = _root_link(interface)
    sw = lab.names.switch
    kind = link.get("linkinfo", {}).get("info_kind", "")
    if kind == "bridge":
        host_end, lab_end = f"nbx{lab.names.lab_id}h", f"nbx{lab.names.lab_id}l"
        netns.sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", lab_end,
                 "netns", sw)  # fmt: skip
        netns.sh("ip", "link", "set", host_end, "master", interface, "up")
        record = {"kind": "bridge", "interface": interface, "veth": host_end}
        port = lab_end
    else:  # what it had here comes back with it: up or down, its bridge, its addresses
        addresses = json.loads(netns.sh("ip", "-j", "addr", "show", interface).stdout)[0]
        record = {"kind": "moved", "interface": interface, "master": link.get("master", ""),
                  "up": "UP" in link.get("flags", []),
                  "addresses": [f"{a['local']}/{a['prefixlen']}"
                                for a in addresses.get("addr_info", [])]}  # fmt: skip
        netns.sh("ip", "link", "set", interface, "netns", sw)
        port = interface
    lab.attached.append(record)
    lab.save()
    netns.ip(sw, "link", "set", port, "master", "brlan", "up")
    return record


def detach_all(names: LabNames, records: list[dict[str, str]]) -> None:
    for record in records:
        if record["kind"] == "bridge":
            netns.sh("ip", "link", "del", record["veth"], check=False, quiet=True)
        else:  # home, as it was
            interface = record["interface"]
            netns.ip(names.switch, "link", "set", interface, "nomaster", check=False)
            netns.ip(names.switch, "link", "set", interface, "netns", "1", check=False)
            if record.get("master"):
                netns.sh("ip", "link", "set", interface, "master", record["master"], check=False)
            for address in record.get("addresses", []):
                netns.sh("ip", "addr", "add", address, "dev", interface, check=False)
            if record.get("up"):
                netns.sh("ip", "link", "set", interface, "up", check=False)
