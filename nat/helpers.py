"""The extension point for passthrough helpers and ALGs.

A helper is one class with a small protocol. The engine calls it with a
:class:`HelperContext`, a port that never reaches the engine itself: through it a helper
reads the current time (``ctx.now``), the configuration (``ctx.config``), whether a helper is
switched on (``ctx.is_enabled``) and the external address a LAN host uses; and it asks for
things: forward or rewrite a packet it owns (``ctx.forward_outbound``/``forward_inbound``),
expect a related flow (``ctx.expect``/``unexpect``), let a remote in (``ctx.permit``),
reserve and release external ports, and log (``ctx.log``). To drop a packet it returns the
drop reason. Directions are :class:`~nat.direction.Direction` values.

* It attaches to flows by protocol and server port (``tcp_ports``, ``udp_ports``): every
  new session towards such a port (or from it, for port forwards) carries the helper, and
  the helper sees each of the session's packets after the NAT rewrote the headers, with the
  original and translated endpoints at hand. It may rewrite the payload
  (:meth:`HelperPacket.replace_payload`: lengths, checksums and TCP sequence numbers are
  fixed by the engine) or drop the packet.
* It may own whole IP protocols that have no ports (``ip_protocols``: GRE, ESP, AH). Their
  packets go to :meth:`Helper.on_ip_packet`, which translates them with the context's
  ``forward_*`` methods, keyed by whatever the protocol offers (GRE call ID, ESP SPI).
* It registers expectations: related flows that will be admitted (RTP ports, a data
  connection), each an external port reserved for an internal endpoint, open to a given
  remote until it expires or its parent session ends.
* It may own UDP server ports outright (``owns_udp_ports``: IKE on 500, whose external port
  several hosts share, told apart by SPI). Outbound packets to such a port and inbound
  packets from it go to :meth:`Helper.on_owned_packet`, which translates them itself or
  returns None to let the engine treat the packet as ordinary traffic.
* When disabled it blocks: new sessions to ``tcp_ports``/``udp_ports``/``owns_udp_ports`` and
  packets of ``ip_protocols`` are dropped with the reason ``<name>_disabled``, and the
  sessions it had are torn down. A helper that can only tell its traffic by looking at it
  (SSTP inside TCP 443) sets ``inspect_when_disabled``: it stays attached while disabled and
  drops what it recognises itself (``ctx.is_enabled``). RFC 4787 REQ-10: ``default_enabled``
  is False unless a helper argues otherwise in its documentation.
* It hears about refused traffic towards its ports (:meth:`Helper.on_unsolicited`), which is
  how "unsolicited inbound VPN control traffic" gets flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nat.direction import Direction

if TYPE_CHECKING:
    from nat.actions import Transmit
    from nat.config import NatConfig
    from nat.mapping import Mapping, Session
    from nat.output import Output
    from nat.table import NatTable


class Helper:
    name: ClassVar[str] = ""
    tcp_ports: ClassVar[frozenset[int]] = frozenset()
    udp_ports: ClassVar[frozenset[int]] = frozenset()
    ip_protocols: ClassVar[frozenset[int]] = frozenset()
    owns_udp_ports: ClassVar[frozenset[int]] = frozenset()
    default_enabled: ClassVar[bool] = False
    inspect_when_disabled: ClassVar[bool] = False
    # Its server ports may be replaced in the configuration (``NatConfig.helper_ports``, as
    # Linux's helpers take ports=; nat.helper_dispatch.served_ports): RTSP cameras on 8554,
    # SIP on 5080. Not where an RFC fixes the port and the helper depends on it (IKE's 500).
    configurable_ports: ClassVar[bool] = True

    def on_session_start(self, ctx: HelperContext, flow: Flow) -> None:
        """A new session towards one of this helper's ports (``flow.direction`` opened it)."""

    def on_packet(self, ctx: HelperContext, flow: Flow, packet: HelperPacket) -> str | None:
        """A packet of an attached session; return a drop reason to drop it, else None."""
        return None

    def on_session_end(self, ctx: HelperContext, flow: Flow) -> None:
        """The session expired, was reset and timed out, or the helper was disabled."""

    def on_ip_packet(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int
    ) -> list[Transmit] | str:
        """A packet of an owned IP protocol: return transmits, or a drop reason."""
        return "protocol_unsupported"

    def on_owned_packet(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int
    ) -> list[Transmit] | str | None:
        """A UDP packet to/from an owned port: transmits, a drop reason, or None (not mine)."""
        return None

    def on_blocked(
        self, ctx: HelperContext, direction: Direction, packet: bytearray, ihl: int, reason: str
    ) -> None:
        """The engine dropped this packet because this helper is disabled."""

    def on_unsolicited(
        self, ctx: HelperContext, proto: int, remote: tuple[bytes, int], external_port: int
    ) -> None:
        """Inbound traffic towards one of this helper's ports was refused by the firewall."""

    def icmp_error_owner(self, ctx: HelperContext, embedded: bytes) -> bytes | None:
        """An ICMP error from the WAN quotes a packet this helper forwarded (an owned IP
        protocol, or a UDP packet to an owned port): ``embedded`` is the quoted packet as it
        left the NAT, so its source is the external address. Return the LAN host that sent
        it, or None when this helper cannot tell (the error is then dropped)."""
        return None

    def should_tear_down(self, flow: Flow) -> bool:
        """Whether switching the helper off ends this attached session (default: yes)."""
        return True

    def on_time(self, ctx: HelperContext, now: float) -> None:
        """Time advanced: expire the helper's own tables."""

    def on_disable(self, ctx: HelperContext) -> None:
        """The helper was switched off: forget everything it tracks."""


@dataclass(slots=True)
class Flow:
    """A helper's view of one session: endpoints as (address bytes, port) pairs."""

    mapping: Mapping
    session: Session
    direction: Direction  # the way the packet that opened the session went

    @property
    def proto(self) -> int:
        return self.mapping.proto

    @property
    def internal(self) -> tuple[bytes, int]:
        return self.mapping.host.int_ip, self.mapping.internal_port

    @property
    def external(self) -> tuple[bytes, int]:
        return self.mapping.host.ext_ip, self.mapping.external_port

    @property
    def remote(self) -> tuple[bytes, int]:
        remote = self.session.remote
        assert remote is not None
        return remote[:4], int.from_bytes(remote[4:6], "big") if len(remote) >= 6 else 0

    @property
    def state(self) -> dict[str, Any]:
        """The helper's private per-session state."""
        assert self.session.extra is not None
        return self.session.extra.helper_state


@dataclass(slots=True)
class HelperPacket:
    """A packet of an attached session after header translation."""

    buf: bytearray
    ihl: int
    direction: Direction
    payload_offset: int
    replacement: bytes | None = None
    detached: bool = False

    @property
    def payload(self) -> bytes:
        if self.replacement is not None:
            return self.replacement
        return bytes(self.buf[self.payload_offset :])

    def replace_payload(self, payload: bytes) -> None:
        """Ask the engine to put ``payload`` in place (any length)."""
        self.replacement = payload

    def detach(self) -> None:
        """The helper has seen enough of this session: later packets take the fast path."""
        self.detached = True


class HelperContext:
    """The port a helper gets instead of the engine (like mitmproxy's Context: data, not the
    server). One per engine. The engine sets ``now`` once per event and ``config``, ``table``
    and ``enabled`` when they change; a helper only reads them and asks through the methods.
    """

    __slots__ = ("config", "enabled", "now", "output", "table")

    def __init__(self, output: Output, config: NatConfig, table: NatTable | None = None):
        self.output = output
        self.config = config
        self.table = table  # the engine's current table; replaced when a flush rebuilds it
        self.enabled: frozenset[str] = frozenset()  # names of the helpers switched on
        self.now = 0.0

    # -- what a helper may read -----------------------------------------------------------------

    def is_enabled(self, helper_name: str) -> bool:
        return helper_name in self.enabled

    def external_address_for(self, internal_ip: bytes) -> bytes:
        return self.table.external_address_for(internal_ip)

    # -- what a helper may ask for --------------------------------------------------------------

    def log(self, event: str, **fields: Any) -> None:
        self.output.log(event, fields)

    def reserve_port(self, proto: int, external_ip: bytes, port: int) -> bool:
        """Take an external port out of the pool for the helper's own use (False if taken)."""
        return self.table.reserve_port(proto, external_ip, port, self.now)

    def release_port(self, proto: int, external_ip: bytes, port: int) -> None:
        self.table.release_port(proto, external_ip, port, self.now)

    def expect(
        self,
        parent: Flow | None,
        proto: int,
        internal: tuple[bytes, int],
        remote_ip: bytes,
        remote_port: int | None,
        timeout: float,
        helper: Helper | None = None,
        external_port: int | None = None,
        take_over: bool = False,
    ) -> int | None:
        """Reserve an external port for ``internal`` that ``remote`` may reach until
        ``timeout`` seconds from now (or until ``parent`` ends). Returns the external port,
        or None when no port is free. ``external_port`` asks for a specific one.
        ``take_over``: a port the helper announces; ``internal``'s packets leave from it from
        now on, under every mapping behaviour (NatTable.expect).
        """
        return self.table.expect(
            parent.session if parent is not None else None,
            proto,
            internal,
            remote_ip,
            remote_port,
            self.now + timeout,
            helper,
            external_port,
            self.now,
            take_over,
        )

    def permit(self, flow: Flow, remote_ip: bytes, remote_port: int | None, timeout: float) -> None:
        """Let ``remote`` reach this flow's own mapping for ``timeout`` seconds, whatever
        the filtering behaviour (an L2TP server answering from another port)."""
        self.table.permit(
            flow.mapping,
            remote_ip,
            remote_port,
            self.now + timeout,
            flow.session.extra.helper if flow.session.extra else None,
        )

    def unexpect(self, proto: int, external_port: int, external_ip: bytes) -> None:
        self.table.remove_expected(proto, external_ip, external_port, self.now)

    def forward_outbound(
        self, packet: bytearray, ihl: int, new_source: bytes, new_source_port: int | None = None
    ) -> list[Transmit]:
        """Rewrite the source of an owned packet (address, and the UDP/TCP port if given),
        fix the checksums, and send it to the WAN."""
        return self.output.forward_rewritten(packet, ihl, new_source, None, new_source_port)

    def forward_inbound(
        self,
        packet: bytearray,
        ihl: int,
        new_destination: bytes,
        new_destination_port: int | None = None,
    ) -> list[Transmit]:
        """Rewrite the destination of an owned packet and send it to the LAN."""
        return self.output.forward_rewritten(
            packet, ihl, None, new_destination, new_destination_port
        )
