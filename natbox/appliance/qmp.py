"""A minimal QMP client: power off (ACPI), reset, hard kill for power-cut tests, and events
(why QEMU stopped: the guest reset itself, or powered off)."""

from __future__ import annotations

import contextlib
import json
import socket
import time


class Qmp:
    def __init__(self, path: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:  # QEMU creates the socket a moment after it starts
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.reader = self.sock.makefile("r")
        self._read()  # the greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        while True:
            line = self.reader.readline()
            if not line:
                raise ConnectionError("QMP socket closed")
            message = json.loads(line)
            if "event" not in message:  # events are not answers
                return message

    def execute(self, command: str, **arguments) -> dict:
        request = {"execute": command, **({"arguments": arguments} if arguments else {})}
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error']}")
        return reply.get("return", {})

    def next_event(self) -> dict:
        """Block until QEMU sends an event (SHUTDOWN, RESET, ...)."""
        while True:
            line = self.reader.readline()
            if not line:
                raise ConnectionError("QMP socket closed")
            message = json.loads(line)
            if "event" in message:
                return message

    def powerdown(self) -> None:
        self.execute("system_powerdown")

    def reset(self) -> None:
        self.execute("system_reset")

    def power_cut(self) -> None:
        """Pull the plug and put it back: QEMU stops at once (under -no-reboot a reset ends
        it) with whatever the guest had not written lost, and the harness or `natbox boot`
        powers the board up again through the bootloader stage."""
        with contextlib.suppress(ConnectionError, OSError):
            self.execute("system_reset")

    def kill(self) -> None:
        """Pull the plug: QEMU exits at once, nothing is flushed in the guest."""
        with contextlib.suppress(ConnectionError, OSError):
            self.execute("quit")

    def close(self) -> None:
        self.sock.close()


# SHUTDOWN reasons after which the board comes back: a guest reboot (or a panic, or the
# watchdog) and a power cut by a tool (natbox fault).
POWER_CYCLES = ("guest-reset", "host-qmp-system-reset")


class ShutdownWatcher:
    """Remembers why QEMU stopped. QEMU runs with -no-reboot, so a guest reboot (or a kernel
    panic) ends the process just as a power-off does; the SHUTDOWN event's reason tells them
    apart ("guest-reset" vs "guest-shutdown")."""

    def __init__(self, path: str):
        import threading

        self.reason: str | None = None
        self.thread = threading.Thread(target=self._watch, args=(path,), daemon=True)
        self.thread.start()

    def _watch(self, path: str) -> None:
        try:
            qmp = Qmp(path, timeout=60)
            qmp.sock.settimeout(None)
            while True:
                event = qmp.next_event()
                if event["event"] == "SHUTDOWN":
                    self.reason = event.get("data", {}).get("reason")
        except (OSError, ConnectionError, ValueError):
            return

    def rebooted(self) -> bool:
        """The guest reset itself, or a tool cut the power (QMP system_reset, which -no-reboot
        also turns into an exit): either way the board powers up again."""
        self.thread.join(timeout=5)
        return self.reason in POWER_CYCLES
