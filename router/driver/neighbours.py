"""ARP for next hops: resolve, cache, hold a few packets while a request is out.

The kernel keeps answering ARP for the router's own addresses; this table only serves the
datapath's own transmissions, which never go through the kernel's neighbour code.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

BROADCAST = b"\xff" * 6
ETH_ARP = b"\x08\x06"
REACHABLE = 60.0  # after this an entry is re-confirmed while it keeps being used
STALE = 90.0  # and after this it is forgotten
RETRY = 1.0
MAX_TRIES = 3
MAX_QUEUED = 16  # packets held per unresolved address, like the kernel's unres_qlen

_ARP = struct.Struct("!HHBBH6s4s6s4s")


class Neighbours:
    def __init__(self, mac: bytes, send_frame: Callable[[bytes], None]):
        self.mac = mac
        self.address = b"\0\0\0\0"  # our IPv4 address on this link (sender of requests)
        self._send_frame = send_frame
        self._entries: dict[bytes, tuple[bytes, float]] = {}
        self._pending: dict[bytes, tuple[float, int, list]] = {}
        self.unresolved_drops = 0
        self.requests_sent = 0

    def lookup(self, ip: bytes, now: float) -> bytes | None:
        entry = self._entries.get(ip)
        if entry is None:
            return None
        mac, seen = entry
        if now - seen > REACHABLE:
            if now - seen > STALE:
                del self._entries[ip]
                return None
            if ip not in self._pending:
                self._pending[ip] = (now, 1, [])
                self._request(ip)
        return mac

    def hold(self, ip: bytes, item: object, now: float) -> None:
        """Keep ``item`` until ``ip`` resolves (see :meth:`learn`); ask for it if new."""
        sent, tries, queue = self._pending.get(ip, (now, 0, []))
        if len(queue) < MAX_QUEUED:
            queue.append(item)
        else:
            self.unresolved_drops += 1
        if tries == 0:
            self._request(ip)
            tries = 1
        self._pending[ip] = (sent, tries, queue)

    def learn(self, ip: bytes, mac: bytes, now: float) -> list:
        """Record ``ip`` -> ``mac``; returns what was held for it."""
        self._entries[ip] = (mac, now)
        pending = self._pending.pop(ip, None)
        return pending[2] if pending else []

    def on_arp(self, frame: bytes | memoryview, now: float) -> list:
        """Learn from ARP replies and requests aimed at us; returns (mac, item) released."""
        if len(frame) < 42:
            return []
        _, _, _, _, op, sha, spa, _, tpa = _ARP.unpack_from(frame, 14)
        if spa == b"\0\0\0\0":
            return []
        if op == 2 or (op == 1 and tpa == self.address) or spa in self._pending:
            mac = bytes(sha)
            return [(mac, item) for item in self.learn(bytes(spa), mac, now)]
        return []

    def tick(self, now: float) -> None:
        """Retry outstanding requests; give up (and drop what waited) after a few."""
        for ip, (sent, tries, queue) in list(self._pending.items()):
            if now - sent < RETRY:
                continue
            if tries >= MAX_TRIES:
                self.unresolved_drops += len(queue)
                del self._pending[ip]
            else:
                self._pending[ip] = (now, tries + 1, queue)
                self._request(ip)

    def _request(self, ip: bytes) -> None:
        self.requests_sent += 1
        arp = _ARP.pack(1, 0x0800, 6, 4, 1, self.mac, self.address, bytes(6), ip)
        self._send_frame(BROADCAST + self.mac + ETH_ARP + arp)

    def snapshot(self) -> dict[str, str]:
        return {".".join(map(str, ip)): mac.hex(":") for ip, (mac, _) in self._entries.items()}
