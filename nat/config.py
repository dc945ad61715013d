"""The NAT engine's configuration: one immutable, validated value.

``NatConfig.from_dict`` is the only way untrusted input becomes a configuration: it refuses
bad input with a :class:`ConfigError` naming the field, so the caller keeps its old config.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ConfigError(ValueError):
    """Invalid configuration; ``field`` names what is wrong, for messages next to the field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class Behaviour(StrEnum):
    """RFC 4787 section 4.1/5 behaviours, shared by mapping and filtering."""

    ENDPOINT_INDEPENDENT = "endpoint-independent"
    ADDRESS_DEPENDENT = "address-dependent"
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"


class PortAllocation(StrEnum):
    PRESERVE = "preserve"  # the internal port when free, else the next free one
    SEQUENTIAL = "sequential"
    RANDOM = "random"  # seeded, so a run can be replayed (RFC 4787 REQ-11)


class UnsolicitedSyn(StrEnum):
    """RFC 5382 REQ-4: what follows an unsolicited inbound SYN after the 6 s hold."""

    ICMP = "icmp"  # ICMP port unreachable (3/3), as the RFC recommends
    DROP = "drop"  # silent ("stealth")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Idle timeouts in seconds. Defaults meet RFC 4787 REQ-5, RFC 5382 REQ-5, RFC 5508, 7857."""

    tcp_established: float = 7440.0  # 2 h 4 min
    tcp_transitory: float = 240.0
    tcp_rst: float = 240.0  # RFC 7857: keep the session 4 min after a RST
    udp: float = 300.0
    icmp: float = 60.0
    port_reuse_delay: float = 120.0  # RFC 6888: a freed port waits before reuse
    unsolicited_syn_hold: float = 6.0
    fragment: float = 30.0


@dataclass(frozen=True, slots=True)
class PortForward:
    """Inbound ``proto`` traffic to external ports [ext_port, ext_port_end] goes to ``host``."""

    proto: str  # "tcp" or "udp"
    ext_port: int
    host: str
    host_port: int
    ext_port_end: int | None = None
    name: str = ""

    def ports(self) -> range:
        return range(self.ext_port, (self.ext_port_end or self.ext_port) + 1)


@dataclass(frozen=True, slots=True)
class NatConfig:
    lan_address: str = "192.168.1.1"
    lan_prefix: int = 24
    wan_addresses: tuple[str, ...] = ("203.0.113.1",)
    profile: str = "restricted-cone"
    mapping: Behaviour = Behaviour.ENDPOINT_INDEPENDENT
    filtering: Behaviour = Behaviour.ADDRESS_DEPENDENT
    port_allocation: PortAllocation = PortAllocation.PRESERVE
    port_parity: bool = True
    hairpinning: bool = True
    inbound_refresh: bool = True
    port_range: tuple[int, int] = (1024, 65535)
    # Well-known internal ports map into this range (RFC 4787 REQ-3a).
    low_port_range: tuple[int, int] = (1, 1023)
    per_host_quota: int = 8192
    max_mappings: int = 1_000_000
    lan_mtu: int = 1500
    wan_mtu: int = 1500
    unsolicited_syn: UnsolicitedSyn = UnsolicitedSyn.ICMP
    timeouts: Timeouts = field(default_factory=Timeouts)
    port_forwards: tuple[PortForward, ...] = ()
    dmz_host: str | None = None
    helpers: tuple[tuple[str, bool], ...] = ()  # (name, enabled) for passthrough/ALG helpers
    # TLS server names the SSTP helper treats as SSTP VPN servers when SSTP is disabled.
    sstp_servers: tuple[str, ...] = ()
    random_seed: int = 0

    def helper_enabled(self, name: str, default: bool = False) -> bool:
        return dict(self.helpers).get(name, default)

    def replace(self, **changes: Any) -> NatConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_profile(cls, profile: str, **overrides: Any) -> NatConfig:
        from nat.profiles import profile_settings

        return cls(profile=profile, **{**profile_settings(profile), **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NatConfig:
        """Build and validate a configuration from plain data (JSON, form fields)."""
        from nat.config_parse import parse_config

        return parse_config(data)

    def to_dict(self) -> dict[str, Any]:
        from nat.config_parse import config_to_dict

        return config_to_dict(self)

    def lan_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.lan_address}/{self.lan_prefix}", strict=False)
