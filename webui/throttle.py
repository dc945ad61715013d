"""Login throttling: after repeated failures from one client, refuse logins for a while.

MAX_FAILURES failures within WINDOW seconds lock the client out for LOCKOUT seconds, doubling
with every further lockout (up to MAX_LOCKOUT) until a login succeeds. A lockout answers
before the password is even checked, so guessing gains nothing while it lasts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW = 300.0
LOCKOUT = 30.0
MAX_LOCKOUT = 900.0
MAX_CLIENTS = 4096  # bound memory under a spray from many addresses


@dataclass
class _Client:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lockouts: int = 0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        with self._lock:
            state = self._clients.get(client)
            return max(0.0, state.locked_until - self.clock()) if state else 0.0

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            if client not in self._clients and len(self._clients) >= MAX_CLIENTS:
                self._clients.pop(next(iter(self._clients)))
            state = self._clients.setdefault(client, _Client())
            state.failures = [t for t in state.failures if now - t < WINDOW] + [now]
            if len(state.failures) >= MAX_FAILURES:
                state.locked_until = now + min(LOCKOUT * 2**state.lockouts, MAX_LOCKOUT)
                state.lockouts += 1
                state.failures = []

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)
