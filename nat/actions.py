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


class Flow(NamedTuple):
    """An established plain TCP/UDP session, as stateless rewrites either way: a LAN packet
    ``internal`` -> ``remote`` leaves as ``external`` -> ``remote``, and the reply to
    ``external`` goes to ``internal``. Endpoints are 4 address bytes + 2 port bytes."""

    ident: int
    proto: int
    internal: bytes
    external: bytes
    remote: bytes


class Offload(NamedTuple):
    """The I/O side may forward ``flow`` by itself (flow offloading) until withdrawn, and
    reports its packet counts back (``NatEngine.offload_activity``)."""

    flow: Flow


class Withdraw(NamedTuple):
    """Offloaded flow ``ident`` is over (ended, expired, changed state): its packets come to
    the engine again."""

    ident: int
