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
from nat.profiles import DEFAULT_PROFILE, profile_settings

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
    settings.update(profile_settings(_expect(str, "profile", profile)))
    settings["profile"] = profile
    for name, value in data.items():
        if name == "profile":
            continue
        settings[name] = _FIELD_PARSERS[name](name, value)
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
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def _expect(kind: type | tuple[type, ...], name: str, value: Any) -> Any:
    if isinstance(value, bool) and kind is not bool and kind != (bool,):
        raise ConfigError(name, f"expected {_kind_name(kind)}, got a boolean")
    if not isinstance(value, kind):
        raise ConfigError(name, f"expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


def _ipv4(name: str, value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(_expect(str, name, value)))
    except ipaddress.AddressValueError:
        raise ConfigError(name, f"{value!r} is not an IPv4 address") from None


def _int_in(name: str, value: Any, low: int, high: int) -> int:
    _expect(int, name, value)
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}")
    return value


def _enum(enum: type[Enum]):
    def parse(name: str, value: Any) -> Enum:
        try:
            return enum(value)
        except ValueError:
            choices = ", ".join(member.value for member in enum)
            raise ConfigError(name, f"{value!r} is not one of: {choices}") from None

    return parse


def _port_range(name: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(name, "expected [first, last]")
    first = _int_in(name, value[0], 1, 65535)
    last = _int_in(name, value[1], 1, 65535)
    if first > last:
        raise ConfigError(name, "first port is above the last")
    return (first, last)


def _wan_addresses(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(name, "expected a non-empty list of IPv4 addresses")
    addresses = tuple(_ipv4(name, v) for v in value)
    if len(set(addresses)) != len(addresses):
        raise ConfigError(name, "addresses must be distinct")
    return addresses


def _timeouts(name: str, value: Any) -> Timeouts:
    _expect(dict, name, value)
    known = {f.name for f in dataclasses.fields(Timeouts)}
    values = {}
    for key, seconds in value.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}", "unknown timeout")
        _expect((int, float), f"{name}.{key}", seconds)
        if seconds < 0:
            raise ConfigError(f"{name}.{key}", "must not be negative")
        values[key] = float(seconds)
    return Timeouts(**values)


def _check_rfc_minimums(timeouts: Timeouts) -> None:
    for key, minimum in RFC_MINIMUM_TIMEOUTS.items():
        if getattr(timeouts, key) < minimum:
            raise ConfigError(f"timeouts.{key}", f"must be at least {minimum:g} s (RFC minimum)")


def _port_forwards(name: str, value: Any) -> tuple[PortForward, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(name, "expected a list")
    forwards = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        _expect(dict, where, item)
        unknown = set(item) - {"proto", "ext_port", "ext_port_end", "host", "host_port", "name"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown setting")
        for required in ("proto", "ext_port", "host"):
            if required not in item:
                raise ConfigError(f"{where}.{required}", "required")
        proto = item["proto"]
        if proto not in ("tcp", "udp"):
            raise ConfigError(f"{where}.proto", "must be 'tcp' or 'udp'")
        ext_port = _int_in(f"{where}.ext_port", item["ext_port"], 1, 65535)
        end = item.get("ext_port_end")
        if end is not None:
            end = _int_in(f"{where}.ext_port_end", end, ext_port, 65535)
        host_port = _int_in(f"{where}.host_port", item.get("host_port", ext_port), 1, 65535)
        if host_port + (end or ext_port) - ext_port > 65535:
            raise ConfigError(f"{where}.host_port", "the range runs past port 65535")
        forwards.append(
            PortForward(
                proto=proto,
                ext_port=ext_port,
                ext_port_end=end,
                host=_ipv4(f"{where}.host", item["host"]),
                host_port=host_port,
                name=_expect(str, f"{where}.name", item.get("name", "")),
            )
        )
    return tuple(forwards)


def _helpers(name: str, value: Any) -> tuple[tuple[str, bool], ...]:
    _expect(dict, name, value)
    for key, enabled in value.items():
        _expect(bool, f"{name}.{key}", enabled)
    return tuple(sorted(value.items()))


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*"
    r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?$"
)


def _hostnames(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(name, "expected a list of host names")
    for i, host in enumerate(value):
        if not isinstance(host, str) or not _HOSTNAME.match(host):
            raise ConfigError(f"{name}[{i}]", f"{host!r} is not a host name")
    return tuple(value)


def _optional_ipv4(name: str, value: Any) -> str | None:
    return None if value in (None, "") else _ipv4(name, value)


_FIELD_PARSERS = {
    "lan_address": _ipv4,
    "lan_prefix": lambda n, v: _int_in(n, v, 8, 30),
    "wan_addresses": _wan_addresses,
    "mapping": _enum(Behaviour),
    "filtering": _enum(Behaviour),
    "port_allocation": _enum(PortAllocation),
    "port_parity": lambda n, v: _expect(bool, n, v),
    "hairpinning": lambda n, v: _expect(bool, n, v),
    "inbound_refresh": lambda n, v: _expect(bool, n, v),
    "port_range": _port_range,
    "low_port_range": _port_range,
    "per_host_quota": lambda n, v: _int_in(n, v, 1, 65535 * 8),
    "max_mappings": lambda n, v: _int_in(n, v, 1, 10_000_000),
    "lan_mtu": lambda n, v: _int_in(n, v, 576, 65535),
    "wan_mtu": lambda n, v: _int_in(n, v, 576, 65535),
    "unsolicited_syn": _enum(UnsolicitedSyn),
    "timeouts": _timeouts,
    "port_forwards": _port_forwards,
    "dmz_host": _optional_ipv4,
    "helpers": _helpers,
    "sstp_servers": _hostnames,
    "random_seed": lambda n, v: _int_in(n, v, 0, 2**63 - 1),
}


def _check_consistency(config: Any) -> None:
    network = config.lan_network()
    if ipaddress.IPv4Address(config.lan_address) in (
        network.network_address,
        network.broadcast_address,
    ):
        raise ConfigError(
            "lan_address", f"{config.lan_address} is the network or broadcast address of {network}"
        )
    for i, forward in enumerate(config.port_forwards):
        if ipaddress.IPv4Address(forward.host) not in network:
            raise ConfigError(f"port_forwards[{i}].host", f"{forward.host} is not in {network}")
    if config.dmz_host and ipaddress.IPv4Address(config.dmz_host) not in network:
        raise ConfigError("dmz_host", f"{config.dmz_host} is not in {network}")
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
