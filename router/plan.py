"""From the one configuration model to what every service on the device gets: a pure function.

    RouterConfig (what the user configures)  +  DeviceFacts (what this device is)
        -> plan() -> ServicePlan: the engine's NatConfig, the driver's settings, the
           interfaces' addressing, dnsmasq's DHCP and DNS, the hostname

The daemon derives a plan at start and on every ``reload`` and each service applies its part
(router.services, router.daemon). The part a service cannot take while running (the
interfaces' addressing) is named by :func:`restart_needed`, so the UI and routerctl say
"restart needed" instead of "applied". Nothing here reads a file or runs a program.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass

from nat.config import NatConfig
from router.model import LAN_DOMAIN, RouterConfig


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the device is, not what its user configures: never stored with the config."""

    lan_interface: str = "eth0"
    wan_interface: str = "eth1"
    # The kernel's own ephemeral ports (dnsmasq's upstream queries, the UI's connections):
    # the NAT pool stays below them.
    kernel_ports: tuple[int, int] = (61000, 65535)
    # The appliance owns its hostname; a lab's namespace shares the host's and must not.
    owns_hostname: bool = False
    # The system user dnsmasq drops to (Debian's dnsmasq-base creates it, so does rootfs/).
    dns_user: str = "dnsmasq"


@dataclass(frozen=True, slots=True)
class Addressing:
    """The interfaces' addresses: set when the daemon starts (a change needs a restart)."""

    lan: str  # "192.168.1.1/24"
    wan_mode: str  # "static" or "dhcp"
    wan: str | None  # "203.0.113.2/24" for a static WAN
    wan_gateway: str | None


@dataclass(frozen=True, slots=True)
class DriverSettings:
    """What the AF_PACKET driver enforces around the engine (the one MTU check)."""

    lan_mtu: int
    wan_mtu: int
    kernel_ports: tuple[int, int]


@dataclass(frozen=True, slots=True)
class DhcpPool:
    first: str
    last: str
    netmask: str
    lease_time: int  # seconds


@dataclass(frozen=True, slots=True)
class LanServices:
    """dnsmasq on the LAN: the DHCP server (pool None: off) and the DNS server."""

    interface: str
    address: str  # the router's LAN address: the clients' gateway and DNS server
    pool: DhcpPool | None
    static_leases: tuple[tuple[str, str], ...]  # (MAC, address)
    hosts: tuple[tuple[str, str], ...]  # (name, address), the router's own names first
    upstreams: tuple[str, ...]  # the WAN's DNS servers
    query_ports: tuple[int, int]  # upstream queries leave from the kernel's ports
    user: str  # dnsmasq drops to it once its sockets and files are open
    domain: str = LAN_DOMAIN


@dataclass(frozen=True, slots=True)
class ServicePlan:
    nat: NatConfig
    driver: DriverSettings
    addressing: Addressing
    lan_services: LanServices
    hostname: str | None  # None: this device does not set its hostname


def plan(config: RouterConfig, facts: DeviceFacts) -> ServicePlan:
    nat = config.nat
    lan = f"{nat.lan_address}/{nat.lan_prefix}"
    static = config.wan.mode == "static"
    addressing = Addressing(
        lan=lan,
        wan_mode=config.wan.mode,
        wan=f"{nat.wan_addresses[0]}/{config.wan.prefix}" if static else None,
        wan_gateway=config.wan.gateway if static else None,
    )
    dhcp = config.dhcp
    pool = None
    if dhcp.enabled:
        netmask = str(ipaddress.IPv4Network(lan, strict=False).netmask)
        pool = DhcpPool(dhcp.first, dhcp.last, netmask, dhcp.lease_time)
    hosts = tuple((name, nat.lan_address) for name in config.own_names())
    hosts += tuple((record.name, record.address) for record in config.dns.hosts)
    lan_services = LanServices(
        interface=facts.lan_interface,
        address=nat.lan_address,
        pool=pool,
        static_leases=tuple((lease.mac, lease.address) for lease in dhcp.static_leases)
        if dhcp.enabled
        else (),
        hosts=hosts,
        upstreams=tuple(config.wan.dns_servers),
        query_ports=facts.kernel_ports,
        user=facts.dns_user,
    )
    return ServicePlan(
        nat=nat,
        driver=DriverSettings(nat.lan_mtu, nat.wan_mtu, facts.kernel_ports),
        addressing=addressing,
        lan_services=lan_services,
        hostname=config.hostname if facts.owns_hostname else None,
    )


# The configuration fields Addressing is made of, with the words the UI shows for them: what
# a running daemon cannot take live. A static WAN's address, prefix and gateway matter only
# while the WAN stays static.
RESTART_FIELDS = {
    "nat.lan_address": ("LAN address", lambda c: c.nat.lan_address),
    "nat.lan_prefix": ("LAN prefix", lambda c: c.nat.lan_prefix),
    "wan.mode": ("WAN mode", lambda c: c.wan.mode),
    "nat.wan_addresses": (
        "WAN address",
        lambda c: c.nat.wan_addresses[0] if c.wan.mode == "static" else None,
    ),
    "wan.prefix": ("WAN prefix", lambda c: c.wan.prefix if c.wan.mode == "static" else None),
    "wan.gateway": ("WAN gateway", lambda c: c.wan.gateway if c.wan.mode == "static" else None),
}


def restart_needed(running: RouterConfig, new: RouterConfig) -> list[str]:
    """The fields of ``new`` that take effect only after a restart of the router."""
    changed = [name for name, (_, value) in RESTART_FIELDS.items() if value(running) != value(new)]
    if "wan.mode" in changed:  # the static WAN's details come and go with the mode
        changed = [name for name in changed if name.startswith("nat.lan") or name == "wan.mode"]
    return changed


def restart_label(field: str) -> str:
    return RESTART_FIELDS[field][0] if field in RESTART_FIELDS else field


def running_plan(started: RouterConfig, config: RouterConfig, facts: DeviceFacts) -> ServicePlan:
    """The plan a running daemon applies: ``config``'s, except that while a new LAN address
    waits for the restart, dnsmasq keeps serving the LAN the interface really has (a pool,
    gateway and names in the new LAN would hand clients addresses that do not work yet)."""
    derived = plan(config, facts)
    if any(name.startswith("nat.lan") for name in restart_needed(started, config)):
        derived = dataclasses.replace(derived, lan_services=plan(started, facts).lan_services)
    return derived
