"""rcK, the device's shutdown: the web UI stops before anything it reads goes away (a page
that polled during a reboot once showed an unmounted /data as "no update yet"), then every
other stop script in reverse name order. Run with stand-ins for the real scripts."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

INITD = Path(__file__).resolve().parents[2] / "rootfs" / "etc" / "init.d"


def stopped_in_order(tmp_path: Path) -> list[str]:
    log = tmp_path / "stopped"
    stand_ins = tmp_path / "init.d"
    stand_ins.mkdir()
    for script in sorted(INITD.glob("S??*")):
        fake = stand_ins / script.name
        fake.write_text(f'#!/bin/sh\necho "{script.name} $1" >> {log}\n')
        fake.chmod(0o755)
    subprocess.run(
        ["sh", str(INITD / "rcK")], check=True, env={**os.environ, "INITD": str(stand_ins)}
    )
    return log.read_text().split("\n")[:-1]


def test_the_web_ui_stops_first_then_the_rest_in_reverse(tmp_path):
    lines = stopped_in_order(tmp_path)
    assert all(line.endswith(" stop") for line in lines)
    names = [line.split()[0] for line in lines]
    real = sorted(p.name for p in INITD.glob("S??*"))
    assert names[0] == "S02webui"
    assert names[1:] == [n for n in reversed(real) if n != "S02webui"]
    assert names.index("S02webui") < names.index("S15data")  # /data goes after the UI


def test_the_web_ui_stop_waits_for_the_process(tmp_path):
    """The UI's stop returns only once the process is gone (TERM, then KILL), so /data is
    not unmounted under it: tried on a process that ignores TERM."""
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; exec sleep 60"])
    try:
        pidfile = tmp_path / "webui.pid"
        pidfile.write_text(f"{stubborn.pid}\n")
        env = {**os.environ, "PIDFILE": str(pidfile)}
        subprocess.run(["sh", str(INITD / "S02webui"), "stop"], check=True, env=env, timeout=30)
        assert stubborn.wait(timeout=1) == -signal.SIGKILL
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
            stubborn.wait()
