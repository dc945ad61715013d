"""Named NAT types users recognise, as RFC 4787 behaviours.

The default is ``restricted-cone``: endpoint-independent mapping with address-dependent
filtering is what RFC 4787 REQ-1 and REQ-8 ask for when security matters, and what
RFC 5382 asks of TCP. ``port-restricted-cone`` is what most consumer routers ship;
``linux-masquerade`` reproduces an untuned Linux MASQUERADE rule.
"""

from __future__ import annotations

from typing import Any

from nat.config_types import Behaviour, ConfigError, PortAllocation, Timeouts

EI = Behaviour.ENDPOINT_INDEPENDENT
AD = Behaviour.ADDRESS_DEPENDENT
APD = Behaviour.ADDRESS_AND_PORT_DEPENDENT

DEFAULT_PROFILE = "restricted-cone"

PROFILES: dict[str, dict[str, Any]] = {
    "full-cone": {"mapping": EI, "filtering": EI, "port_allocation": PortAllocation.PRESERVE},
    "restricted-cone": {"mapping": EI, "filtering": AD, "port_allocation": PortAllocation.PRESERVE},
    "port-restricted-cone": {
        "mapping": EI,
        "filtering": APD,
        "port_allocation": PortAllocation.PRESERVE,
    },
    "symmetric": {
        "mapping": APD,
        "filtering": APD,
        "port_allocation": PortAllocation.SEQUENTIAL,
        "port_parity": False,
    },
    # Linux conntrack keeps the source port when the resulting tuple is free, accepts only
    # replies, does not hairpin without extra rules and uses its own timeouts (UDP 120 s
    # once replied, ICMP 30 s, TCP established 5 days). Unlike Linux, natbox never lets two
    # internal endpoints share one external port (RFC 4787 REQ-3), so the second of two hosts
    # using the same source port gets another port even towards different servers.
    "linux-masquerade": {
        "mapping": EI,
        "filtering": APD,
        "port_allocation": PortAllocation.PRESERVE,
        "port_parity": False,
        "hairpinning": False,
        "timeouts": Timeouts(
            tcp_established=432000.0,
            tcp_transitory=120.0,
            tcp_rst=10.0,
            udp=120.0,
            icmp=30.0,
            port_reuse_delay=0.0,
        ),
    },
}


def profile_settings(name: str) -> dict[str, Any]:
    try:
        return dict(PROFILES[name])
    except KeyError:
        raise ConfigError(
            "profile", f"unknown NAT profile {name!r}; one of {sorted(PROFILES)}"
        ) from None
