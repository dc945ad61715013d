"""What the engine asks the I/O side to do: imperatives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from nat.direction import Side


class Transmit(NamedTuple):
    """Send this IPv4 packet out of ``side``."""

    side: Side
    data: bytes | bytearray


class Drop(NamedTuple):
    """The packet received on ``side`` was dropped; ``reason`` is a counter name."""

    side: Side
    reason: str


class Log(NamedTuple):
    """Something worth a log line: ``event`` is a stable name, ``fields`` its details."""

    event: str
    fields: dict[str, Any]
