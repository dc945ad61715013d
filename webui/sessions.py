"""Server-side login sessions: the cookie carries only a random id.

Keeping sessions on the router (not in a signed cookie) means logout, idle timeout and a
password change really end a session: a copied cookie stops working too.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class LoginSession:
    username: str
    csrf_token: str
    last_seen: float


class SessionRegistry:
    def __init__(self, clock: Callable[[], float], idle_timeout: float):
        self.clock = clock
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, LoginSession] = {}
        self._lock = threading.Lock()

    def create(self, username: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = LoginSession(username, secrets.token_urlsafe(32), self.clock())
        return sid

    def touch(self, sid: str | None) -> LoginSession | None:
        """The live session for ``sid``, its idle timer restarted; None when unknown or idle."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_seen > self.idle_timeout:
                del self._sessions[sid]
                return None
            session.last_seen = now
            return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def end_others(self, keep: str | None) -> None:
        """After a password change or factory reset, only ``keep`` (if any) stays logged in."""
        with self._lock:
            for sid in [s for s in self._sessions if s != keep]:
                del self._sessions[sid]
