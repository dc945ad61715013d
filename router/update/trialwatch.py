"""The trial watchdog: on a new firmware's trial boot the kernel's watchdog is armed, and only
the commit (the health check passed, the slot marked good) disarms it. A trial firmware that
hangs, or never gets to mark itself good, is reset by it; the bootloader then takes the next
attempt or goes back to the old slot. No trial keeps the device forever.

settle() starts it on a trial boot (``start``); it runs as its own small process holding
/dev/watchdog (softdog on the appliance). It feeds the watchdog only while the health check
runs (S60update's process, by its pid file) and for at most CHECK_LIMIT seconds in all, so:
a firmware that never starts its check (it hangs on the way, or has none) is reset
``margin`` seconds after the router started; one whose check hangs, CHECK_LIMIT later. The
margin is the environment's ``natbox_trial_watchdog`` (seconds; tests shorten it), 60 s by
default: from the router's start to the health check's is a few seconds.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

from router.update import journal as J

MARGIN_VARIABLE = "natbox_trial_watchdog"
DEFAULT_MARGIN = 60
HEALTH_CHECK_PID = Path("/run/natbox/update.pid")
# The health check gives up after 90 s (router.update.boot): past this it has hung.
CHECK_LIMIT = 150
WDIOC_SETTIMEOUT = 0xC0045706  # _IOWR('W', 6, int)


def margin(env: dict[str, str]) -> int:
    try:
        value = int(env.get(MARGIN_VARIABLE, DEFAULT_MARGIN))
    except ValueError:
        return DEFAULT_MARGIN
    return value if 10 <= value <= 3600 else DEFAULT_MARGIN


def start(watchdog: Path, journal: Path, seconds: int) -> None:
    """Arm it in a process of its own (it must outlive router.startup's start-up)."""
    subprocess.Popen(
        [sys.executable, "-m", "router.update.trialwatch", "--watchdog", str(watchdog),
         "--journal", str(journal), "--margin", str(seconds)],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def watch(watchdog: Path, journal: Path, seconds: int, poll: float = 1.0,
          check_pid: Path = HEALTH_CHECK_PID, limit: float = CHECK_LIMIT,
          clock=time.monotonic) -> None:  # fmt: skip
    fd = os.open(watchdog, os.O_WRONLY)
    fcntl.ioctl(fd, WDIOC_SETTIMEOUT, struct.pack("i", seconds))
    os.write(fd, b"\0")  # a keepalive: the count starts now, with the new margin
    started = clock()
    record = J.Journal(journal)
    while record.read()["state"] != J.COMMITTED:
        if running(check_pid) and clock() - started < limit:
            os.write(fd, b"\0")  # the health check is under way: it gets its time
        time.sleep(poll)
    os.write(fd, b"V")  # the magic close: the watchdog stops
    os.close(fd)


def running(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="router.update.trialwatch")
    parser.add_argument("--watchdog", type=Path, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--margin", type=int, default=DEFAULT_MARGIN)
    args = parser.parse_args(argv)
    watch(args.watchdog, args.journal, args.margin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
