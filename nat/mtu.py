"""The one "packet too big" decision (RFC 4787 REQ-13), as a pure function.

The engine does not check MTUs: on the device the driver knows the egress link's MTU and
whether a frame is a GSO super-frame (which may exceed it legitimately), so the driver asks
this function only about packets that really are too big for the link they leave by.
"""

from __future__ import annotations

from typing import NamedTuple

from nat import ipv4


class Fragmented(NamedTuple):
    """DF was clear: send these pieces (each fits the MTU) instead of the packet."""

    pieces: list[bytearray]


class FragmentationNeeded(NamedTuple):
    """DF was set: drop the packet; send ``error`` (ICMP 3/4 carrying the next-hop MTU)
    back out of the side the original arrived on. ``error`` is None when there is no
    address to send it from."""

    error: bytes | None


def fit_to_mtu(
    packet: bytes | bytearray, original: bytes, mtu: int, icmp_source: bytes | None
) -> Fragmented | FragmentationNeeded:
    """What to do with ``packet`` (translated, about to leave) when it exceeds ``mtu``.

    ``original`` is the packet as it was received (an ICMP error quotes it and goes to its
    source); ``icmp_source`` is the address the error comes from: the router's LAN address
    when the original came from the LAN, the original's destination (our external address)
    when it came from the WAN.
    """
    if len(packet) <= mtu:
        return Fragmented([bytearray(packet)])  # it fits: one piece, unchanged
    if packet[ipv4.FLAGS_FRAG] & ipv4.DF_BIT:
        if icmp_source is None:
            return FragmentationNeeded(None)
        error = ipv4.build_icmp_error(
            icmp_source,
            bytes(original[ipv4.SRC : ipv4.SRC + 4]),
            ipv4.ICMP_UNREACH,
            ipv4.UNREACH_NEEDFRAG,
            original,
            rest=mtu,
        )
        return FragmentationNeeded(error)
    return Fragmented(ipv4.fragment(packet, mtu))
