"""Firmware: the running version, both slots, the update journal and its history, and the
forms that upload, install and roll back. The forms are driven by webui/static/firmware.js
through /api/v1/firmware (webui.api); the page itself is server-rendered, so reading it needs
no script.

The work is router.update.service.UpdateService's. Without one (host development, the demo)
the page shows the running version as the backend reports it and the update routes answer 501.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template

from router.update import journal as J
from webui.security import state

bp = Blueprint("firmware", __name__)

UPDATES_NEED_DEVICE = "firmware updates need the device"
# Journal states the page follows (polling) until they end.
FOLLOWED = (J.WRITING, J.INSTALLED, J.TRIAL)


class FirmwareJobs:
    """The one background firmware job (an install and the reboot after it, or the reboot
    after a rollback): the API answers first, the job's end shows in the journal. ``join``
    is for the tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        # The last upload's sha256, Verdict and options: a reload still shows the checks of
        # the file waiting to be installed, and its install need not check it twice.
        self.last_upload: dict[str, Any] | None = None

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, name: str, work: Callable[[], None]) -> bool:
        with self._lock:
            if self.running():
                return False
            self.thread = threading.Thread(target=work, name=name, daemon=True)
            self.thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


def install_then_reboot(service, keep_settings: bool, force: bool) -> None:
    """The install job. Its answer has gone already: a failure is seen in the journal."""
    from router.update import journal
    from router.update.service import Busy

    try:
        service.install(keep_settings, force)
    except Busy as error:  # another front end (routerctl) got there first: its update
        service.log(f"web UI install not started: {error}")
        return
    except Exception as error:
        # The service journals what it refuses; anything else (an I/O error on the slot)
        # would leave "writing" in the journal for ever.
        if service.journal.state != journal.FAILED:
            service.journal.move(journal.FAILED, f"install failed: {error}", reason=str(error))
        service.log(f"install failed: {error}")
        return
    service.reboot()


def reboot_later(service, delay: float) -> None:
    time.sleep(delay)
    service.reboot()


def host_status(firmware: dict[str, Any]) -> dict[str, Any]:
    """The update status's shape for a router without an update service, from the backend's
    firmware description: nothing journalled, no boot environment, not updatable."""
    slots = {
        slot["name"]: {
            "state": "good" if slot["active"] else "empty",
            "version": slot["version"],
            "attempts_left": 0,
            "booted": slot["active"],
        }
        for slot in firmware["slots"]
    }
    return {
        "state": "idle",
        "since": None,
        "reason": "",
        "update": {},
        "progress": None,
        "history": [],
        "running_version": firmware["version"],
        "booted_slot": firmware["active_slot"],
        "boot_order": sorted(slots, key=lambda s: s != firmware["active_slot"]),
        "slots": slots,
        "environment": {},
        "environment_error": UPDATES_NEED_DEVICE,
        "busy": False,
        "uploaded": False,
    }


def firmware_status() -> dict[str, Any]:
    web = state()
    if web.update_service is None:
        return host_status(web.backend.firmware())
    return web.update_service.status()


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return ""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def outcome(status: dict[str, Any]) -> tuple[str, str] | None:
    """The journal's last word as a flash category and a sentence (the page's banner)."""
    update, reason, now = status["update"], status["reason"], status["state"]
    running = f"{status['running_version']} from slot {status['booted_slot']}"
    previous = update.get("previous_version")
    before = f" (previous version {previous})" if previous else ""
    new = f"{update.get('version')} in slot {update.get('slot')}"
    if now == J.COMMITTED:
        return "ok", f"Update committed: running {running}{before}."
    if now == J.ROLLED_BACK:
        return "warn", f"Rolled back: running {running}{before}. Reason: {reason or '-'}."
    if now == J.FAILED:
        return "error", f"Update failed: {reason}. The running firmware is unchanged."
    if now == J.TRIAL:
        return "warn", (f"Trial: {new} is checking its health; it commits itself, or the "
                        f"router goes back to {previous}.")  # fmt: skip
    if now == J.WRITING and not status["busy"]:  # the writer holds the lock while it writes
        return "error", (f"Writing {new} was interrupted: that slot does not boot; the running "
                         "firmware is unchanged. Upload the firmware again.")  # fmt: skip
    if now == J.WRITING:
        return "warn", "Writing firmware: do not power off."
    if now == J.INSTALLED:
        return "warn", f"Installed {new}; the router reboots into it."
    return None


@bp.route("/firmware")
def index():
    web = state()
    if web.update_service is None:
        return render_template("firmware.html", firmware=web.backend.firmware(), status=None)
    status = web.update_service.status()
    history = [{**entry, "when": _when(entry.get("time"))} for entry in status["history"]]
    other = next(s for s in status["slots"] if s != status["booted_slot"])
    last = web.firmware_jobs.last_upload
    waiting = status["uploaded"] and status["state"] in (J.RECEIVED, J.VERIFIED, J.FAILED)
    if not (last and waiting and last["sha256"] == status["update"].get("sha256")):
        last = None
    return render_template(
        "firmware.html",
        status=status,
        history=history[::-1],
        since=_when(status.get("since")),
        outcome=outcome(status),
        follow=status["state"] in FOLLOWED and (status["busy"] or status["state"] != J.WRITING),
        rollback_slot=other if status["slots"][other]["state"] == "good" else None,
        other=status["slots"][other],
        last_upload=last,
    )
