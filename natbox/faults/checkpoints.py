"""The host end of the device's checkpoint port (router.checkpoint): every point the device
announces is recorded and answered ``go``, except the one a trigger is armed for: there the
device is left waiting and the action (a power cut) runs while it waits.

A trigger is written ``POINT[@OFFSET][#N]``: ``write@8M`` fires at the first ``write`` point
at or past 8 MiB, ``switch:between-copies`` at that point, ``save:config.json:written#2`` at
its second occurrence. The points are listed in ``POINTS`` (and in the README).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Every point the firmware announces, in the order an update passes them.
POINTS = {
    "upload": "receiving the file (offset: bytes received so far, one point per MiB)",
    "uploaded": "the whole file stored on /data, before its checks",
    "verified": "every check passed, before anything is written",
    "begin-write:between-copies": "marking the inactive slot unbootable: one env copy written",
    "write": "writing the slot (offset: bytes written, one point per MiB, not yet fsynced)",
    "written": "the slot written and fsynced, before it is read back",
    "read-back": "the slot read back and equal, before the configuration is kept",
    "config-kept": "the configuration kept for a rollback, before the switch",
    "switch:between-copies": "switching the boot order: one env copy written",
    "installed": "switched and journalled, before the reboot",
    "trial-boot": "the new slot's first boot, before the router starts (offset: attempt)",
    "healthy": "the new slot's health check passed, before it is marked good",
    "mark-good:between-copies": "marking the new slot good: one env copy written",
    "committed": "marked good and journalled",
    "mark-bad:between-copies": "after a failed trial, marking it bad: one env copy written",
    "save:<file>:written": "an atomic save: the temporary file fsynced, before the rename",
    "save:<file>:done": "an atomic save: renamed and the directory fsynced",
}

_SIZE = re.compile(r"^(\d+)([KMG]?)$")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class TriggerError(ValueError):
    pass


@dataclass(frozen=True)
class Trigger:
    point: str
    offset: int | None = None
    occurrence: int = 1

    @classmethod
    def parse(cls, text: str) -> Trigger:
        rest, _, nth = text.partition("#")
        point, _, offset = rest.partition("@")
        if not point or not re.fullmatch(r"[a-z0-9.:_-]+", point):
            raise TriggerError(f"trigger {text!r}: name a point, e.g. write@8M ({known()})")
        if not (point in POINTS or re.fullmatch(r"save:[^:]+:(written|done)", point)):
            raise TriggerError(f"trigger {text!r}: no point {point!r} ({known()})")
        size = None
        if offset:
            m = _SIZE.match(offset.upper())
            if not m:
                raise TriggerError(f"trigger {text!r}: offset {offset!r} is not a size (8M, 4096)")
            size = int(m.group(1)) * _UNITS[m.group(2)]
        if nth and (not nth.isascii() or not nth.isdigit() or int(nth) < 1):
            raise TriggerError(f"trigger {text!r}: #{nth} is not a count (1, 2, ...)")
        return cls(point, size, int(nth) if nth else 1)

    def __str__(self) -> str:
        text = self.point + (f"@{self.offset}" if self.offset is not None else "")
        return text + (f"#{self.occurrence}" if self.occurrence != 1 else "")

    def matches(self, point: Reached) -> bool:
        if point.point != self.point:
            return False
        return self.offset is None or (point.offset is not None and point.offset >= self.offset)


def known() -> str:
    return "points: " + ", ".join(POINTS)


@dataclass(frozen=True)
class Reached:
    point: str
    offset: int | None
    at: float  # time.monotonic()

    def __str__(self) -> str:
        return self.point + (f"@{self.offset}" if self.offset is not None else "")


def parse_line(line: str) -> tuple[str, Reached] | None:
    """``reached <token> <point> [<offset>]`` -> (token, Reached); None for anything else."""
    words = line.split()
    if len(words) not in (3, 4) or words[0] != "reached":
        return None
    offset = None
    if len(words) == 4:
        if not (words[3].isascii() and words[3].isdigit()):  # int() refuses "²"
            return None
        offset = int(words[3])
    return words[1], Reached(words[2], offset, time.monotonic())


@dataclass
class Listener:
    """One power-on's connection to the port (QEMU is the server; it makes the socket at
    start). ``arm`` a trigger and an action; ``fired`` is set when the action ran."""

    path: Path
    log: Callable[[str], None] = lambda line: None
    seen: list[Reached] = field(default_factory=list)
    fired: threading.Event = field(default_factory=threading.Event)
    fired_at: Reached | None = None
    _trigger: Trigger | None = None
    _action: Callable[[], None] | None = None
    _count: int = 0

    def start(self, connect_timeout: float = 30.0) -> Listener:
        self.sock = _connect(self.path, connect_timeout)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def arm(self, trigger: Trigger, action: Callable[[], None]) -> None:
        with self.lock:
            self._trigger, self._action, self._count = trigger, action, 0

    def _serve(self) -> None:
        buffer = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(4096):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    self._handle(raw.decode(errors="replace"))

    def _handle(self, line: str) -> None:
        parsed = parse_line(line)
        if parsed is None:
            return
        token, point = parsed
        self.seen.append(point)
        with self.lock:
            fire = self._trigger is not None and self._trigger.matches(point)
            if fire:
                self._count += 1
                fire = self._count == self._trigger.occurrence
            action = self._action if fire else None
            if fire:
                self._trigger = None
        if action is None:
            self.sock.sendall(f"go {token}\n".encode())
            return
        self.fired_at = point
        self.log(f"checkpoint {point}: the device waits here; cutting the power")
        action()  # the device is still waiting for its go: it never gets one
        self.fired.set()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _connect(path: Path, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
