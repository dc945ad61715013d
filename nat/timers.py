"""A bucketed expiry wheel driven by the time carried in events.

Objects are filed under the whole second they may expire at. Refreshing an object costs
nothing here: when its bucket comes due the owner re-checks it and files it again if it
is still alive, so the datapath never touches the wheel.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class ExpiryWheel(Generic[T]):
    def __init__(self) -> None:
        self._buckets: dict[int, list[T]] = {}
        self._due: list[int] = []

    def schedule(self, item: T, at: float) -> None:
        second = math.ceil(at)
        bucket = self._buckets.get(second)
        if bucket is None:
            self._buckets[second] = bucket = []
            heapq.heappush(self._due, second)
        bucket.append(item)

    def pop_due(self, now: float) -> Iterator[tuple[int, T]]:
        """(second, item) for everything filed at or before ``now``; the caller re-schedules
        what lives on."""
        due = self._due
        while due and due[0] <= now:
            second = heapq.heappop(due)
            for item in self._buckets.pop(second):
                yield second, item

    def next_due(self) -> float | None:
        return float(self._due[0]) if self._due else None

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets.values())
