"""External port pools: allocation policy, parity, and the reuse delay for freed ports.

One bitmap per (external address, protocol) records which ports are taken, so pools with
overlapping ranges stay consistent and a free port is found with ``bytearray.find`` in C.
"""

from __future__ import annotations

import random
from collections import deque

from nat.config import PortAllocation

FREE = 0
IN_USE = 1
COOLING = 2  # freed, waiting out the reuse delay (RFC 6888)


class PortSpace:
    """The ports of one (external address, protocol): who holds what, and the cool-down queue."""

    __slots__ = ("cooling", "held_by", "returning", "reuse_delay", "state", "until")

    def __init__(self, reuse_delay: float):
        self.state = bytearray(65536)
        self.state[0] = IN_USE  # port 0 is never handed out
        self.cooling: deque[tuple[float, int]] = deque()
        self.until: dict[int, float] = {}  # cooling port -> its one deadline (older are stale)
        self.reuse_delay = reuse_delay
        # A cooling port remembers who held it: the same endpoint coming back within the
        # delay (a helper switched off and on, a flushed table) gets it back, so a peer that
        # still sends to the old port finds the endpoint there again; nobody else can.
        self.returning: dict[bytes, int] = {}  # holder -> its cooling port
        self.held_by: dict[int, bytes] = {}  # cooling port -> its last holder

    def take(self, port: int) -> None:
        self.state[port] = IN_USE

    def release(self, port: int, now: float, holder: bytes | None = None) -> None:
        if self.reuse_delay > 0:
            self.state[port] = COOLING
            self.until[port] = now + self.reuse_delay
            self.cooling.append((now + self.reuse_delay, port))
            if holder is not None:
                self.returning[holder] = port
                self.held_by[port] = holder
        else:
            self.free(port)

    def free(self, port: int) -> None:
        """Free at once, cooling or not, forgetting who held it."""
        self.state[port] = FREE
        self.until.pop(port, None)
        holder = self.held_by.pop(port, None)
        if holder is not None and self.returning.get(holder) == port:
            del self.returning[holder]

    def reclaim(self, holder: bytes) -> int | None:
        """The cooling port ``holder`` last held, if it is still cooling (then take it)."""
        port = self.returning.pop(holder, None)
        if port is None or self.state[port] != COOLING:
            return None
        del self.held_by[port]
        del self.until[port]
        return port

    def thaw(self, now: float) -> None:
        cooling = self.cooling
        while cooling and cooling[0][0] <= now:
            deadline, port = cooling.popleft()
            # A port reclaimed and released again has a later deadline: this entry is stale.
            if self.state[port] == COOLING and self.until.get(port) == deadline:
                self.free(port)

    def is_free(self, port: int) -> bool:
        return self.state[port] == FREE


class PortAllocator:
    """Chooses external ports: RFC 4787 REQ-3 (no overloading), 3a (ranges), REQ-4 (parity)."""

    def __init__(
        self,
        policy: PortAllocation,
        port_range: tuple[int, int],
        low_range: tuple[int, int],
        parity: bool,
        seed: int,
    ):
        self.policy = policy
        self.ranges = (low_range, port_range)
        self.parity = parity
        self.rng = random.Random(seed)
        self.cursors: dict[tuple[int, int], int] = {}

    def range_for(self, internal_port: int) -> tuple[int, int]:
        low, high = self.ranges
        return low if internal_port < 1024 else high

    def allocate(self, space: PortSpace, internal_port: int, now: float) -> int | None:
        space.thaw(now)
        first, last = self.range_for(internal_port)
        want_parity = internal_port & 1 if self.parity else None
        if self.policy is PortAllocation.PRESERVE:
            if first <= internal_port <= last and space.is_free(internal_port):
                return internal_port
            start = internal_port if first <= internal_port <= last else first
        elif self.policy is PortAllocation.SEQUENTIAL:
            start = self.cursors.get((first, last), first)
        else:
            start = self.rng.randint(first, last)
        port = _find_free(space.state, start, first, last, want_parity)
        if port is None and want_parity is not None:
            port = _find_free(space.state, start, first, last, None)  # parity is a SHOULD
        if port is not None and self.policy is PortAllocation.SEQUENTIAL:
            self.cursors[(first, last)] = port + 1 if port < last else first
        return port


def _find_free(
    state: bytearray, start: int, first: int, last: int, parity: int | None
) -> int | None:
    """The first free port at or after ``start``, wrapping around inside [first, last]."""
    for lo, hi in ((start, last + 1), (first, start)):
        pos = lo
        while pos < hi:
            found = state.find(FREE, pos, hi)
            if found < 0:
                break
            if parity is None or found & 1 == parity:
                return found
            pos = found + 1
    return None
