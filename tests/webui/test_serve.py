"""webui.serve's boot-time wait for the running configuration (fake clock, no sleeping)."""

from __future__ import annotations

import pytest

from webui.serve import wait_for_file

pytestmark = pytest.mark.unit


class FakeTime:
    def __init__(self, on_sleep=None):
        self.now, self.sleeps, self.on_sleep = 100.0, 0, on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep:
            self.on_sleep(self.sleeps)


def test_returns_once_the_daemon_has_written_the_file(tmp_path) -> None:
    path = tmp_path / "running.json"
    fake = FakeTime(lambda n: n == 3 and path.write_text("{}"))
    assert wait_for_file(str(path), 30, fake.clock, fake.sleep)
    assert fake.sleeps == 3


def test_gives_up_after_the_deadline(tmp_path) -> None:
    fake = FakeTime()
    assert not wait_for_file(str(tmp_path / "never.json"), 2, fake.clock, fake.sleep)
    assert 2 <= fake.now - 100 < 2.1


def test_existing_file_costs_no_wait(tmp_path) -> None:
    (tmp_path / "c.json").write_text("{}")
    fake = FakeTime()
    assert wait_for_file(str(tmp_path / "c.json"), 5, fake.clock, fake.sleep) and fake.sleeps == 0


def test_https_without_a_place_for_its_certificate_is_one_line_and_status_2(tmp_path, capsys):
    from webui.serve import main

    assert main(["--port", "0", "--https-port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--https-port needs --tls-dir" in err
