"""Named points the device announces as it passes them (the steps of an update, the halves of
a boot-environment save, a configuration save), so that a test on the host can stop it at
exactly that point and cut the power there: faults placed by position, not by timing luck.

The channel is a virtio-serial port (QEMU's ``virtserialport`` named ``PORT_NAME``; built in
natbox.appliance.qemu). At each point the device writes ``reached <token> <point> [<offset>]``
and waits for ``go <token>``. A host that wants the power cut there simply does not answer:
it cuts the power while the device waits. With no port, or nobody on the host side of it
(the kernel then refuses the write), ``reached`` returns at once: a real device, or an
appliance nobody listens to, pays nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import select
from pathlib import Path

PORT_NAME = "org.natbox.checkpoint"
# No udev on the device (so no /dev/virtio-ports/NAME link): the port is found by its name.
PORTS = Path("/sys/class/virtio-ports")
# One process at a time has the port open (virtio-serial allows one opener).
LOCK = Path("/run/natbox/checkpoint.lock")
# A listening host answers in milliseconds; past this, it is gone: carry on.
REPLY_TIMEOUT = 30.0


def find_port(ports: Path = PORTS) -> Path | None:
    """/dev/vportNpM of the port named PORT_NAME, or None."""
    try:
        for entry in ports.iterdir():
            if (entry / "name").read_text().strip() == PORT_NAME:
                return Path("/dev") / entry.name
    except OSError:
        pass
    return None


def reached(point: str, offset: int | None = None) -> None:
    """Announce ``point`` (``offset``: how far, in bytes) and wait for the host's go."""
    port = find_port()
    if port is None:
        return
    with contextlib.suppress(OSError):
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _announce(port, point, offset)


def _announce(port: Path, point: str, offset: int | None) -> None:
    fd = os.open(port, os.O_RDWR | os.O_NONBLOCK)
    try:
        token = secrets.token_hex(4)
        line = f"reached {token} {point}" + ("" if offset is None else f" {offset}") + "\n"
        try:
            os.write(fd, line.encode())
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EPIPE, errno.ENODEV):
                return  # nobody on the host side
            raise
        wait_for_go(fd, token, REPLY_TIMEOUT)
    finally:
        os.close(fd)


def wait_for_go(fd: int, token: str, timeout: float) -> None:
    """Read lines until ``go <token>``; an end of file (the host went away) or the timeout
    ends the wait too. Lines for other tokens are stale answers: skipped."""
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    buffer = b""
    expected = f"go {token}".encode()
    while True:
        events = poll.poll(timeout * 1000)
        if not events:
            return
        try:
            chunk = os.read(fd, 256)
        except BlockingIOError:
            if events[0][1] & select.POLLHUP:
                return  # the host went away
            continue
        if not chunk:
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if any(line.strip() == expected for line in lines):
            return
