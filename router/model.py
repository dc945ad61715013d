"""The router's whole configuration: the NAT engine's settings plus what the appliance around
it needs (admin account, WAN uplink, DHCP server). One model for the web UI, the REST API and
routerctl; ``router.store`` keeps it on disk.

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

# The factory password, printed on the (virtual) label; login forces a change.
FACTORY_PASSWORD = "admin"
_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_HASH_PREFIXES = ("scrypt:", "pbkdf2:")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*"
                       r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")  # fmt: skip
# The LAN's own DNS domain: the router answers HOSTNAME.lan and router.lan itself.
LAN_DOMAIN = "lan"
ROUTER_NAMES = (f"router.{LAN_DOMAIN}",)
MAX_STATIC_LEASES = 256
MAX_HOST_RECORDS = 256


@dataclass(frozen=True, slots=True)
class AdminAccount:
    username: str = "admin"
    # A webui.passwords hash (Werkzeug's format); "" means the factory password is in effect.
    password_hash: str = ""
    must_change_password: bool = True


@dataclass(frozen=True, slots=True)
class WanSettings:
    mode: str = "static"  # "static" (the addresses in nat.wan_addresses) or "dhcp"
    prefix: int = 24  # of a static WAN address
    gateway: str | None = "203.0.113.254"
    dns_servers: tuple[str, ...] = ("192.0.2.53",)


@dataclass(frozen=True, slots=True)
class StaticLease:
    mac: str  # lower-case, colon-separated
    address: str


@dataclass(frozen=True, slots=True)
class DhcpServer:
    enabled: bool = True
    first: str = "192.168.1.100"
    last: str = "192.168.1.199"
    lease_time: int = 86400
    static_leases: tuple[StaticLease, ...] = ()


@dataclass(frozen=True, slots=True)
class HostRecord:
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """The LAN's DNS server: local names besides the router's own (which it always has)."""

    hosts: tuple[HostRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RouterConfig:
    hostname: str = "natbox"
    nat: NatConfig = field(default_factory=NatConfig)
    admin: AdminAccount = field(default_factory=AdminAccount)
    wan: WanSettings = field(default_factory=WanSettings)
    dhcp: DhcpServer = field(default_factory=DhcpServer)
    dns: DnsSettings = field(default_factory=DnsSettings)

    def replace(self, **changes: Any) -> RouterConfig:
        return dataclasses.replace(self, **changes)

    def own_names(self) -> tuple[str, ...]:
        """The names the router itself answers for on the LAN."""
        return (self.hostname, f"{self.hostname}.{LAN_DOMAIN}", *ROUTER_NAMES)

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
            dns=_dns(data.get("dns", {})),
        )
        _check_lan_hosts(config)
        _check_wan_gateway(config)
        _check_dns_names(config)
        return config

    def to_dict(self, secrets: bool = True) -> dict[str, Any]:
        """Plain data; ``secrets=False`` leaves the admin password hash out (API reads)."""
        admin = dataclasses.asdict(self.admin)
        if not secrets:
            del admin["password_hash"]
        wan = dataclasses.asdict(self.wan)
        wan["dns_servers"] = list(self.wan.dns_servers)
        dhcp = dataclasses.asdict(self.dhcp)
        dhcp["static_leases"] = [dataclasses.asdict(lease) for lease in self.dhcp.static_leases]
        return {
            "hostname": self.hostname,
            "nat": self.nat.to_dict(),
            "admin": admin,
            "wan": wan,
            "dhcp": dhcp,
            "dns": {"hosts": [dataclasses.asdict(record) for record in self.dns.hosts]},
        }


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
    prefix = value.get("prefix", WanSettings().prefix)
    if isinstance(prefix, bool) or not isinstance(prefix, int) or not 1 <= prefix <= 32:
        raise ConfigError("wan.prefix", "must be a prefix length from 1 to 32")
    gateway = value.get("gateway", WanSettings().gateway)
    gateway = None if gateway in (None, "") else _ipv4("wan.gateway", gateway)
    dns = value.get("dns_servers", list(WanSettings().dns_servers))
    if not isinstance(dns, list | tuple) or len(dns) > 3:
        raise ConfigError("wan.dns_servers", "expected a list of at most 3 addresses")
    return WanSettings(
        mode=mode,
        prefix=prefix,
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
        static_leases=_static_leases(value.get("static_leases", [])),
    )


def _list(name: str, value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list | tuple) or len(value) > limit:
        raise ConfigError(name, f"expected a list of at most {limit} entries")
    for i, item in enumerate(value):
        _expect_dict(f"{name}[{i}]", item)
    return list(value)


def _static_leases(value: Any) -> tuple[StaticLease, ...]:
    leases, macs, addresses = [], set(), set()
    for i, item in enumerate(_list("dhcp.static_leases", value, MAX_STATIC_LEASES)):
        name = f"dhcp.static_leases[{i}]"
        _only(name, item, StaticLease)
        mac = item.get("mac")
        if not isinstance(mac, str) or not _MAC.match(mac.lower()):
            raise ConfigError(f"{name}.mac", "expected a MAC address like 02:00:00:00:00:01")
        lease = StaticLease(mac.lower(), _ipv4(f"{name}.address", item.get("address")))
        if lease.mac in macs or lease.address in addresses:
            raise ConfigError(name, "each MAC and each address may have one static lease")
        macs.add(lease.mac)
        addresses.add(lease.address)
        leases.append(lease)
    return tuple(leases)


def _dns(value: Any) -> DnsSettings:
    _expect_dict("dns", value)
    _only("dns", value, DnsSettings)
    records = []
    for i, item in enumerate(_list("dns.hosts", value.get("hosts", []), MAX_HOST_RECORDS)):
        name = f"dns.hosts[{i}]"
        _only(name, item, HostRecord)
        host = item.get("name")
        if not isinstance(host, str) or not _DNS_NAME.match(host):
            raise ConfigError(f"{name}.name", "not a DNS name")
        records.append(HostRecord(host, _ipv4(f"{name}.address", item.get("address"))))
    return DnsSettings(hosts=tuple(records))


def _check_lan_hosts(config: RouterConfig) -> None:
    """The DHCP pool and static leases name hosts of the LAN other than the router."""
    network = config.nat.lan_network()
    router = ipaddress.IPv4Address(config.nat.lan_address)

    def lan_host(name: str, text: str) -> ipaddress.IPv4Address:
        address = ipaddress.IPv4Address(text)
        if address not in network:
            raise ConfigError(name, f"{address} is not in the LAN {network}")
        if address in (network.network_address, network.broadcast_address):
            raise ConfigError(name, f"{address} is the network or broadcast address of {network}")
        return address

    if config.dhcp.enabled:
        first = lan_host("dhcp.first", config.dhcp.first)
        last = lan_host("dhcp.last", config.dhcp.last)
        if first > last:
            raise ConfigError("dhcp.last", "the pool ends before it starts")
        if first <= router <= last:
            raise ConfigError("dhcp.first", "the pool contains the router's own LAN address")
    # Checked whether the server is on or not: switching it on must not reveal old mistakes.
    for i, lease in enumerate(config.dhcp.static_leases):
        name = f"dhcp.static_leases[{i}].address"
        if lan_host(name, lease.address) == router:
            raise ConfigError(name, "that is the router's own LAN address")


def _check_wan_gateway(config: RouterConfig) -> None:
    """A static WAN's gateway is another host of the WAN's own prefix (else the route to it
    cannot be set and the router would not come up)."""
    wan = config.wan
    if wan.mode != "static" or wan.gateway is None:
        return
    address = ipaddress.IPv4Address(config.nat.wan_addresses[0])
    network = ipaddress.IPv4Network(f"{address}/{wan.prefix}", strict=False)
    gateway = ipaddress.IPv4Address(wan.gateway)
    if gateway == address:
        raise ConfigError("wan.gateway", "that is the router's own WAN address")
    edges = (network.network_address, network.broadcast_address) if wan.prefix < 31 else ()
    if gateway not in network or gateway in edges:
        raise ConfigError("wan.gateway", f"{gateway} is not a host of the WAN {network}")


def _check_dns_names(config: RouterConfig) -> None:
    own = {name.lower() for name in config.own_names()}
    seen: set[str] = set()
    for i, record in enumerate(config.dns.hosts):
        name = record.name.lower()
        if name in own:
            raise ConfigError(f"dns.hosts[{i}].name", "that is one of the router's own names")
        if name in seen:
            raise ConfigError(f"dns.hosts[{i}].name", "a second record for the same name")
        seen.add(name)
