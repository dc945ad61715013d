"""What a driver may use of the engine: :class:`NatEngine`.

A driver calls ``receive``/``advance``/``configure`` directly (there are no event objects)
and carries out the :class:`~nat.actions.Transmit`, :class:`~nat.actions.Drop` and
:class:`~nat.actions.Log` they return. Everything else it needs is a view listed here; it
does not reach into the engine's table or helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from nat.actions import Drop, Log, Transmit
    from nat.config import NatConfig
    from nat.counters import Counters
    from nat.direction import Side

    Action = Transmit | Drop | Log


@runtime_checkable
class NatEngine(Protocol):
    config: NatConfig  # the configuration in force
    counters: Counters  # drop reasons and forwarding totals; ``.snapshot()`` for a dict

    def receive(self, side: Side, data: bytes, now: float) -> list[Action]:
        """An IPv4 packet (no link-layer header) arrived on ``side`` at ``now`` seconds."""
        ...

    def advance(self, now: float) -> list[Action]:
        """The clock reached ``now``: expire what is due."""
        ...

    def configure(self, config: NatConfig, now: float) -> list[Action]:
        """A new, already validated configuration takes effect at ``now``."""
        ...

    def snapshot(self) -> list[dict[str, Any]]:
        """The mapping table, for the UI."""
        ...

    @property
    def mapping_count(self) -> int:
        """How many mappings the table holds."""
        ...

    def offload_due(self, now: float) -> bool:
        """Whether to read the offloaded flows' packet counts (``offload_activity``) now."""
        ...

    def offload_activity(self, counts: dict[int, tuple[int, int]], now: float) -> None:
        """Offloaded flows' (outbound, inbound) packet counts so far, by flow ident."""
        ...

    def offload_declined(self, ident: int) -> None:
        """The driver could not offload a flow the engine offered."""
        ...

    def vpn_sessions(self, now: float) -> dict[str, Any]:
        """The VPN monitor's view: active sessions, recent history, anomalies."""
        ...
