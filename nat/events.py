"""What the I/O side tells the engine: past-tense facts. Time always arrives inside an event.

Events and actions are named tuples: immutable like frozen dataclasses, but cheap enough
to build once per packet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from nat.config import NatConfig

LAN = "lan"
WAN = "wan"


class PacketReceived(NamedTuple):
    """An IPv4 packet (no link-layer header) arrived on ``side`` at time ``now`` (seconds)."""

    side: str
    data: bytes
    now: float


class TimeAdvanced(NamedTuple):
    """The clock reached ``now``: expire what is due."""

    now: float


class ConfigChanged(NamedTuple):
    """A new, already validated configuration takes effect at ``now``."""

    config: NatConfig
    now: float
