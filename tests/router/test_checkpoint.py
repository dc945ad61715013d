"""The device side of the checkpoint port: finding the port by its name, announcing a point
and waiting for the host's go (or giving up: end of file, timeout, nobody there)."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from pathlib import Path

import pytest

from natbox.faults.checkpoints import parse_line
from router import checkpoint

pytestmark = pytest.mark.unit


def fake_sysfs(root: Path) -> Path:
    ports = root / "virtio-ports"
    for entry, name in (("vport0p1", "org.qemu.guest_agent.0"), ("vport1p1", checkpoint.PORT_NAME)):
        (ports / entry).mkdir(parents=True)
        (ports / entry / "name").write_text(name + "\n")
    return ports


def test_the_port_is_found_by_its_name(tmp_path):
    assert checkpoint.find_port(fake_sysfs(tmp_path)) == Path("/dev/vport1p1")


def test_no_port_without_the_named_one(tmp_path):
    assert checkpoint.find_port(tmp_path / "missing") is None
    ports = tmp_path / "other"
    (ports / "vport0p1").mkdir(parents=True)
    (ports / "vport0p1" / "name").write_text("org.qemu.guest_agent.0\n")
    assert checkpoint.find_port(ports) is None


def test_reached_returns_at_once_without_a_port(tmp_path, monkeypatch):
    # find_port's default argument is PORTS as it was at import: patching PORTS would not
    # reach it, so find_port itself answers "no port" here.
    monkeypatch.setattr(checkpoint, "find_port", lambda ports=None: None)
    monkeypatch.setattr(checkpoint, "LOCK", tmp_path / "run" / "checkpoint.lock")

    def no_announce(*args):
        raise AssertionError("announced without a port")

    monkeypatch.setattr(checkpoint, "_announce", no_announce)
    started = time.monotonic()
    checkpoint.reached("write", 5)
    assert time.monotonic() - started < 0.5
    assert not (tmp_path / "run").exists()  # not even the lock was taken


def test_reached_announces_on_the_port_under_the_lock(tmp_path, monkeypatch):
    lock = tmp_path / "run" / "checkpoint.lock"
    monkeypatch.setattr(checkpoint, "find_port", lambda ports=None: Path("/dev/vport1p1"))
    monkeypatch.setattr(checkpoint, "LOCK", lock)
    calls = []
    monkeypatch.setattr(checkpoint, "_announce", lambda *args: calls.append(args))
    checkpoint.reached("write", 5)
    checkpoint.reached("verified")
    assert calls == [(Path("/dev/vport1p1"), "write", 5), (Path("/dev/vport1p1"), "verified", None)]
    assert lock.exists()


class Waiter:
    """wait_for_go on a pipe, in a thread, so the test can write to it meanwhile."""

    def __init__(self, token: str = "t0k", timeout: float = 5.0):
        self.read, self.write = os.pipe()
        self.thread = threading.Thread(
            target=checkpoint.wait_for_go, args=(self.read, token, timeout), daemon=True
        )
        self.thread.start()

    def send(self, data: bytes) -> None:
        os.write(self.write, data)

    def still_waiting(self) -> bool:
        self.thread.join(0.15)
        return self.thread.is_alive()

    def done(self) -> bool:
        self.thread.join(2)
        return not self.thread.is_alive()

    def close(self) -> None:
        for fd in (self.read, self.write):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def waiter():
    made = []

    def make(**kwargs) -> Waiter:
        made.append(Waiter(**kwargs))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_wait_for_go_returns_on_its_go(waiter):
    w = waiter()
    assert w.still_waiting()
    w.send(b"go t0k\n")
    assert w.done()


def test_wait_for_go_skips_stale_and_partial_answers(waiter):
    w = waiter()
    w.send(b"go other\n")
    assert w.still_waiting()
    w.send(b"go t0kX\ngo t0")  # another token, then half of the right line
    assert w.still_waiting()
    w.send(b"k\n")
    assert w.done()


def test_wait_for_go_returns_when_the_host_goes_away(waiter):
    w = waiter()
    assert w.still_waiting()
    os.close(w.write)
    assert w.done()


def test_wait_for_go_gives_up_after_the_timeout():
    read, write = os.pipe()
    try:
        started = time.monotonic()
        checkpoint.wait_for_go(read, "t0k", 0.05)
        elapsed = time.monotonic() - started
    finally:
        os.close(read)
        os.close(write)
    assert 0.04 <= elapsed < 1.0


def read_line(fd: int, timeout: float = 2.0) -> str:
    buffer = b""
    deadline = time.monotonic() + timeout
    while not buffer.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, f"no line from the device: {buffer!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            buffer += os.read(fd, 256)
    return buffer.decode()


def test_announce_round_trip_over_a_pty(monkeypatch):
    """A pty stands in for the virtio-serial port: the device announces, the host parses the
    line as natbox.faults.checkpoints does, the device waits until its go comes."""
    monkeypatch.setattr(checkpoint, "REPLY_TIMEOUT", 5.0)
    master, slave = os.openpty()
    try:
        tty.setraw(master)
        tty.setraw(slave)
        device = threading.Thread(
            target=checkpoint._announce, args=(Path(os.ttyname(slave)), "write", 5), daemon=True
        )
        device.start()
        parsed = parse_line(read_line(master))
        assert parsed is not None
        token, point = parsed
        assert (point.point, point.offset) == ("write", 5)
        os.write(master, b"go stale\n")
        device.join(0.15)
        assert device.is_alive()  # a stale answer does not release it
        os.write(master, f"go {token}\n".encode())
        device.join(2)
        assert not device.is_alive()
    finally:
        os.close(master)
        os.close(slave)
