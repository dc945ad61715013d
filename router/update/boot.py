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
import os
import shutil
import sys
import time
from collections.abc import Callable

from router.update import journal as J
from router.update import slots
from router.update.health import Hopeless
from router.update.service import KEPT_CONFIG, UpdateService

NORMAL, TRIAL, ROLLED_BACK, INTERRUPTED = "normal", "trial", "rolled back", "interrupted"


def settle(service: UpdateService) -> str:
    device, journal = service.device, service.journal
    env = service.environment()
    here = device.booted
    record = journal.read()
    state, update = record["state"], record.get("update", {})
    if slots.state(env, here) == "trial":
        left = slots.attempts(env, here)
        attempt = slots.ATTEMPTS - left
        if state in (J.INSTALLED, J.TRIAL):
            service._move(J.TRIAL, f"slot {here}: first boots of {device.version} (attempt "
                          f"{attempt} of {slots.ATTEMPTS})")  # fmt: skip
        return TRIAL
    target = update.get("slot")
    if state in (J.INSTALLED, J.TRIAL) and target and target != here:
        reason = record.get("reason") or (
            f"slot {target} ({update.get('version')}) did not become healthy within "
            f"{slots.ATTEMPTS} attempts"
        )
        device.env.save(slots.mark_bad(env, target))
        restored = _restore_config(service)
        service._move(J.ROLLED_BACK, f"back on slot {here} ({device.version}): {reason}"
                      + ("; configuration from before the update restored" if restored else ""),
                      reason=reason)  # fmt: skip
        return ROLLED_BACK
    if state in (J.RECEIVED, J.VERIFIED, J.WRITING):
        why = f"interrupted while {state} (power lost or rebooted); start the update again"
        service._move(J.FAILED, why, reason=why)
        return INTERRUPTED
    return NORMAL


def _restore_config(service: UpdateService) -> bool:
    kept = service.device.work / KEPT_CONFIG
    if not kept.exists():
        return False
    temp = service.device.config.with_suffix(".restore")
    shutil.copyfile(kept, temp)
    os.replace(temp, service.device.config)
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
        env = service.environment()
        if trial:
            device.env.save(slots.mark_good(env, here))
            update = service.journal.read().get("update", {})
            was = update.get("previous_version")
            service._move(J.COMMITTED, f"slot {here} ({device.version}) healthy and marked "
                          f"good" + (f"; was {was}" if was else ""))  # fmt: skip
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
