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
from nat.config_parse import config_warnings
from nat.rules import (
    DNS_NAME,
    Address,
    Boolean,
    Choice,
    Fields,
    Integer,
    ListOf,
    Nullable,
    Rule,
    Text,
)

# The factory password, printed on the (virtual) label; login forces a change.
FACTORY_PASSWORD = "admin"
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
class WebAccess:
    """How the web UI is reached. HTTP on port 80 always (the LAN's first contact); HTTPS on
    port 443 besides it when ``https`` is on, with the device's self-signed certificate."""

    https: bool = False


@dataclass(frozen=True, slots=True)
class RouterConfig:
    hostname: str = "natbox"
    nat: NatConfig = field(default_factory=NatConfig)
    admin: AdminAccount = field(default_factory=AdminAccount)
    wan: WanSettings = field(default_factory=WanSettings)
    dhcp: DhcpServer = field(default_factory=DhcpServer)
    dns: DnsSettings = field(default_factory=DnsSettings)
    web: WebAccess = field(default_factory=WebAccess)

    def replace(self, **changes: Any) -> RouterConfig:
        return dataclasses.replace(self, **changes)

    def warnings(self) -> list[tuple[str, str]]:
        """Risky but legal settings, as (field, message), for the UI and the API."""
        return [(f"nat.{name}", message) for name, message in config_warnings(self.nat)]

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
        hostname = HOSTNAME.parse("hostname", data.get("hostname", "natbox"))
        nat = _nat(data.get("nat", {}))
        config = cls(
            hostname=hostname,
            nat=nat,
            admin=_admin(data.get("admin", {})),
            wan=_wan(data.get("wan", {})),
            dhcp=_dhcp(data.get("dhcp", {})),
            dns=_dns(data.get("dns", {})),
            web=WebAccess(**WEB.parse("web", data.get("web", {}))),
        )
        _check_lan_hosts(config)
        _check_helper_ports(config.nat)
        _check_wan_gateway(config)
        _check_lan_and_wan_apart(config)
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
            "web": dataclasses.asdict(self.web),
        }


def _expect_dict(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ConfigError(name, "must be an object")


def _check_helper_ports(nat: NatConfig) -> None:
    """Ports given to helpers (``nat.helper_ports``) name a helper whose ports may move, and
    none is a port a fixed helper serves (IPsec's UDP 500 and 4500) on the same transport."""
    from nat.helper_dispatch import served_ports
    from nat.passthrough import HELPER_CLASSES

    classes = {cls.name: cls for cls in HELPER_CLASSES}
    served = served_ports(HELPER_CLASSES, nat)  # the engine's own reading of the same config
    fixed = {pair: cls.title for cls in HELPER_CLASSES if not cls.configurable_ports
             for pair in [*served[cls.name], *((17, p) for p in cls.owns_udp_ports)]}  # fmt: skip
    for port, name in nat.helper_ports:
        where = f"nat.helper_ports.{port}"
        if name not in classes:
            raise ConfigError(where, f"no such protocol; one of {', '.join(classes)}")
        if not classes[name].configurable_ports:
            raise ConfigError(where, f"{name}'s ports are fixed by its protocol")
        for pair in served[name]:
            if pair[1] == port and pair in fixed:
                raise ConfigError(where, f"port {port} is {fixed[pair]}'s, fixed by its protocol")


def _nat(value: Any) -> NatConfig:
    _expect_dict("nat", value)
    try:
        return NatConfig.from_dict(value)
    except ConfigError as error:
        raise ConfigError(f"nat.{error.field}", error.message) from None


class PasswordHash(Rule):
    """A password hash in the format router's webui.passwords writes, with bounded cost: a
    restored backup must not make every login take seconds (a denial of service) or hold a
    hash nothing can check (everyone locked out). "" is the factory password."""

    def parse(self, name: str, value: Any) -> str:
        text = Text(512, what="a password hash").parse(name, value)
        if text and not re.fullmatch(PASSWORD_HASH_PATTERN, text):
            raise ConfigError(name, "not a password hash this router writes")
        if text.startswith("scrypt:"):
            n, r, p = (int(x) for x in text.split("$")[0].split(":")[1:])
            if n & (n - 1) or not (2**10 <= n <= MAX_SCRYPT_N and r <= 16 and p <= 2):
                bounds = f"N a power of two <= {MAX_SCRYPT_N}, r <= 16, p <= 2"
                raise ConfigError(name, f"scrypt cost out of bounds ({bounds})")
        elif text.startswith("pbkdf2:"):
            iterations = int(text.split("$")[0].split(":")[2])
            if not 1000 <= iterations <= MAX_PBKDF2_ITERATIONS:
                limit = MAX_PBKDF2_ITERATIONS
                raise ConfigError(name, f"pbkdf2 iterations must be 1000 to {limit}")
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": 512, "pattern": f"^(?:{PASSWORD_HASH_PATTERN})?$"}


# scrypt:N:r:p$salt$hex (64 bytes) or pbkdf2:sha256|sha512:iterations$salt$hex (digest size).
PASSWORD_HASH_PATTERN = (
    r"scrypt:[0-9]{1,7}:[0-9]{1,2}:[0-9]\$[A-Za-z0-9]{8,64}\$[0-9a-f]{128}"
    r"|pbkdf2:sha256:[0-9]{4,7}\$[A-Za-z0-9]{8,64}\$[0-9a-f]{64}"
    r"|pbkdf2:sha512:[0-9]{4,7}\$[A-Za-z0-9]{8,64}\$[0-9a-f]{128}"
)
MAX_SCRYPT_N = 2**16  # 64 MiB with r = 8; the default is 2**15
MAX_PBKDF2_ITERATIONS = 1_000_000  # Werkzeug's default is 600,000; 3,000,000 take 1.3 s here

HOSTNAME = Text(
    63, r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?", "a host name (letters, digits and '-')"
)
ADMIN = Fields(
    {
        "username": Text(
            32,
            r"[a-z_][a-z0-9_.-]{0,31}",
            "a user name (lower-case letters, digits, '_', '.', '-')",
        ),
        "password_hash": PasswordHash(),
        "must_change_password": Boolean(),
    }
)
WAN = Fields(
    {
        "mode": Choice(("static", "dhcp")),
        "prefix": Integer(1, 32),
        "gateway": Nullable(Address(), empty_is_none=True),
        "dns_servers": ListOf(Address(), 3),
    }
)
STATIC_LEASE = Fields(
    {
        "mac": Text(
            17, r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", "a MAC address like 02:00:00:00:00:01"
        ),
        "address": Address(),
    },
    required=("mac", "address"),
)
DHCP = Fields(
    {
        "enabled": Boolean(),
        "first": Address(),
        "last": Address(),
        "lease_time": Integer(120, 31_536_000),
        "static_leases": ListOf(STATIC_LEASE, MAX_STATIC_LEASES),
    }
)
HOST_RECORD = Fields(
    {"name": Text(253, DNS_NAME, "a DNS name"), "address": Address()},
    required=("name", "address"),
)
DNS = Fields({"hosts": ListOf(HOST_RECORD, MAX_HOST_RECORDS)})
WEB = Fields({"https": Boolean()})
# The sections besides ``nat`` (which nat.config_parse owns), for the API's document.
SECTIONS: dict[str, Rule] = {
    "hostname": HOSTNAME,
    "admin": ADMIN,
    "wan": WAN,
    "dhcp": DHCP,
    "dns": DNS,
    "web": WEB,
}


def _admin(value: Any) -> AdminAccount:
    return AdminAccount(**ADMIN.parse("admin", value))


def _wan(value: Any) -> WanSettings:
    return WanSettings(**WAN.parse("wan", value))


def _dhcp(value: Any) -> DhcpServer:
    parsed = DHCP.parse("dhcp", value)
    parsed["static_leases"] = _static_leases(parsed.get("static_leases", ()))
    return DhcpServer(**parsed)


def _static_leases(items: tuple[dict[str, Any], ...]) -> tuple[StaticLease, ...]:
    leases, macs, addresses = [], set(), set()
    for i, item in enumerate(items):
        lease = StaticLease(item["mac"].lower(), item["address"])
        if lease.mac in macs or lease.address in addresses:
            raise ConfigError(
                f"dhcp.static_leases[{i}]", "each MAC and each address may have one static lease"
            )
        macs.add(lease.mac)
        addresses.add(lease.address)
        leases.append(lease)
    return tuple(leases)


def _dns(value: Any) -> DnsSettings:
    parsed = DNS.parse("dns", value)
    return DnsSettings(hosts=tuple(HostRecord(**item) for item in parsed.get("hosts", ())))


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


def _check_lan_and_wan_apart(config: RouterConfig) -> None:
    """A static WAN's prefix must not cover the LAN (nor the LAN the WAN): the router could not
    tell which side an address is on."""
    if config.wan.mode != "static":
        return
    wan = ipaddress.IPv4Network(f"{config.nat.wan_addresses[0]}/{config.wan.prefix}", strict=False)
    lan = config.nat.lan_network()
    if wan.overlaps(lan):
        raise ConfigError("wan.prefix", f"the WAN {wan} overlaps the LAN {lan}")


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
