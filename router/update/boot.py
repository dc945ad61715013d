"""What the firmware does about updates when it boots.

``settle()`` runs early (router.startup, before the configuration is read, so a rollback can
put the old configuration back first): it reads the journal, the environment and the slot it
runs from, and records what this boot is:

- a trial: the slot is ``trial`` (a new firmware's first boots);
- a rollback: an update was installed to the other slot, which never became healthy, and the
  bootloader came back here once its attempts were spent; the failed slot becomes ``bad``,
  the configuration from before the update comes back;
- an interrupted update: the journal stopped in received / verified / writing (power lost);
  it is marked failed, and the next update starts over;
- a normal boot.

``commit()`` runs once the system is up (S60update): the health check; on a trial boot a pass
marks the slot good and the journal committed, a failure is recorded and the device reboots
(the bootloader takes the next attempt, or goes back). On a normal boot a pass gives the
booted slot its attempts back (RAUC's mark-good), so power cuts never add up.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from router.checkpoint import reached
from router.store import write_atomic
from router.update import journal as J
from router.update import slots, trialwatch
from router.update.health import Hopeless
from router.update.service import KEPT_CONFIG, UpdateService

NORMAL, TRIAL, ROLLED_BACK, INTERRUPTED = "normal", "trial", "rolled back", "interrupted"


def settle(service: UpdateService) -> str:
    """The environment says what this boot is; the journal adds the story (it may lag behind
    after a power cut, so it is never what decides)."""
    device, journal = service.device, service.journal
    here, other = device.booted, slots.other(device.booted)
    with service.locked(wait=10):
        partial = service.upload_path.with_suffix(".part")
        if partial.exists():  # the power went while a file was being received
            partial.unlink()
            service.log("a partial upload (the power went while receiving it) removed")
        env = service.environment()
        record = journal.read()
        update = record.get("update", {})
        if slots.state(env, here) == "trial":
            attempt = slots.ATTEMPTS - slots.attempts(env, here)
            detail = f"slot {here}: first boots of {device.version} (attempt {attempt} of " \
                f"{slots.ATTEMPTS})"  # fmt: skip
            reset = update.get("keep_settings") is False and not update.get("settings_reset")
            if reset and update.get("slot") == here:
                device.config.unlink(missing_ok=True)  # before the router reads it
                detail += "; settings reset to factory defaults"
            service.record(J.TRIAL, detail, update={"settings_reset": True} if reset else {})
            if device.watchdog is not None and device.watchdog.exists():
                trialwatch.start(device.watchdog, journal.path, trialwatch.margin(env))
            reached("trial-boot", attempt)
            return TRIAL
        pending = record["state"] in (J.INSTALLED, J.TRIAL)  # the journal awaits a verdict
        if slots.state(env, other) == "trial" or (
            pending and update.get("slot") == other and slots.state(env, other) == "bad"
        ):  # the bootloader came back: the attempts are spent (or the mark-bad was cut short)
            version = env.get(slots.version_name(other), "?")
            reason = record.get("reason") or (
                f"slot {other} ({version}) did not become healthy within {slots.ATTEMPTS} attempts"
            )
            if slots.state(env, other) == "trial":
                device.env.save(
                    slots.mark_bad(env, other), between=lambda: reached("mark-bad:between-copies")
                )
            restored = _restore_config(service)
            service.record(J.ROLLED_BACK, f"back on slot {here} ({device.version}): {reason}"
                           + ("; configuration from before the update restored" if restored
                              else ""), reason=reason)  # fmt: skip
            return ROLLED_BACK
        if pending and update.get("slot") == other:  # neither trial nor bad: forgotten
            why = f"the update to slot {other} is no longer in the boot environment (it was " \
                "lost, and the bootloader started from its defaults); install it again"  # fmt: skip
            service.record(J.FAILED, why, reason=why)
            return INTERRUPTED
        if pending and update.get("slot") == here and slots.state(env, here) == "good":
            # The power went after the mark-good reached the environment, before the journal.
            service.record(J.COMMITTED, f"slot {here} ({device.version}) marked good (the "
                           "journal caught up after a power loss)")  # fmt: skip
            return NORMAL
        if record["state"] in (J.RECEIVED, J.VERIFIED, J.WRITING):
            why = f"interrupted while {record['state']} (power lost or rebooted); start the " \
                "update again"  # fmt: skip
            service.record(J.FAILED, why, reason=why)
            return INTERRUPTED
        return NORMAL


def _restore_config(service: UpdateService) -> bool:
    kept = service.device.work / KEPT_CONFIG
    if not kept.exists():
        return False
    write_atomic(service.device.config, kept.read_text())
    return True


Check = Callable[[], str | None]  # None: healthy; otherwise what is wrong


def wait_healthy(checks: dict[str, Check], timeout: float, clock=time.monotonic,
                 sleep=time.sleep) -> str | None:  # fmt: skip
    """Run every check until all pass (None) or ``timeout`` (the last problems)."""
    deadline = clock() + timeout
    while True:
        problems, hopeless = [], False
        for name, check in checks.items():
            try:
                problem = check()
            except Hopeless as error:
                problem, hopeless = str(error), True
            if problem:
                problems.append(f"{name}: {problem}")
        if not problems:
            return None
        if hopeless or clock() >= deadline:
            return "; ".join(problems)
        sleep(1.0)


def commit(service: UpdateService, checks: dict[str, Check], timeout: float) -> str:
    device = service.device
    here = device.booted
    env = service.environment()
    trial = slots.state(env, here) == "trial"
    problem = wait_healthy(checks, timeout)
    if problem is None:
        with service.locked(wait=10):  # an install may be changing the environment too
            env = service.environment()
            if trial:
                reached("healthy")
                device.env.save(
                    slots.mark_good(env, here), between=lambda: reached("mark-good:between-copies")
                )
                was = service.journal.read().get("update", {}).get("previous_version")
                service.record(J.COMMITTED, f"slot {here} ({device.version}) healthy and "
                               "marked good" + (f"; was {was}" if was else ""))  # fmt: skip
                reached("committed")
            elif slots.attempts(env, here) < slots.ATTEMPTS or slots.state(env, here) != "good":
                device.env.save(slots.mark_good(env, here))
        return "healthy"
    if trial:
        reason = f"health check failed on slot {here} ({device.version}): {problem}"
        service.journal.note(reason=reason)
        service.log(reason + "; rebooting")
        service.reboot()
        return "rebooting"
    service.log(f"health check failed: {problem}")
    return "unhealthy"


def main(argv: list[str] | None = None) -> int:
    from router.update import device, health

    parser = argparse.ArgumentParser(prog="router.update.boot")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args(argv)
    service = UpdateService(device.appliance())
    outcome = commit(service, health.appliance_checks(), args.timeout)
    print(f"update: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
