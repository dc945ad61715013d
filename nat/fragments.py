"""Fragments that carry no transport header follow their first fragment (RFC 4787 REQ-14).

The first fragment is translated like any packet; its translation (new source and
destination, egress side) is remembered under the datagram's identity as received. Later
fragments reuse it. Fragments that arrive before their first fragment wait, within firm
limits, so that out-of-order delivery works without letting a flood exhaust memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_DATAGRAMS = 1024
MAX_WAITING_PER_DATAGRAM = 64
MAX_WAITING_TOTAL = 4096


@dataclass(slots=True)
class Translation:
    src: bytes
    dst: bytes
    side: str
    expires: float


class FragmentTracker:
    def __init__(self, lifetime: float):
        self.lifetime = lifetime
        self._translations: OrderedDict[bytes, Translation] = OrderedDict()
        self._waiting: OrderedDict[bytes, tuple[float, list[tuple[str, bytes]]]] = OrderedDict()
        self._waiting_total = 0

    @staticmethod
    def key(side: str, packet: bytes | bytearray) -> bytes:
        # Side, protocol, source, destination and IP identification identify a datagram.
        return side.encode() + bytes(packet[9:10]) + bytes(packet[12:20]) + bytes(packet[4:6])

    def remember(self, key: bytes, src: bytes, dst: bytes, side: str, now: float) -> None:
        self._translations[key] = Translation(src, dst, side, now + self.lifetime)
        self._translations.move_to_end(key)
        while len(self._translations) > MAX_DATAGRAMS:
            self._translations.popitem(last=False)

    def lookup(self, key: bytes, now: float) -> Translation | None:
        found = self._translations.get(key)
        if found is not None and found.expires <= now:
            del self._translations[key]
            return None
        return found

    def wait(self, key: bytes, side: str, packet: bytes, now: float) -> bool:
        """Hold a fragment until its first fragment; False when the limits say no."""
        if self._waiting_total >= MAX_WAITING_TOTAL:
            return False
        entry = self._waiting.get(key)
        if entry is None:
            if len(self._waiting) >= MAX_DATAGRAMS:
                return False
            entry = (now + self.lifetime, [])
            self._waiting[key] = entry
        if len(entry[1]) >= MAX_WAITING_PER_DATAGRAM:
            return False
        entry[1].append((side, packet))
        self._waiting_total += 1
        return True

    def release(self, key: bytes) -> list[tuple[str, bytes]]:
        entry = self._waiting.pop(key, None)
        if entry is None:
            return []
        self._waiting_total -= len(entry[1])
        return entry[1]

    def expire(self, now: float) -> int:
        """Forget stale translations; returns how many waiting fragments were discarded."""
        for key in [k for k, t in self._translations.items() if t.expires <= now]:
            del self._translations[key]
        discarded = 0
        for key in [k for k, (until, _) in self._waiting.items() if until <= now]:
            discarded += len(self.release(key))
        return discarded

    @property
    def waiting(self) -> int:
        return self._waiting_total
