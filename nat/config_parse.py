"""Plain data (JSON, form fields) <-> :class:`~nat.config.NatConfig`, refusing bad input
field by field.

It is handed the configuration class rather than importing :mod:`nat.config` (which
imports this module for ``NatConfig.from_dict``/``to_dict``): no import circle."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from enum import Enum
from typing import Any, TypeVar

from nat.config_types import (
    Behaviour,
    ConfigError,
    PortAllocation,
    PortForward,
    Timeouts,
    UnsolicitedSyn,
)
from nat.profiles import DEFAULT_PROFILE, PROFILES, profile_settings
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
    Seconds,
    Text,
)

# Lower bounds the RFCs set; going below them is refused rather than silently accepted.
RFC_MINIMUM_TIMEOUTS = {
    "tcp_established": 7440.0,
    "tcp_transitory": 240.0,
    "udp": 120.0,
    "icmp": 60.0,
}


Config = TypeVar("Config")


def parse_config(config_class: type[Config], data: dict[str, Any]) -> Config:
    """Build a ``config_class`` (a NatConfig) from ``data``, or raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError("config", "must be an object")
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")
    settings: dict[str, Any] = {}
    profile = data.get("profile", DEFAULT_PROFILE)
    if not isinstance(profile, str):
        raise ConfigError("profile", "expected a profile name")
    settings.update(profile_settings(profile))  # refuses an unknown one, naming the choices
    settings["profile"] = profile
    for name, value in data.items():
        if name != "profile":
            settings[name] = _field(name, value)
    if "timeouts" in data and profile != "linux-masquerade":
        _check_rfc_minimums(settings["timeouts"])
    config = config_class(**settings)
    _check_consistency(config)
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """A NatConfig as plain data (what ``parse_config`` reads back)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Timeouts):
            value = dataclasses.asdict(value)
        elif f.name == "port_forwards":
            value = [dataclasses.asdict(fw) for fw in value]
        elif f.name == "helpers":
            value = dict(value)
        elif f.name == "helper_ports":
            value = {str(port): name for port, name in value}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


# Limits: generous for any real router, small enough that nothing can exhaust the device.
MAX_TIMEOUT = 30 * 86400.0  # a month; Linux's TCP established timeout is 5 days
MAX_PORT_FORWARDS = 256
MAX_NAME = 64
MAX_SSTP_SERVERS = 16
MAX_HELPER_PORTS = 16
_HOST_NAME = DNS_NAME + r"\.?"  # an SSTP server's name may be written fully qualified
HELPER_NAME = r"[a-z0-9_-]{1,32}"

PORT = Integer(1, 65535)
TIMEOUTS = Fields({f.name: Seconds(0.0, MAX_TIMEOUT) for f in dataclasses.fields(Timeouts)})
PORT_FORWARD = Fields(
    {
        "proto": Choice(("tcp", "udp")),
        "ext_port": PORT,
        "ext_port_end": Nullable(PORT),
        "host": Address(),
        "host_port": PORT,
        "name": Text(MAX_NAME),
    },
    required=("proto", "ext_port", "host"),
)


class PortRange(Rule):
    def parse(self, name: str, value: Any) -> tuple[int, int]:
        first, last = ListOf(PORT, 2, 2).parse(name, value)
        if first > last:
            raise ConfigError(name, "first port is above the last")
        return (first, last)

    def schema(self) -> dict[str, Any]:
        return ListOf(PORT, 2, 2).schema()


class HelperSwitches(Rule):
    """``{"pptp": true, ...}``: which helpers are on (names are the helpers' own)."""

    def parse(self, name: str, value: Any) -> tuple[tuple[str, bool], ...]:
        if not isinstance(value, dict):
            raise ConfigError(name, "must be an object")
        for key, enabled in value.items():
            Text(32, HELPER_NAME, "a helper name").parse(f"{name}.{key}", key)
            Boolean().parse(f"{name}.{key}", enabled)
        return tuple(sorted(value.items()))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "propertyNames": {"pattern": f"^{HELPER_NAME}$"},
            "additionalProperties": {"type": "boolean"},
        }


# A port number as a JSON object's key: 1..65535, no leading zero.
PORT_KEY = r"[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"


class HelperPorts(Rule):
    """``{"8554": "rtsp"}``: server ports given to a helper (a port has one helper, so no two
    can be given the same one). ``names``: the helpers that may be named (the API's schema
    lists them; the model checks them against the engine's own)."""

    def __init__(self, names: tuple[str, ...] = ()):
        self.names = names

    def parse(self, name: str, value: Any) -> tuple[tuple[int, str], ...]:
        if not isinstance(value, dict):
            raise ConfigError(name, "must be an object of port: protocol")
        if len(value) > MAX_HELPER_PORTS:
            raise ConfigError(name, f"at most {MAX_HELPER_PORTS} ports")
        given = []
        for key, helper in value.items():
            if not isinstance(key, str) or not re.fullmatch(PORT_KEY, key):
                raise ConfigError(f"{name}.{key}", "expected a port number, 1 to 65535")
            Text(32, HELPER_NAME, "a helper name").parse(f"{name}.{key}", helper)
            given.append((int(key), helper))
        return tuple(sorted(given))

    def schema(self) -> dict[str, Any]:
        names = {"enum": list(self.names)} if self.names else {"pattern": f"^{HELPER_NAME}$"}
        return {
            "type": "object",
            "propertyNames": {"pattern": f"^({PORT_KEY})$"},
            "additionalProperties": {"type": "string", **names},
            "maxProperties": MAX_HELPER_PORTS,
        }


def _enum_rule(enum: type[Enum]) -> Choice:
    return Choice(tuple(member.value for member in enum))


# Every field of NatConfig: its rule, and how the checked value becomes the field's value.
FIELD_RULES: dict[str, tuple[Rule, Any]] = {
    "profile": (Choice(tuple(PROFILES)), None),
    "lan_address": (Address(), None),
    "lan_prefix": (Integer(8, 30), None),
    "wan_addresses": (ListOf(Address(), 8, min_items=1), None),
    "mapping": (_enum_rule(Behaviour), Behaviour),
    "filtering": (_enum_rule(Behaviour), Behaviour),
    "port_allocation": (_enum_rule(PortAllocation), PortAllocation),
    "port_parity": (Boolean(), None),
    "hairpinning": (Boolean(), None),
    "inbound_refresh": (Boolean(), None),
    "port_range": (PortRange(), None),
    "low_port_range": (PortRange(), None),
    "per_host_quota": (Integer(1, 65535 * 8), None),
    "max_mappings": (Integer(1, 10_000_000), None),
    "lan_mtu": (Integer(576, 65535), None),
    "wan_mtu": (Integer(576, 65535), None),
    "unsolicited_syn": (_enum_rule(UnsolicitedSyn), UnsolicitedSyn),
    "timeouts": (TIMEOUTS, lambda value: Timeouts(**value)),
    "port_forwards": (ListOf(PORT_FORWARD, MAX_PORT_FORWARDS), None),
    "dmz_host": (Nullable(Address(), empty_is_none=True), None),
    "helpers": (HelperSwitches(), None),
    "helper_ports": (HelperPorts(), None),
    "sstp_servers": (ListOf(Text(253, _HOST_NAME, "a host name"), MAX_SSTP_SERVERS), None),
    "sip_direct_media": (Boolean(), None),
    "flow_offload": (Boolean(), None),
    "random_seed": (Integer(0, 2**63 - 1), None),
}


def nat_schema() -> dict[str, Any]:
    """JSON Schema of the ``nat`` section, from the same rules ``parse_config`` applies."""
    return Fields({name: rule for name, (rule, _) in FIELD_RULES.items()}).schema()


def _field(name: str, value: Any) -> Any:
    rule, convert = FIELD_RULES[name]
    parsed = rule.parse(name, value)
    if name == "port_forwards":
        return tuple(_port_forward(f"{name}[{i}]", item) for i, item in enumerate(parsed))
    if name == "wan_addresses" and len(set(parsed)) != len(parsed):
        raise ConfigError(name, "addresses must be distinct")
    return convert(parsed) if convert is not None else parsed


def _port_forward(where: str, item: dict[str, Any]) -> PortForward:
    ext_port = item["ext_port"]
    end = item.get("ext_port_end")
    if end is not None and end < ext_port:
        raise ConfigError(f"{where}.ext_port_end", f"must be between {ext_port} and 65535")
    host_port = item.get("host_port", ext_port)
    if host_port + (end or ext_port) - ext_port > 65535:
        raise ConfigError(f"{where}.host_port", "the range runs past port 65535")
    return PortForward(
        proto=item["proto"],
        ext_port=ext_port,
        ext_port_end=end,
        host=item["host"],
        host_port=host_port,
        name=item.get("name", ""),
    )


def _check_rfc_minimums(timeouts: Timeouts) -> None:
    for key, minimum in RFC_MINIMUM_TIMEOUTS.items():
        if getattr(timeouts, key) < minimum:
            raise ConfigError(f"timeouts.{key}", f"must be at least {minimum:g} s (RFC minimum)")


def _check_consistency(config: Any) -> None:
    network = config.lan_network()
    router = ipaddress.IPv4Address(config.lan_address)
    edges = (network.network_address, network.broadcast_address)
    if router in edges:
        raise ConfigError(
            "lan_address", f"{config.lan_address} is the network or broadcast address of {network}"
        )

    def lan_host(name: str, text: str) -> None:
        """Inbound traffic goes to a host of the LAN, never to the router itself: a forward
        to its own address would open the management UI to the WAN."""
        address = ipaddress.IPv4Address(text)
        if address not in network:
            raise ConfigError(name, f"{text} is not in {network}")
        if address in edges:
            raise ConfigError(name, f"{text} is the network or broadcast address of {network}")
        if address == router:
            raise ConfigError(name, f"{text} is the router itself, not a LAN host")

    for i, forward in enumerate(config.port_forwards):
        lan_host(f"port_forwards[{i}].host", forward.host)
    if config.dmz_host:
        lan_host("dmz_host", config.dmz_host)
    seen: dict[tuple[str, int], int] = {}
    for i, forward in enumerate(config.port_forwards):
        for port in forward.ports():
            if (forward.proto, port) in seen:
                raise ConfigError(
                    f"port_forwards[{i}].ext_port",
                    f"{forward.proto} port {port} is already forwarded by "
                    f"port_forwards[{seen[(forward.proto, port)]}]",
                )
            seen[(forward.proto, port)] = i
    for address in config.wan_addresses:
        if ipaddress.IPv4Address(address) in network:
            raise ConfigError("wan_addresses", f"{address} is inside the LAN {network}")


# A forward of more ports than this is legal but suspicious: the LAN host behind it takes
# the WAN's traffic for all of them, and its own outbound connections lose those ports.
WIDE_FORWARD = 1024


def config_warnings(config: Any) -> list[tuple[str, str]]:
    """Risky but legal settings, as (field, message): the UI shows them, the API returns them."""
    warnings = []
    for i, forward in enumerate(config.port_forwards):
        count = len(forward.ports())
        if count > WIDE_FORWARD:
            warnings.append((
                f"port_forwards[{i}]",
                f"forwards {count} {forward.proto} ports to {forward.host}: every one of them "
                "reaches that host from the WAN",
            ))  # fmt: skip
    if config.dmz_host:
        warnings.append(("dmz_host", f"all unsolicited WAN traffic reaches {config.dmz_host}"))
    return warnings
