"""The router's configuration file (JSON): the NAT settings plus interfaces and services.

{
  "nat": {...},                        # NatConfig.from_dict
  "lan": {"address": "192.168.1.1/24",
          "dhcp": {"range": ["192.168.1.100", "192.168.1.199"], "lease": "1h",
                   "static": {"02:00:00:00:01:01": "192.168.1.101"}},
          "dns": {"hosts": {"server1.lab": "198.51.100.10"}, "upstream": []}},
  "wan": {"mode": "static", "address": "203.0.113.2/24", "gateway": "203.0.113.1"}
         | {"mode": "dhcp"} | {"mode": "kernel"},   # kernel: already configured
  "kernel_ports": [61000, 65535]       # the kernel's ephemeral ports, outside the NAT pool
}

The file may instead be the web UI's configuration (``nat.router_config.RouterConfig``, as
``nat.config_store.ConfigStore`` writes it: it has ``hostname``/``admin``/``dhcp`` keys), so
that the UI, the API and the daemon share one file and one model. What that model does not
describe (static DHCP leases, DNS host records, kernel ports, the WAN prefix: facts of the
site, not user settings) then comes from an optional site file in the format above
(``natbox router --site FILE``); the configuration wins wherever both say something.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from nat import ConfigError, NatConfig
from nat.router_config import RouterConfig

# Keys only a RouterConfig file has (ConfigStore always writes all of them).
_ROUTER_CONFIG_KEYS = {"hostname", "admin", "dhcp"}


@dataclass(frozen=True)
class RouterSettings:
    nat: dict[str, Any] = field(default_factory=dict)
    lan_address: str | None = None  # "a.b.c.d/len"; None: keep what the interface has
    dhcp_range: tuple[str, str] | None = None
    dhcp_lease: str = "1h"
    dhcp_static: dict[str, str] = field(default_factory=dict)  # MAC -> address
    dns_hosts: dict[str, str] = field(default_factory=dict)
    dns_upstream: tuple[str, ...] = ()
    wan_mode: str = "kernel"
    wan_address: str | None = None
    wan_gateway: str | None = None
    kernel_ports: tuple[int, int] = (61000, 65535)
    # "dnsmasq": the daemon serves LAN DHCP/DNS itself; "external": something else does (the
    # appliance's udhcpd), so a configuration's DHCP range is not the daemon's to serve.
    lan_services: str = "dnsmasq"

    def nat_config(self) -> NatConfig:
        return NatConfig.from_dict(self.nat)


def parse(data: dict[str, Any]) -> RouterSettings:
    lan, wan = data.get("lan", {}), data.get("wan", {})
    dhcp, dns = lan.get("dhcp", {}), lan.get("dns", {})
    mode = wan.get("mode", "kernel")
    if mode not in ("static", "dhcp", "kernel"):
        raise ConfigError("wan.mode", "must be static, dhcp or kernel")
    if mode == "static" and not wan.get("address"):
        raise ConfigError("wan.address", "a static WAN needs an address")
    for name, value in (("lan.address", lan.get("address")), ("wan.address", wan.get("address"))):
        if value is not None:
            try:
                ipaddress.IPv4Interface(value)
            except ValueError as error:
                raise ConfigError(name, str(error)) from None
    kernel_ports = tuple(data.get("kernel_ports", (61000, 65535)))
    if len(kernel_ports) != 2 or not 1024 < kernel_ports[0] <= kernel_ports[1] <= 65535:
        raise ConfigError("kernel_ports", "must be [low, high] above 1024")
    lan_services = data.get("lan_services", "dnsmasq")
    if lan_services not in ("dnsmasq", "external"):
        raise ConfigError("lan_services", "must be dnsmasq or external")
    settings = RouterSettings(
        lan_services=lan_services,
        nat=data.get("nat", {}),
        lan_address=lan.get("address"),
        dhcp_range=tuple(dhcp["range"]) if "range" in dhcp else None,
        dhcp_lease=dhcp.get("lease", "1h"),
        dhcp_static=dict(dhcp.get("static", {})),
        dns_hosts=dict(dns.get("hosts", {})),
        dns_upstream=tuple(dns.get("upstream", ())),
        wan_mode=mode,
        wan_address=wan.get("address"),
        wan_gateway=wan.get("gateway"),
        kernel_ports=kernel_ports,
    )
    settings.nat_config()  # validate now: a bad file is refused before anything starts
    return settings


def from_router_config(config: RouterConfig, site: RouterSettings) -> RouterSettings:
    """The daemon's settings from the shared configuration model, completed by the site."""
    nat = config.nat
    wan_mode, wan_address, wan_gateway = site.wan_mode, site.wan_address, site.wan_gateway
    if site.wan_mode != "kernel":  # "kernel": something else owns the WAN interface
        wan_mode = config.wan.mode
        # RouterConfig keeps WAN addresses without a prefix: the site's when it names the
        # same address, else /24.
        address = nat.wan_addresses[0]
        same = site.wan_address and site.wan_address.split("/")[0] == address
        wan_address = site.wan_address if same else f"{address}/24"
        wan_gateway = config.wan.gateway
    dhcp = config.dhcp
    return RouterSettings(
        nat=nat.to_dict(),
        lan_address=f"{nat.lan_address}/{nat.lan_prefix}",
        dhcp_range=(dhcp.first, dhcp.last)
        if dhcp.enabled and site.lan_services == "dnsmasq"
        else None,
        lan_services=site.lan_services,
        dhcp_lease=str(dhcp.lease_time),  # dnsmasq reads a bare number as seconds
        dhcp_static=dict(site.dhcp_static),
        dns_hosts=dict(site.dns_hosts),
        dns_upstream=tuple(config.wan.dns_servers) if site.lan_services == "dnsmasq" else (),
        wan_mode=wan_mode,
        wan_address=wan_address,
        wan_gateway=wan_gateway,
        kernel_ports=site.kernel_ports,
    )


def load(path: str | None, site_path: str | None = None) -> RouterSettings:
    site = RouterSettings()
    if site_path is not None:
        with open(site_path) as f:
            site = parse(json.load(f))
    if path is None:
        return site
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict) and _ROUTER_CONFIG_KEYS & set(data):
        return from_router_config(RouterConfig.from_dict(data), site)
    return parse(data)
