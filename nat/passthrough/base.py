"""What every passthrough helper shares: the VPN monitor, refusals, unsolicited traffic,
and the facts the README table and the UI show for each protocol."""

from __future__ import annotations

from typing import ClassVar

from nat.direction import INBOUND, Direction
from nat.helpers import Helper, HelperContext
from nat.passthrough.monitor import VpnMonitor


class PassthroughHelper(Helper):
    # What users read (README table, UI); each helper fills these in.
    title: ClassVar[str] = ""
    carries: ClassVar[str] = ""  # ports and protocols involved
    security: ClassVar[str] = ""  # the article's security level
    use_case: ClassVar[str] = ""  # the article's primary use case
    when_enabled: ClassVar[str] = ""
    when_disabled: ClassVar[str] = ""
    default_reason: ClassVar[str] = ""
    # Shown before it is switched on, and when it was: only for the insecure ones.
    enable_warning: ClassVar[str] = ""

    def __init__(self, monitor: VpnMonitor | None = None):
        self.monitor = monitor or VpnMonitor()

    def on_blocked(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int, reason: str
    ) -> None:
        if direction == INBOUND:  # addressed to the router's WAN address: no LAN host yet
            self.monitor.refused_inbound(ctx, self.name, bytes(packet[12:16]), reason)
            return
        self.monitor.refused(ctx, self.name, bytes(packet[12:16]), bytes(packet[16:20]), reason)

    def on_unsolicited(
        self, ctx: HelperContext, proto: int, remote: tuple[bytes, int], external_port: int
    ) -> None:
        self.monitor.unsolicited(ctx, self.name, remote[0], remote[1], external_port)
