"""natbox's NAT engine: sans-IO, events in, actions out. See nat.engine."""

from nat.actions import Drop, Log, Transmit
from nat.config import ConfigError, NatConfig, PortForward, Timeouts
from nat.engine import Engine
from nat.events import LAN, WAN, ConfigChanged, PacketReceived, TimeAdvanced

__all__ = [
    "LAN",
    "WAN",
    "ConfigChanged",
    "ConfigError",
    "Drop",
    "Engine",
    "Log",
    "NatConfig",
    "PacketReceived",
    "PortForward",
    "TimeAdvanced",
    "Timeouts",
    "Transmit",
]
