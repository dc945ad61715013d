"""Raw ESP (IP protocol 50, no NAT-T) between a LAN client and a server, crafted: strongSwan's
userspace ESP always encapsulates in UDP, and this host kernel has no ESP. What a NAT sees of
ESP is the SPI and sequence number before the ciphertext, so that is what is built: each client
sends with its own SPI, and the server answers each with an SPI of its own and, in the payload,
the client SPI it is answering. A client that gets an answer meant for another was mixed up.

    python -m natbox.peers.esp serve --address S            (until stopped)
    python -m natbox.peers.esp send --server S --spi N      (prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

from natbox.peers.started import wait_until_ready

PROTOCOL = 50
READY = "listening"


def start_server(host, address: str, timeout: float = 10.0):
    """The server on ``host`` (a natbox.hil Host), once its socket is open: the engine binds a
    server's first new SPI to the oldest client still waiting, so a first packet the server
    missed would pair the wrong client with it."""
    server = host.start([sys.executable, "-m", "natbox.peers.esp", "serve", "--address",
                         address], name="esp-server")  # fmt: skip
    wait_until_ready(server, lambda: READY in server.output(), "the ESP server", timeout)
    return server


def esp(spi: int, seq: int, payload: bytes) -> bytes:
    return struct.pack("!II", spi, seq) + payload + os.urandom(16)  # + "ciphertext"


def parse(packet: bytes) -> tuple[str, int, int, bytes]:
    """(source, SPI, sequence, payload) from a raw socket's packet (IP header included)."""
    header = (packet[0] & 0x0F) * 4
    spi, seq = struct.unpack("!II", packet[header : header + 8])
    return socket.inet_ntoa(packet[12:16]), spi, seq, packet[header + 8 : -16]


def serve(address: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTOCOL)
    sock.bind((address, 0))
    print(READY, flush=True)
    ours: dict[tuple[str, int], int] = {}  # (client address, client SPI) -> our SPI
    while True:
        packet = sock.recv(65535)
        source, spi, seq, _ = parse(packet)
        key = (source, spi)
        if key not in ours:
            ours[key] = int.from_bytes(os.urandom(4), "big") | 0x100  # random, as IKE's are
            print(f"new SA: {source} SPI {spi:#x} -> our SPI {ours[key]:#x}", flush=True)
        sock.sendto(esp(ours[key], seq, b"reply-to:%08x" % spi), (source, 0))


def send(server: str, spi: int, count: int, timeout: float) -> dict:
    """``count`` packets, each waiting up to ``timeout`` for its answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTOCOL)
    mine, theirs = 0, 0
    server_spis: set[str] = set()
    expected = b"reply-to:%08x" % spi
    for seq in range(1, count + 1):
        sock.sendto(esp(spi, seq, b"hello"), (server, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            source, their_spi, their_seq, payload = parse(sock.recv(65535))
            if source != server:
                continue
            if payload != expected:
                theirs += 1  # an answer to another client's SA reached us
                continue
            server_spis.add(f"{their_spi:#x}")
            mine += 1
            if their_seq == seq:
                break
    return {"sent": count, "answered": mine, "misdelivered": theirs,
            "server_spis": sorted(server_spis)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="raw ESP peers")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--address", required=True)
    c = sub.add_parser("send")
    c.add_argument("--server", required=True)
    c.add_argument("--spi", type=lambda t: int(t, 0), required=True)
    c.add_argument("--count", type=int, default=5)
    c.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.address)
        return 0
    print(json.dumps(send(args.server, args.spi, args.count, args.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
