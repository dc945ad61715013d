"""Every name a lab uses derives from its id, so labs coexist and `down --all` finds them."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

PREFIX = "nbx"
NAMESPACE_RE = re.compile(rf"^{PREFIX}([0-9a-z]{{1,8}})-[a-z0-9]+$")
STATE_ROOT = "/run/natbox"

LAN_NET = "192.168.1"
ROUTER_LAN = f"{LAN_NET}.1"
WAN_NET = "203.0.113.0/24"
WAN_GATEWAY = "203.0.113.1"
ROUTER_WAN = "203.0.113.2"
SERVERS = ("198.51.100.10", "198.51.100.20")  # two: NAT behaviour discovery needs both
SERVER_NAMES = ("server1.lab", "server2.lab")


def new_id() -> str:
    return secrets.token_hex(3)


def client_address(index: int) -> str:
    """Client N (1-based) always leases .100+N: dnsmasq pins it to the client's MAC."""
    return f"{LAN_NET}.{100 + index}"


def client_mac(index: int) -> str:
    return f"02:00:00:00:01:{index:02x}"


@dataclass(frozen=True)
class LabNames:
    lab_id: str

    def ns(self, role: str) -> str:
        return f"{PREFIX}{self.lab_id}-{role}"

    @property
    def switch(self) -> str:
        return self.ns("sw")

    @property
    def router(self) -> str:
        return self.ns("r")

    @property
    def internet(self) -> str:
        return self.ns("inet")

    def client(self, index: int) -> str:
        return self.ns(f"c{index}")

    @property
    def state_dir(self) -> str:
        return f"{STATE_ROOT}/lab-{self.lab_id}"
