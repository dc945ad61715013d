"""The host end of the checkpoint port: triggers as written on the command line, the lines
the device sends, and the listener that answers every point but the armed one."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from natbox.faults.checkpoints import (
    POINTS,
    Listener,
    Reached,
    Trigger,
    TriggerError,
    parse_line,
)

pytestmark = pytest.mark.unit

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "point", "offset", "occurrence"),
    [
        ("write@8M", "write", 8 * MIB, 1),
        ("write@4096", "write", 4096, 1),
        ("switch:between-copies", "switch:between-copies", None, 1),
        ("save:config.json:written#2", "save:config.json:written", None, 2),
        ("save:journal.json:done", "save:journal.json:done", None, 1),
        ("upload@1k", "upload", 1024, 1),
        ("upload@1K", "upload", 1024, 1),
        ("write@2g#3", "write", 2 * 1024**3, 3),
    ],
)
def test_a_trigger_is_parsed(text, point, offset, occurrence):
    trigger = Trigger.parse(text)
    assert (trigger.point, trigger.offset, trigger.occurrence) == (point, offset, occurrence)


@pytest.mark.parametrize(
    "text",
    ["", "bogus", "write@eight", "write#0", "write#x", "WRITE", "write@8T", "save:x:later", "@8M"],
)
def test_a_bad_trigger_is_refused(text):
    with pytest.raises(TriggerError):
        Trigger.parse(text)


def test_trigger_errors_are_value_errors_that_name_the_points():
    assert issubclass(TriggerError, ValueError)
    with pytest.raises(TriggerError, match=r"no point 'bogus'.*switch:between-copies"):
        Trigger.parse("bogus")
    with pytest.raises(TriggerError, match="'eight' is not a size"):
        Trigger.parse("write@eight")
    with pytest.raises(TriggerError, match="#0 is not a count"):
        Trigger.parse("write#0")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("write@8M", "write@8388608"),
        ("switch:between-copies", "switch:between-copies"),
        ("save:config.json:written#2", "save:config.json:written#2"),
        ("write@1k#3", "write@1024#3"),
        ("write#1", "write"),
    ],
)
def test_a_trigger_reads_back_as_it_prints(text, shown):
    trigger = Trigger.parse(text)
    assert str(trigger) == shown
    assert Trigger.parse(str(trigger)) == trigger


def at(point: str, offset: int | None = None) -> Reached:
    return Reached(point, offset, 0.0)


def test_matches_a_point_at_or_past_its_offset():
    trigger = Trigger.parse("write@8M")
    assert trigger.matches(at("write", 8 * MIB))
    assert trigger.matches(at("write", 9 * MIB))
    assert not trigger.matches(at("write", 8 * MIB - 1))
    assert not trigger.matches(at("written", 24 * MIB))  # another point
    assert not trigger.matches(at("write"))  # the point, but no offset announced


def test_without_an_offset_any_announcement_of_the_point_matches():
    assert Trigger.parse("verified").matches(at("verified"))
    assert Trigger.parse("trial-boot").matches(at("trial-boot", 2))
    assert not Trigger.parse("verified").matches(at("uploaded", 100))


def test_parse_line_reads_the_device_lines():
    token, point = parse_line("reached t1 write 1048576\n")
    assert (token, point.point, point.offset) == ("t1", "write", MIB)
    token, point = parse_line("reached ab12 switch:between-copies")
    assert (token, point.point, point.offset) == ("ab12", "switch:between-copies", None)
    assert str(point) == "switch:between-copies"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "go t1",
        "reached t1",
        "reached t1 write x",
        "reached t1 write -5",
        "reached t1 write 1 2",
        "reached t1 write \u00b2",  # a digit to str.isdigit, not to int()
        "hello t1 write 5",
        "[   12.5] kernel message",
    ],
)
def test_parse_line_ignores_anything_else(line):
    assert parse_line(line) is None


def test_every_listed_point_but_the_templates_is_a_trigger():
    for name in POINTS:
        if "<file>" in name:
            continue
        assert Trigger.parse(name).point == name


# -- the listener against a fake QEMU (the server end of the port's socket) ---------------------


class FakeQemu:
    def __init__(self, path: Path):
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(1)
        self.conn: socket.socket | None = None
        self.buffer = b""

    def accept(self) -> None:
        self.server.settimeout(5)
        self.conn, _ = self.server.accept()

    def reached(self, token: str, point: str, offset: int | None = None) -> None:
        line = f"reached {token} {point}" + ("" if offset is None else f" {offset}") + "\n"
        self.conn.sendall(line.encode())

    def answer(self, timeout: float = 2.0) -> str | None:
        """The next line from the listener, or None when none comes within ``timeout``."""
        self.conn.settimeout(timeout)
        while b"\n" not in self.buffer:
            try:
                chunk = self.conn.recv(256)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def qemu() -> Iterator[tuple[FakeQemu, Path]]:
    # A short directory: a unix socket's path has a limit of 107 bytes.
    with tempfile.TemporaryDirectory(prefix="nbx-cp-", dir="/tmp") as where:
        path = Path(where) / "checkpoint.sock"
        fake = FakeQemu(path)
        yield fake, path
        fake.close()


@pytest.fixture
def listener(qemu) -> Iterator[tuple[FakeQemu, Listener, list[str]]]:
    fake, path = qemu
    logged: list[str] = []
    lst = Listener(path, log=logged.append).start(connect_timeout=2)
    fake.accept()
    yield fake, lst, logged
    lst.close()


def test_unarmed_every_point_is_answered(listener):
    fake, lst, _ = listener
    fake.reached("t1", "write", MIB)
    assert fake.answer() == "go t1"
    fake.reached("t2", "verified")
    assert fake.answer() == "go t2"
    assert [(p.point, p.offset) for p in lst.seen] == [("write", MIB), ("verified", None)]
    assert not lst.fired.is_set()


def test_the_armed_point_is_left_waiting_and_the_action_runs(listener):
    fake, lst, logged = listener
    fake.reached("t1", "write", MIB)
    assert fake.answer() == "go t1"
    calls: list[str] = []
    lst.arm(Trigger.parse("write@8M"), lambda: calls.append("cut"))
    fake.reached("t2", "write", 4 * MIB)
    assert fake.answer() == "go t2"
    assert calls == [] and not lst.fired.is_set()
    fake.reached("t3", "write", 8 * MIB)
    assert lst.fired.wait(2)
    assert fake.answer(timeout=0.3) is None  # no go: the device waits while the power goes
    assert calls == ["cut"]
    assert lst.fired_at is not None and lst.fired_at.offset == 8 * MIB
    assert [p.offset for p in lst.seen] == [MIB, 4 * MIB, 8 * MIB]
    assert any("write@8388608" in line and "cutting the power" in line for line in logged)


def test_an_occurrence_fires_on_that_match_only_and_disarms(listener):
    fake, lst, _ = listener
    calls: list[int] = []
    lst.arm(Trigger.parse("save:config.json:written#2"), lambda: calls.append(1))
    fake.reached("a1", "save:journal.json:written")  # another file: not a match
    assert fake.answer() == "go a1"
    fake.reached("a2", "save:config.json:written")  # the first match
    assert fake.answer() == "go a2"
    assert calls == []
    fake.reached("a3", "save:config.json:written")  # the second: fires
    assert lst.fired.wait(2)
    assert fake.answer(timeout=0.3) is None
    assert calls == [1]
    fake.reached("a4", "save:config.json:written")  # fired once; now answered again
    assert fake.answer() == "go a4"
    assert calls == [1]


def test_arming_again_starts_the_count_over(listener):
    fake, lst, _ = listener
    lst.arm(Trigger.parse("verified#2"), lambda: None)
    fake.reached("b1", "verified")
    assert fake.answer() == "go b1"
    fired = threading.Event()
    lst.arm(Trigger.parse("verified#2"), fired.set)
    fake.reached("b2", "verified")  # the first match of the new arming
    assert fake.answer() == "go b2"
    assert not fired.is_set()
    fake.reached("b3", "verified")
    assert fired.wait(2)


def test_lines_split_across_packets_and_noise_are_handled(listener):
    fake, lst, _ = listener
    fake.conn.sendall(b"console noise\nreached c1 wri")
    assert fake.answer(timeout=0.2) is None
    fake.conn.sendall(b"te 4096\n")
    assert fake.answer() == "go c1"
    assert [(p.point, p.offset) for p in lst.seen] == [("write", 4096)]


def test_a_line_that_is_not_a_point_does_not_stop_the_listener(listener):
    fake, lst, _ = listener
    fake.reached("d1", "write", "\u00b2")
    fake.reached("d2", "verified")
    assert fake.answer() == "go d2"
    assert lst.thread.is_alive()


def test_start_gives_up_when_nobody_serves_the_socket(tmp_path):
    with pytest.raises(OSError):
        Listener(tmp_path / "none.sock").start(connect_timeout=0.1)
