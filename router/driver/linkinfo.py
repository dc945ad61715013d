"""What the kernel knows about an interface: MAC, MTU, IPv4 address and default gateway."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass

SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B


@dataclass(frozen=True)
class LinkInfo:
    name: str
    mac: bytes
    mtu: int
    address: str | None  # the primary IPv4 address, None while there is none (DHCP)
    prefix: int
    gateway: str | None

    def network(self) -> ipaddress.IPv4Network | None:
        if self.address is None:
            return None
        return ipaddress.IPv4Network(f"{self.address}/{self.prefix}", strict=False)


def _sysfs(name: str, attr: str) -> str:
    with open(f"/sys/class/net/{name}/{attr}") as f:
        return f.read().strip()


def _ioctl_addr(name: str, request: int) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            raw = fcntl.ioctl(s.fileno(), request, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(raw[20:24])


def default_gateway(name: str) -> str | None:
    """The default route's gateway through ``name`` (from /proc/net/route: no subprocess)."""
    with open("/proc/net/route") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[0] == name and fields[1] == "00000000" and fields[7] == "00000000":
                return socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
    return None


def read(name: str) -> LinkInfo:
    address = _ioctl_addr(name, SIOCGIFADDR)
    mask = _ioctl_addr(name, SIOCGIFNETMASK) if address else None
    prefix = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen if mask else 32
    return LinkInfo(
        name=name,
        mac=bytes.fromhex(_sysfs(name, "address").replace(":", "")),
        mtu=int(_sysfs(name, "mtu")),
        address=address,
        prefix=prefix,
        gateway=default_gateway(name),
    )
