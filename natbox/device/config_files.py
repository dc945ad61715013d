"""The device's configuration files, and the one translation from the shared model
(`nat.router_config.RouterConfig`, what the web UI, the API and routerctl edit) to what the
datapath daemon reads (`natbox.router.settings`) and what udhcpd reads.

- /data/natbox/config.json: the saved configuration (survives reboots);
- /run/natbox/running.json: the running one (routerctl changes it; `routerctl save` copies it);
- /run/natbox/router.json: the daemon's settings, always generated from the running one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nat.config_store import ConfigStore
from nat.router_config import RouterConfig

DATA = Path(os.environ.get("NATBOX_DATA", "/data/natbox"))
RUN = Path(os.environ.get("NATBOX_RUN", "/run/natbox"))
FACTORY = Path(os.environ.get("NATBOX_FACTORY", "/etc/natbox/factory.json"))
LAN_IF, WAN_IF = "eth0", "eth1"


def saved_store() -> ConfigStore:
    return ConfigStore(DATA / "config.json")


def running_store() -> ConfigStore:
    return ConfigStore(RUN / "running.json")


def control_path() -> str:
    return str(RUN / "router.sock")


def factory() -> RouterConfig:
    return RouterConfig.from_dict(json.loads(FACTORY.read_text()))


def router_settings(config: RouterConfig) -> dict:
    """Settings for `natbox router`: no DHCP range (udhcpd serves the LAN, not dnsmasq)."""
    nat = config.nat
    wan: dict = {"mode": config.wan.mode}
    if config.wan.mode == "static":
        wan.update(address=f"{nat.wan_addresses[0]}/24", gateway=config.wan.gateway)
    return {"nat": nat.to_dict(), "lan": {"address": f"{nat.lan_address}/{nat.lan_prefix}"},
            "wan": wan, "lan_services": "external"}  # fmt: skip


def udhcpd_conf(config: RouterConfig, lease_file: str) -> str:
    nat, dhcp = config.nat, config.dhcp
    lines = [
        f"start {dhcp.first}",
        f"end {dhcp.last}",
        f"interface {LAN_IF}",
        f"lease_file {lease_file}",
        f"option subnet {_netmask(nat.lan_prefix)}",
        f"option router {nat.lan_address}",
        f"option lease {dhcp.lease_time}",
    ]
    lines.append(f"option dns {nat.lan_address}")  # natbox.device.dns_forwarder
    lines.append("option domain lan")
    return "\n".join(lines) + "\n"


def _netmask(prefix: int) -> str:
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ".".join(str((bits >> s) & 0xFF) for s in (24, 16, 8, 0))


def write_running(config: RouterConfig) -> None:
    """The running configuration and the daemon settings derived from it."""
    running_store().save(config)
    path = RUN / "router.json"
    temp = path.with_suffix(".new")
    temp.write_text(json.dumps(router_settings(config), indent=2))
    os.replace(temp, path)
