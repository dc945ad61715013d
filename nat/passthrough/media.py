"""Media ports a helper opens for an internal endpoint (SIP's RTP/RTCP, RTSP's client
ports): one expectation per port, an RTP/RTCP pair on adjacent external ports."""

from __future__ import annotations

from dataclasses import dataclass

from nat import ipv4
from nat.helpers import Flow, HelperContext

PAIR_ATTEMPTS = 8


@dataclass(eq=False)
class Reservation:
    """One external port a helper opened for an internal endpoint."""

    proto: int
    external_ip: bytes
    external_port: int
    internal_port: int
    until: float

    def safe_to_remove(self, ctx: HelperContext) -> bool:
        # Once the permit has lapsed and the port's reuse delay has passed, the port may
        # belong to another mapping: removing "our" expectation then would hit that one.
        return ctx.now < self.until + ctx.config.timeouts.port_reuse_delay

    def remove(self, ctx: HelperContext) -> None:
        if self.safe_to_remove(ctx):
            ctx.unexpect(self.proto, self.external_port, self.external_ip)


def reserve(
    ctx: HelperContext,
    parent: Flow | None,
    internal: tuple[bytes, int],
    peer: bytes,
    timeout: float,
    wanted: int,
) -> Reservation | None:
    """Expect UDP from ``peer`` to ``internal``, on external port ``wanted`` if free. The
    port is announced (in SDP, in a SETUP): the endpoint's media leaves from it from now on,
    even under symmetric NAT, where a packet it sent before (a called phone's first RTCP)
    made an ordinary mapping on another port."""
    port = ctx.expect(parent, ipv4.UDP, internal, peer, None, timeout, external_port=wanted,
                      take_over=True)  # fmt: skip
    if port is None:
        return None
    external_ip = ctx.external_address_for(internal[0])
    return Reservation(ipv4.UDP, external_ip, port, internal[1], ctx.now + timeout)


def reserve_pair(
    ctx: HelperContext,
    parent: Flow | None,
    client: bytes,
    rtp_port: int,
    peer: bytes,
    timeout: float,
) -> tuple[Reservation, Reservation] | None:
    """RTP on ``rtp_port`` and RTCP on the next, outside on an adjacent pair: the same
    ports first, else the next pair the allocator offers."""
    wanted = rtp_port
    for _ in range(PAIR_ATTEMPTS):
        rtp = reserve(ctx, parent, (client, rtp_port), peer, timeout, wanted)
        if rtp is None:
            return None
        rtcp = reserve(ctx, parent, (client, rtp_port + 1), peer, timeout, rtp.external_port + 1)
        if rtcp is not None and rtcp.external_port == rtp.external_port + 1:
            return rtp, rtcp
        for reservation in (rtcp, rtp):
            if reservation is not None:
                reservation.remove(ctx)
        wanted = (rtp.external_port + 2) & ~1
        if wanted > 65534:
            return None
    return None
