"""A userspace delay line for lab links, for kernels without sch_netem (like this machine's).

The switch port towards a link is taken off its bridge; a new veth pair joins the bridge in
its place, and this process forwards frames between the port and that pair, holding the
ones heading for the link for the configured delay (as `netem delay` on the port's egress
would). Run inside the switch namespace:

    python -m natbox.lab.delay PORT SPARE DELAY_MS
"""

from __future__ import annotations

import argparse
import collections
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_VNET_HDR = 15


def packet_socket(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    # With a virtio-net header in front of each frame, GSO frames and partial checksums
    # cross the delay line as they are: the kernel finishes them on the way out.
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    sock.bind((ifname, 0))
    sock.setblocking(False)
    return sock


def received(sock: socket.socket):
    """Frames that arrived on ``sock`` (not the ones we sent through it)."""
    while True:
        try:
            frame, address = sock.recvfrom(65535)
        except BlockingIOError:
            return
        if address[2] != PACKET_OUTGOING:
            yield frame


def run(port: str, spare: str, delay_s: float) -> None:
    towards_link, from_link = packet_socket(port), packet_socket(spare)
    held: collections.deque[tuple[float, bytes]] = collections.deque()
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
        ready, _, _ = select.select([towards_link, from_link], [], [], timeout)
        if from_link in ready:  # from the bridge, heading for the link: hold it
            due = time.monotonic() + delay_s
            held.extend((due, frame) for frame in received(from_link))
        if towards_link in ready:  # from the link, heading for the bridge: at once
            for frame in received(towards_link):
                from_link.send(frame)
        now = time.monotonic()
        while held and held[0][0] <= now:
            towards_link.send(held.popleft()[1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="natbox.lab.delay")
    parser.add_argument("port")
    parser.add_argument("spare")
    parser.add_argument("delay_ms", type=float)
    args = parser.parse_args(argv)
    run(args.port, args.spare, args.delay_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
