"""The plain value types a NAT configuration is made of, and its error type.

They import nothing of ours, so :mod:`nat.config`, :mod:`nat.config_parse` and
:mod:`nat.profiles` can all build on them without importing one another in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
