"""The router's whole configuration: the NAT engine's settings plus what the appliance around
it needs (admin account, WAN uplink, DHCP server). One model for the web UI, the REST API and
routerctl; ``nat.config_store`` keeps it on disk.

``RouterConfig.from_dict`` is the only way untrusted input becomes a configuration. Errors are
:class:`nat.config.ConfigError` with a dotted field path (``nat.dmz_host``, ``dhcp.first``),
so a form can show the message next to the field and the caller keeps its old config.

The LAN address and prefix, and the WAN addresses, live in ``nat`` (the engine needs them);
nothing is stored twice.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from nat.config import ConfigError, NatConfig

# Changes the datapath cannot take live: interfaces have to be re-addressed.
RESTART_FIELDS = ("nat.lan_address", "nat.lan_prefix", "nat.wan_addresses", "wan")
# The factory password, printed on the (virtual) label; login forces a change.
FACTORY_PASSWORD = "admin"
_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_HASH_PREFIXES = ("scrypt:", "pbkdf2:")


@dataclass(frozen=True, slots=True)
class AdminAccount:
    username: str = "admin"
    # A webui.passwords hash (Werkzeug's format); "" means the factory password is in effect.
    password_hash: str = ""
    must_change_password: bool = True


@dataclass(frozen=True, slots=True)
class WanSettings:
    mode: str = "static"  # "static" (the addresses in nat.wan_addresses) or "dhcp"
    gateway: str | None = "203.0.113.254"
    dns_servers: tuple[str, ...] = ("192.0.2.53",)


@dataclass(frozen=True, slots=True)
class DhcpServer:
    enabled: bool = True
    first: str = "192.168.1.100"
    last: str = "192.168.1.199"
    lease_time: int = 86400


@dataclass(frozen=True, slots=True)
class RouterConfig:
    hostname: str = "natbox"
    nat: NatConfig = field(default_factory=NatConfig)
    admin: AdminAccount = field(default_factory=AdminAccount)
    wan: WanSettings = field(default_factory=WanSettings)
    dhcp: DhcpServer = field(default_factory=DhcpServer)

    def replace(self, **changes: Any) -> RouterConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Any) -> RouterConfig:
        """Build and validate; sections left out keep their defaults."""
        _expect_dict("config", data)
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(unknown[0], "unknown setting")
        hostname = data.get("hostname", "natbox")
        if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
            raise ConfigError("hostname", "letters, digits and '-', at most 63 characters")
        nat = _nat(data.get("nat", {}))
        config = cls(
            hostname=hostname,
            nat=nat,
            admin=_admin(data.get("admin", {})),
            wan=_wan(data.get("wan", {})),
            dhcp=_dhcp(data.get("dhcp", {})),
        )
        _check_dhcp_in_lan(config)
        return config

    def to_dict(self, secrets: bool = True) -> dict[str, Any]:
        """Plain data; ``secrets=False`` leaves the admin password hash out (API reads)."""
        admin = dataclasses.asdict(self.admin)
        if not secrets:
            del admin["password_hash"]
        wan = dataclasses.asdict(self.wan)
        wan["dns_servers"] = list(self.wan.dns_servers)
        return {
            "hostname": self.hostname,
            "nat": self.nat.to_dict(),
            "admin": admin,
            "wan": wan,
            "dhcp": dataclasses.asdict(self.dhcp),
        }


def restart_reasons(old: RouterConfig, new: RouterConfig) -> list[str]:
    """The RESTART_FIELDS that differ between two configurations."""
    old_flat, new_flat = _flatten(old.to_dict()), _flatten(new.to_dict())
    changed = {k for k in old_flat.keys() | new_flat.keys() if old_flat.get(k) != new_flat.get(k)}
    return [f for f in RESTART_FIELDS if any(k == f or k.startswith(f + ".") for k in changed)]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "helpers":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _expect_dict(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ConfigError(name, "must be an object")


def _only(name: str, value: dict[str, Any], cls: type) -> None:
    unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}", "unknown setting")


def _nat(value: Any) -> NatConfig:
    _expect_dict("nat", value)
    try:
        return NatConfig.from_dict(value)
    except ConfigError as error:
        raise ConfigError(f"nat.{error.field}", error.message) from None


def _admin(value: Any) -> AdminAccount:
    _expect_dict("admin", value)
    _only("admin", value, AdminAccount)
    account = AdminAccount(**value)
    if not isinstance(account.username, str) or not _USERNAME.match(account.username):
        raise ConfigError("admin.username", "lower-case letters, digits, '_', '.', '-'")
    if not isinstance(account.password_hash, str) or (
        account.password_hash and not account.password_hash.startswith(_HASH_PREFIXES)
    ):
        raise ConfigError("admin.password_hash", "not a password hash")
    if not isinstance(account.must_change_password, bool):
        raise ConfigError("admin.must_change_password", "expected true or false")
    return account


def _ipv4(name: str, value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(value if isinstance(value, str) else ""))
    except ipaddress.AddressValueError:
        raise ConfigError(name, f"{value!r} is not an IPv4 address") from None


def _wan(value: Any) -> WanSettings:
    _expect_dict("wan", value)
    _only("wan", value, WanSettings)
    mode = value.get("mode", "static")
    if mode not in ("static", "dhcp"):
        raise ConfigError("wan.mode", "must be 'static' or 'dhcp'")
    gateway = value.get("gateway", WanSettings().gateway)
    gateway = None if gateway in (None, "") else _ipv4("wan.gateway", gateway)
    dns = value.get("dns_servers", list(WanSettings().dns_servers))
    if not isinstance(dns, list | tuple) or len(dns) > 3:
        raise ConfigError("wan.dns_servers", "expected a list of at most 3 addresses")
    return WanSettings(
        mode=mode,
        gateway=gateway,
        dns_servers=tuple(_ipv4(f"wan.dns_servers[{i}]", d) for i, d in enumerate(dns)),
    )


def _dhcp(value: Any) -> DhcpServer:
    _expect_dict("dhcp", value)
    _only("dhcp", value, DhcpServer)
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("dhcp.enabled", "expected true or false")
    lease = value.get("lease_time", DhcpServer().lease_time)
    if isinstance(lease, bool) or not isinstance(lease, int) or not 120 <= lease <= 31_536_000:
        raise ConfigError("dhcp.lease_time", "must be between 120 and 31536000 seconds")
    return DhcpServer(
        enabled=enabled,
        first=_ipv4("dhcp.first", value.get("first", DhcpServer().first)),
        last=_ipv4("dhcp.last", value.get("last", DhcpServer().last)),
        lease_time=lease,
    )


def _check_dhcp_in_lan(config: RouterConfig) -> None:
    if not config.dhcp.enabled:
        return
    network = config.nat.lan_network()
    first, last = (ipaddress.IPv4Address(a) for a in (config.dhcp.first, config.dhcp.last))
    for name, address in (("dhcp.first", first), ("dhcp.last", last)):
        if address not in network:
            raise ConfigError(name, f"{address} is not in the LAN {network}")
    if first > last:
        raise ConfigError("dhcp.last", "the pool ends before it starts")
    if first <= ipaddress.IPv4Address(config.nat.lan_address) <= last:
        raise ConfigError("dhcp.first", "the pool contains the router's own LAN address")
