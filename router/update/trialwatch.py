"""The trial watchdog: on a new firmware's trial boot the kernel's watchdog is armed, and only
the commit (the health check passed, the slot marked good) disarms it. A trial firmware that
hangs, or never gets to mark itself good, is reset by it; the bootloader then takes the next
attempt or goes back to the old slot. No trial keeps the device forever.

settle() starts it on a trial boot (``start``); it runs as its own small process holding
/dev/watchdog (softdog on the appliance). The margin is the environment's
``natbox_trial_watchdog`` (seconds; tests shorten it), 120 s by default: a boot and the
health check's 90 s, with room to spare.
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
DEFAULT_MARGIN = 120
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


def watch(watchdog: Path, journal: Path, seconds: int, poll: float = 1.0) -> None:
    fd = os.open(watchdog, os.O_WRONLY)
    fcntl.ioctl(fd, WDIOC_SETTIMEOUT, struct.pack("i", seconds))
    os.write(fd, b"\0")  # a keepalive: the count starts now, with the new margin
    record = J.Journal(journal)
    while record.read()["state"] != J.COMMITTED:
        time.sleep(poll)
    os.write(fd, b"V")  # the magic close: the watchdog stops
    os.close(fd)


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
