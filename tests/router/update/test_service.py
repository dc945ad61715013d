"""The update service on a device made of files: receive, check, install, the switch, the
boot-time commit and rollback, and the journal's story."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import make

from router.update import boot, slots
from router.update import journal as J
from router.update.service import Busy, UpdateError


def healthy():
    return None


def test_install_writes_the_inactive_slot_reads_it_back_and_switches(fake):
    service = fake.service()
    image = make(fake.key, version="0.2.0")
    service.receive(io.BytesIO(image), source="test")
    verdict = service.check()
    assert verdict.valid and verdict.checks["version"]["detail"] == "0.1.0 -> 0.2.0"
    assert service.journal.state == J.VERIFIED
    seen = []
    service.install(progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert fake.device.slots["B"].read_bytes()[: len(image)] == image
    assert seen[-1] == ("verified", len(image), len(image))
    env = service.environment()
    assert slots.order(env) == ["B", "A"] and slots.state(env, "B") == "trial"
    assert env["SLOT_B_VERSION"] == "0.2.0" and slots.attempts(env, "B") == slots.ATTEMPTS
    assert service.journal.state == J.INSTALLED
    assert fake.reboots == []  # the caller reboots


@pytest.mark.parametrize(
    "image, failed",
    [
        (lambda key: make(key, version="0.2.0", compatible="other,board"), "board"),
        (lambda key: make(Ed25519PrivateKey.generate(), version="0.2.0"), "signature"),
        (lambda key: make(key, version="0.2.0", lie_about="rootfs"), "hash:rootfs"),
        (lambda key: make(key, version="0.0.9"), "version"),
        (lambda key: make(key, version="0.1.0"), "version"),
        (lambda key: make(key, version="0.2.0", compat="2.0"), "compat"),
        (lambda key: make(key, version="0.2.0")[:-3], "format"),
    ],
    ids=[
        "board",
        "unknown-key",
        "payload-hash",
        "downgrade",
        "reinstall",
        "compat-major",
        "truncated",
    ],
)
def test_bad_files_are_refused_before_anything_is_written(fake, image, failed):
    service = fake.service()
    env_before = service.environment()
    service.receive(io.BytesIO(image(fake.key)))
    verdict = service.check()
    assert not verdict.valid and failed in verdict.failed()
    with pytest.raises(UpdateError, match=failed.split(":")[0]):
        service.install()
    assert fake.device.slots["B"].read_bytes() == bytes(len(fake.device.slots["B"].read_bytes()))
    assert service.environment() == env_before
    record = service.journal.read()
    assert record["state"] == J.FAILED and failed.split(":")[0] in record["reason"]


def test_a_revoked_key_is_refused(fake):
    from router.firmware.keyring import key_id

    (fake.device.keyring / "revoked").write_text(key_id(fake.key.public_key()).hex() + "\n")
    service = fake.service()
    service.receive(io.BytesIO(make(fake.key, version="0.2.0")))
    assert "revoked" in service.check().checks["signature"]["detail"]


def test_a_downgrade_needs_force_and_is_logged(fake):
    service = fake.service(version="0.3.0")
    service.receive(io.BytesIO(make(fake.key, version="0.2.0")))
    verdict = service.check()
    assert verdict.failed() == ["version"] and verdict.forceable
    service.install(force=True)
    assert any("forced install of 0.2.0 over 0.3.0" in line for line in fake.logged)
    assert service.journal.read()["update"]["forced"] is True


def test_a_compat_major_step_installs_only_without_the_settings(fake):
    fake.device.config.write_text('{"hostname": "kept"}')
    service = fake.service()
    service.receive(io.BytesIO(make(fake.key, version="0.2.0", compat="2.0")))
    verdict = service.check(keep_settings=True)
    assert "cannot be kept" in verdict.checks["compat"]["detail"]
    assert not verdict.keep_settings_possible
    service.install(keep_settings=False)
    # Until the new slot boots, the old firmware keeps its settings (a power cut before the
    # reboot must not cost them); the new one's first trial boot starts from factory defaults.
    assert fake.device.config.exists()
    assert json.loads((fake.device.work / "config-before.json").read_text()) == {"hostname": "kept"}
    env = fake.device.env
    slots.select(env.load(), lambda s: None, env.save)
    assert boot.settle(fake.booted_from("B", "0.2.0")) == boot.TRIAL
    assert not fake.device.config.exists()
    assert (fake.device.work / "config-before.json").stat().st_mode & 0o777 == 0o600


def test_oversize_upload_is_refused_and_nothing_is_kept(fake):
    service = fake.service()
    with pytest.raises(UpdateError, match="larger than the limit"):
        service.receive(io.BytesIO(b"x" * 5000), limit=4096)
    assert not service.upload_path.exists()
    assert not service.upload_path.with_suffix(".part").exists()
    assert service.journal.state == J.FAILED


def test_one_update_at_a_time(fake):
    service = fake.service()
    with service.locked(), pytest.raises(Busy):
        service.receive(io.BytesIO(b"x"))
    assert service.busy() is False


def trial_boot(fake, version="0.2.0"):
    """Install 0.2.0, then 'reboot': the bootloader picks B, the new firmware settles."""
    service = fake.service()
    service.receive(io.BytesIO(make(fake.key, version=version)))
    service.install()
    env = fake.device.env
    choice = slots.select(env.load(), lambda s: None, env.save)
    assert choice.slot == "B"
    new = fake.booted_from("B", version)
    assert boot.settle(new) == boot.TRIAL
    return new


def test_a_healthy_trial_commits(fake):
    new = trial_boot(fake)
    assert new.journal.state == J.TRIAL
    assert boot.commit(new, {"ok": healthy}, timeout=0) == "healthy"
    env = new.environment()
    assert slots.state(env, "B") == "good" and slots.attempts(env, "B") == slots.ATTEMPTS
    record = new.journal.read()
    assert record["state"] == J.COMMITTED and "was 0.1.0" in record["history"][-1]["detail"]
    story = [h["state"] for h in record["history"]]
    assert story == [J.RECEIVED, J.VERIFIED, J.WRITING, J.INSTALLED, J.TRIAL, J.COMMITTED]


def test_an_unhealthy_trial_reboots_and_the_old_slot_reports_rolled_back(fake):
    fake.device.config.write_text('{"hostname": "before"}')
    new = trial_boot(fake)
    fake.device.config.write_text('{"hostname": "changed by the trial"}')
    assert boot.commit(new, {"web UI": lambda: "no answer"}, timeout=0) == "rebooting"
    assert fake.reboots == ["reboot"]
    env = fake.device.env
    for _ in range(slots.ATTEMPTS - 1):  # the remaining attempts fail the same way
        assert slots.select(env.load(), lambda s: None, env.save).slot == "B"
    choice = slots.select(env.load(), lambda s: None, env.save)
    assert choice.slot == "A"
    old = fake.booted_from("A", "0.1.0")
    assert boot.settle(old) == boot.ROLLED_BACK
    record = old.journal.read()
    assert record["state"] == J.ROLLED_BACK and "web UI: no answer" in record["reason"]
    assert slots.state(env.load(), "B") == "bad" and slots.order(env.load())[0] == "A"
    assert json.loads(fake.device.config.read_text()) == {"hostname": "before"}


def test_an_update_interrupted_while_writing_does_not_block_the_next(fake):
    service = fake.service()
    service.receive(io.BytesIO(make(fake.key, version="0.2.0")))
    service.check()
    service.journal.move(J.WRITING, "power lost in the middle")
    fake.device.env.save(slots.begin_write(service.environment(), "B"))
    assert boot.settle(fake.service()) == boot.INTERRUPTED
    assert "interrupted while writing" in service.journal.read()["reason"]
    service.receive(io.BytesIO(make(fake.key, version="0.2.0")))
    service.install()
    assert service.journal.state == J.INSTALLED


def test_manual_rollback_needs_a_good_verified_other_slot(fake):
    service = fake.service()
    with pytest.raises(UpdateError, match="slot B is empty"):
        service.rollback()
    with open(fake.device.slots["A"], "r+b") as f:
        f.write(make(fake.key, version="0.1.0"))
    new = trial_boot(fake)
    boot.commit(new, {"ok": healthy}, timeout=0)
    assert new.rollback() == "A"
    env = new.environment()
    assert slots.order(env)[0] == "A" and slots.state(env, "B") == "good"
    assert new.journal.read()["reason"] == "manual rollback"


def test_a_rollback_target_that_does_not_verify_is_refused(fake):
    new = trial_boot(fake)
    boot.commit(new, {"ok": healthy}, timeout=0)
    # Slot A claims good in the environment, but holds no firmware (the fake disk's A is empty).
    with pytest.raises(UpdateError, match="does not verify"):
        new.rollback()


def test_a_healthy_normal_boot_gives_the_attempts_back(fake):
    env = fake.device.env
    slots.select(env.load(), lambda s: None, env.save)
    assert slots.attempts(env.load(), "A") == slots.ATTEMPTS - 1
    service = fake.service()
    assert boot.settle(service) == boot.NORMAL
    assert boot.commit(service, {"ok": healthy}, timeout=0) == "healthy"
    assert slots.attempts(env.load(), "A") == slots.ATTEMPTS
    assert fake.reboots == []


def test_status_names_slots_and_state(fake):
    status = fake.service().status()
    assert status["slots"]["A"] == {"state": "good", "version": "0.1.0", "attempts_left": 3,
                                    "booted": True}  # fmt: skip
    assert status["state"] == J.IDLE and status["boot_order"] == ["A", "B"]


def test_the_journal_refuses_moves_outside_its_table(tmp_path):
    journal = J.Journal(tmp_path / "j.json")
    with pytest.raises(J.JournalError):
        journal.move(J.COMMITTED)
    journal.move(J.RECEIVED, "x")
    (tmp_path / "j.json").write_text("{not json")
    assert journal.read()["state"] == J.IDLE  # a torn or foreign file never blocks updates


def test_waiting_for_health_stops_at_a_hopeless_problem_or_the_timeout():
    now = [0.0]
    calls = []

    def hopeless():
        calls.append("h")
        raise boot.Hopeless("built to fail")

    got = boot.wait_healthy({"fault": hopeless}, 60, clock=lambda: now[0], sleep=calls.append)
    assert got == "fault: built to fail" and calls == ["h"]  # no waiting at all

    def later():
        now[0] += 1.0
        return None if now[0] >= 3 else "not yet"

    assert boot.wait_healthy({"ui": later}, 60, clock=lambda: now[0], sleep=lambda s: None) is None
    now[0] = 0.0
    got = boot.wait_healthy({"ui": lambda: "down"}, 5, clock=lambda: now[0],
                            sleep=lambda s: now.__setitem__(0, now[0] + s))  # fmt: skip
    assert got == "ui: down" and now[0] >= 5


def test_a_power_cut_between_the_switch_and_the_journal_still_gives_a_trial_and_a_rollback(fake):
    """The environment decides what a boot is; the journal may lag behind it."""
    service = fake.service()
    service.receive(io.BytesIO(make(fake.key, version="0.2.0")))
    service.check()
    service.journal.move(J.WRITING, "the switch is on disk, this line is the last one")
    fake.device.env.save(slots.switch_to(service.environment(), "B", "0.2.0"))
    env = fake.device.env
    assert slots.select(env.load(), lambda s: None, env.save).slot == "B"
    new = fake.booted_from("B", "0.2.0")
    assert boot.settle(new) == boot.TRIAL and new.journal.state == J.TRIAL
    for _ in range(slots.ATTEMPTS - 1):
        slots.select(env.load(), lambda s: None, env.save)
    assert slots.select(env.load(), lambda s: None, env.save).slot == "A"
    assert boot.settle(fake.service()) == boot.ROLLED_BACK
    assert slots.state(env.load(), "B") == "bad"
