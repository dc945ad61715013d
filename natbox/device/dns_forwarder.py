"""The appliance's LAN DNS: answers the router's own names and relays the rest upstream.

dnsmasq and its libraries do not fit the 25 MB firmware budget, so the device runs this
instead: A queries for the router's names (``natbox``, ``natbox.lan``, ``router.lan``) are
answered from a table with the LAN address; every other query is relayed to the WAN's DNS
servers under a fresh query ID and the answer is handed back to the client under its own.
Anything that is not a well-formed query is dropped.
"""

from __future__ import annotations

import itertools
import select
import socket
import struct
import time

RELAY_TIMEOUT = 5.0
MAX_PENDING = 1024
TYPE_A, CLASS_IN = 1, 1


def question(packet: bytes) -> tuple[str, int, int, int] | None:
    """(name, type, class, end offset) of a query's single question, or None."""
    if len(packet) < 12:
        return None
    flags, qdcount = struct.unpack_from("!HH", packet, 2)
    if flags & 0x8000 or qdcount != 1:  # a response, or not one question
        return None
    labels, offset = [], 12
    while True:
        if offset >= len(packet):
            return None
        length = packet[offset]
        if length == 0:
            offset += 1
            break
        if length > 63 or offset + 1 + length > len(packet):
            return None  # compression pointers do not belong in a query's question
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    if offset + 4 > len(packet):
        return None
    qtype, qclass = struct.unpack_from("!HH", packet, offset)
    return ".".join(labels).lower(), qtype, qclass, offset + 4


def local_answer(packet: bytes, address: bytes, end: int) -> bytes:
    """A response to ``packet`` (a query) with one A record for ``address``."""
    (query_id,) = struct.unpack_from("!H", packet)
    header = struct.pack("!HHHHHH", query_id, 0x8580, 1, 1, 0, 0)  # QR, AA, RD, RA
    record = struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, 60, 4) + address
    return header + packet[12:end] + record


class DnsForwarder:
    def __init__(self, listen: tuple[str, int], upstreams: list[tuple[str, int]],
                 names: dict[str, str]):  # fmt: skip
        self.names = {n.lower(): socket.inet_aton(a) for n, a in names.items()}
        self.upstreams = upstreams
        self.clients = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.clients.bind(listen)
        self.relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.relay.bind(("0.0.0.0", 0))
        self._ids = itertools.cycle(range(1, 65536))
        self.pending: dict[int, tuple[tuple[str, int], int, float]] = {}

    def serve(self, stop_after: float | None = None) -> None:
        deadline = None if stop_after is None else time.monotonic() + stop_after
        while deadline is None or time.monotonic() < deadline:
            ready, _, _ = select.select([self.clients, self.relay], [], [], 1.0)
            if self.clients in ready:
                self.on_query(*self.clients.recvfrom(4096))
            if self.relay in ready:
                self.on_answer(self.relay.recv(4096))
            self._expire()

    def on_query(self, packet: bytes, client: tuple[str, int]) -> None:
        asked = question(packet)
        if asked is None:
            return
        name, qtype, qclass, end = asked
        local = self.names.get(name)
        if local is not None and qtype == TYPE_A and qclass == CLASS_IN:
            self.clients.sendto(local_answer(packet, local, end), client)
            return
        if not self.upstreams or len(self.pending) >= MAX_PENDING:
            return
        relay_id = next(self._ids)
        (client_id,) = struct.unpack_from("!H", packet)
        self.pending[relay_id] = (client, client_id, time.monotonic() + RELAY_TIMEOUT)
        relayed = struct.pack("!H", relay_id) + packet[2:]
        for upstream in self.upstreams:
            self.relay.sendto(relayed, upstream)

    def on_answer(self, packet: bytes) -> None:
        if len(packet) < 12:
            return
        (relay_id,) = struct.unpack_from("!H", packet)
        entry = self.pending.pop(relay_id, None)
        if entry is None:
            return  # late, duplicate (several upstreams) or forged
        client, client_id, _ = entry
        self.clients.sendto(struct.pack("!H", client_id) + packet[2:], client)

    def _expire(self) -> None:
        now = time.monotonic()
        for relay_id in [i for i, (_, _, until) in self.pending.items() if until <= now]:
            del self.pending[relay_id]
