"""The NAT engine's configuration: one immutable, validated value.

``NatConfig.from_dict`` is the only way untrusted input becomes a configuration: it refuses
bad input with a :class:`ConfigError` naming the field, so the caller keeps its old config.
The value types it is made of live in :mod:`nat.config_types` (and are importable from
here); parsing lives in :mod:`nat.config_parse`, the named profiles in :mod:`nat.profiles`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from nat.config_parse import config_to_dict, parse_config
from nat.config_types import (
    Behaviour,
    ConfigError,
    PortAllocation,
    PortForward,
    Timeouts,
    UnsolicitedSyn,
)
from nat.profiles import profile_settings

__all__ = [
    "Behaviour",
    "ConfigError",
    "NatConfig",
    "PortAllocation",
    "PortForward",
    "Timeouts",
    "UnsolicitedSyn",
]


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
    # The links' MTUs. The driver enforces them (it knows the egress link and GSO; see
    # nat.mtu.fit_to_mtu); the engine forwards packets of any size.
    lan_mtu: int = 1500
    wan_mtu: int = 1500
    unsolicited_syn: UnsolicitedSyn = UnsolicitedSyn.ICMP
    timeouts: Timeouts = field(default_factory=Timeouts)
    port_forwards: tuple[PortForward, ...] = ()
    dmz_host: str | None = None
    helpers: tuple[tuple[str, bool], ...] = ()  # (name, enabled) for passthrough/ALG helpers
    # (server port, helper): ports given to a helper, replacing its own, e.g. RTSP on 8554:
    # ((554, "rtsp"), (8554, "rtsp")). A port belongs to one helper; given away, it leaves the
    # helper that had it by default.
    helper_ports: tuple[tuple[int, str], ...] = ()
    # TLS server names the SSTP helper treats as SSTP VPN servers when SSTP is disabled.
    sstp_servers: tuple[str, ...] = ()
    # Media the SIP ALG opens is admitted from the signalling peer only (True, as Linux's
    # nf_conntrack_sip sip_direct_media=1 does by default), or from any address (False: media
    # servers and SBCs at other addresses than the proxy, as VoIP providers run them).
    sip_direct_media: bool = True
    # Flow offloading (as OpenWrt's software flow offloading): established plain TCP/UDP
    # flows are forwarded by the kernel with stateless rewrites the engine installs and
    # withdraws (nat.offload). Off by default, as OpenWrt ships it: every packet then takes
    # the engine's own path.
    flow_offload: bool = False
    random_seed: int = 0

    def helper_enabled(self, name: str, default: bool = False) -> bool:
        return dict(self.helpers).get(name, default)

    def replace(self, **changes: Any) -> NatConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_profile(cls, profile: str, **overrides: Any) -> NatConfig:
        return cls(profile=profile, **{**profile_settings(profile), **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NatConfig:
        """Build and validate a configuration from plain data (JSON, form fields)."""
        return parse_config(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    def lan_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.lan_address}/{self.lan_prefix}", strict=False)
