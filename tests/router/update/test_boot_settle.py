"""settle() after a power cut: the environment decides, the journal catches up (committed or
rolled back), a partial upload is removed, and a trial boot arms the trial watchdog."""

from __future__ import annotations

import io
import json
import os
import threading

import pytest
from fwfactory import make

from router.update import boot, slots, trialwatch
from router.update import journal as J

pytestmark = pytest.mark.unit

BEFORE = {"hostname": "before"}


def installed(fake, extra_env: dict[str, str] | None = None):
    """0.2.0 installed to B from A (journal "installed"), with a saved configuration kept."""
    fake.device.config.write_text(json.dumps(BEFORE))
    env = fake.device.env
    if extra_env:
        env.save(env.load() | extra_env)
    service = fake.service()
    service.receive(io.BytesIO(make(fake.key, version="0.2.0")))
    service.install()
    assert service.journal.state == J.INSTALLED
    return service


def boot_b(fake):
    """The bootloader takes an attempt of B (the trial) and boots it."""
    env = fake.device.env
    assert slots.select(env.load(), lambda s: None, env.save).slot == "B"


@pytest.mark.parametrize("journal_state", [J.TRIAL, J.INSTALLED])
def test_the_mark_good_reached_the_environment_the_journal_catches_up(fake, journal_state):
    installed(fake)
    boot_b(fake)
    new = fake.booted_from("B", "0.2.0")
    if journal_state == J.TRIAL:
        assert boot.settle(new) == boot.TRIAL
    env = fake.device.env
    env.save(slots.mark_good(env.load(), "B"))  # the power went before the journal's line
    assert new.journal.state == journal_state
    assert boot.settle(new) == boot.NORMAL
    record = new.journal.read()
    assert record["state"] == J.COMMITTED
    assert "journal caught up" in record["history"][-1]["detail"]
    assert slots.state(env.load(), "B") == "good"


@pytest.mark.parametrize("journal_state", [J.TRIAL, J.INSTALLED])
def test_the_mark_bad_reached_the_environment_the_old_slot_rolls_back(fake, journal_state):
    installed(fake)
    if journal_state == J.TRIAL:
        boot_b(fake)
        assert boot.settle(fake.booted_from("B", "0.2.0")) == boot.TRIAL
    fake.device.config.write_text('{"hostname": "changed by the trial"}')
    env = fake.device.env
    env.save(slots.mark_bad(env.load(), "B"))  # cut after the mark-bad, before the journal
    old = fake.booted_from("A", "0.1.0")
    assert boot.settle(old) == boot.ROLLED_BACK
    record = old.journal.read()
    assert record["state"] == J.ROLLED_BACK
    assert "configuration from before the update restored" in record["history"][-1]["detail"]
    assert json.loads(fake.device.config.read_text()) == BEFORE
    after = env.load()
    assert slots.state(after, "B") == "bad" and slots.order(after)[0] == "A"


def test_a_bad_other_slot_without_a_pending_update_is_a_normal_boot(fake):
    installed(fake)
    old = fake.booted_from("A", "0.1.0")
    old.journal.move(J.FAILED, "an earlier story")  # the journal awaits no verdict
    fake.device.config.write_text('{"hostname": "current"}')
    env = fake.device.env
    env.save(slots.mark_bad(env.load(), "B"))
    assert boot.settle(old) == boot.NORMAL
    assert old.journal.state == J.FAILED
    assert json.loads(fake.device.config.read_text()) == {"hostname": "current"}


def test_a_pending_update_the_environment_forgot_is_failed_not_stuck(fake):
    """Installed to B, but A booted and B is neither trial nor bad (the bootloader's default
    environment after both copies were lost): the journal says so and the next update may
    start (it is not refused as "installed and not yet committed"); nothing is rolled back
    and the configuration stays."""
    installed(fake)
    env = fake.device.env
    env.save(slots.mark_good(env.load(), "B") | {"BOOT_ORDER": "A B"})
    fake.device.config.write_text('{"hostname": "current"}')
    old = fake.booted_from("A", "0.1.0")
    assert boot.settle(old) == boot.INTERRUPTED
    assert old.journal.state == J.FAILED
    assert "no longer in the boot environment" in old.journal.read()["reason"]
    assert json.loads(fake.device.config.read_text()) == {"hostname": "current"}
    old.receive(io.BytesIO(b"the next firmware"))  # not refused
    assert old.journal.state == J.RECEIVED


def test_a_partial_upload_is_removed(fake):
    service = fake.service()
    fake.device.work.mkdir(parents=True)
    part = service.upload_path.with_suffix(".part")
    part.write_bytes(b"half a firmware")
    assert boot.settle(service) == boot.NORMAL
    assert not part.exists()
    assert any("partial upload" in line for line in fake.logged)


def test_no_partial_upload_nothing_said(fake):
    fake.device.work.mkdir(parents=True)
    assert boot.settle(fake.service()) == boot.NORMAL
    assert not any("partial upload" in line for line in fake.logged)


@pytest.fixture
def started(monkeypatch):
    calls = []
    monkeypatch.setattr(trialwatch, "start", lambda *args: calls.append(args))
    return calls


def test_a_trial_boot_arms_the_watchdog_with_the_environments_margin(fake, started, tmp_path):
    watchdog = tmp_path / "watchdog"
    watchdog.write_bytes(b"")
    installed(fake, {trialwatch.MARGIN_VARIABLE: "40"})
    boot_b(fake)
    new = fake.service(booted="B", version="0.2.0", watchdog=watchdog)
    assert boot.settle(new) == boot.TRIAL
    assert started == [(watchdog, new.journal.path, 40)]


def test_the_default_margin_without_the_variable(fake, started, tmp_path):
    watchdog = tmp_path / "watchdog"
    watchdog.write_bytes(b"")
    installed(fake)
    boot_b(fake)
    new = fake.service(booted="B", version="0.2.0", watchdog=watchdog)
    assert boot.settle(new) == boot.TRIAL
    assert started == [(watchdog, new.journal.path, trialwatch.DEFAULT_MARGIN)]


def test_no_watchdog_no_arming(fake, started, tmp_path):
    installed(fake)
    boot_b(fake)
    assert boot.settle(fake.booted_from("B", "0.2.0")) == boot.TRIAL  # watchdog None
    missing = fake.service(booted="B", version="0.2.0", watchdog=tmp_path / "no-watchdog")
    assert boot.settle(missing) == boot.TRIAL
    assert started == []


def test_a_normal_boot_does_not_arm_it(fake, started, tmp_path):
    watchdog = tmp_path / "watchdog"
    watchdog.write_bytes(b"")
    assert boot.settle(fake.service(watchdog=watchdog)) == boot.NORMAL
    assert started == []


@pytest.mark.parametrize(
    ("value", "margin"),
    [(None, 60), ("40", 40), ("abc", 60), ("5", 60), ("", 60), ("10", 10), ("3600", 3600),
     ("3601", 60), ("-40", 60)],
)  # fmt: skip
def test_the_margin(value, margin):
    env = {} if value is None else {trialwatch.MARGIN_VARIABLE: value}
    assert trialwatch.margin(env) == margin


def test_watch_keeps_it_alive_until_the_commit_then_stops_it(tmp_path, monkeypatch):
    """On a file standing in for /dev/watchdog: the margin set, a keepalive, and the magic
    close only once the journal says committed."""
    ioctls = []
    monkeypatch.setattr(trialwatch.fcntl, "ioctl", lambda fd, op, arg: ioctls.append((op, arg)))
    watchdog = tmp_path / "watchdog"
    watchdog.write_bytes(b"")
    journal = J.Journal(tmp_path / "journal.json")
    journal.move(J.TRIAL, "first boot")
    thread = threading.Thread(target=trialwatch.watch, args=(watchdog, journal.path, 40, 0.01))
    thread.start()
    thread.join(0.2)
    assert thread.is_alive()  # still a trial: still watching
    assert watchdog.read_bytes() == b"\0"
    journal.move(J.COMMITTED, "healthy")
    thread.join(2)
    assert not thread.is_alive()
    assert watchdog.read_bytes() == b"\0V"
    assert ioctls == [(trialwatch.WDIOC_SETTIMEOUT, (40).to_bytes(4, "little", signed=True))]
    assert os.stat(watchdog).st_size == 2


def test_watch_feeds_it_while_the_health_check_runs_and_not_past_the_limit(tmp_path, monkeypatch):
    """The health check's process alive (its pid file names a live process: ours): a keepalive
    each round; past ``limit`` seconds none, so a hung check is reset too."""
    monkeypatch.setattr(trialwatch.fcntl, "ioctl", lambda fd, op, arg: None)
    watchdog = tmp_path / "watchdog"
    watchdog.write_bytes(b"")
    pid_file = tmp_path / "update.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    journal = J.Journal(tmp_path / "journal.json")
    journal.move(J.TRIAL, "first boot")
    now = [0.0]
    thread = threading.Thread(target=trialwatch.watch, args=(watchdog, journal.path, 20, 0.01),
                              kwargs={"check_pid": pid_file, "limit": 5.0,
                                      "clock": lambda: now[0]})  # fmt: skip
    thread.start()
    thread.join(0.2)
    fed = watchdog.read_bytes().count(b"\0")
    assert fed > 2  # the first keepalive and the health check's
    now[0] = 6.0  # past the limit: no more keepalives
    thread.join(0.1)
    stopped_at = watchdog.read_bytes().count(b"\0")
    thread.join(0.2)
    assert watchdog.read_bytes().count(b"\0") == stopped_at
    journal.move(J.COMMITTED, "healthy")
    thread.join(2)
    assert watchdog.read_bytes().endswith(b"V")


def test_a_dead_health_check_feeds_nothing(tmp_path):
    pid_file = tmp_path / "update.pid"
    assert not trialwatch.running(pid_file)
    pid_file.write_text("not a pid")
    assert not trialwatch.running(pid_file)
    pid_file.write_text(f"{os.getpid()}")
    assert trialwatch.running(pid_file)
