"""Firmware updates on the appliance, timed from the host through the product's own tools:
`natbox flash` (the REST API) against the booted appliance, whose reboots go through the
bootloader stage as `natbox boot` does them (user-mode networking: no lab, no root needed).

- update.rollback_s: the upload of a 0.2.0 built to fail its health check, to the old slot
  booted again and reporting "rolled back" (three trial boots, then the way back);
- update.upload_to_commit_s: the upload of a good 0.2.0 to the new firmware committed.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Pa55-word"


def _set_password(base: str, timeout: float = 180) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
        http.cookiejar.CookieJar()))  # fmt: skip

    def call(method, path, body, token=None):
        req = urllib.request.Request(base + path, json.dumps(body).encode(), method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-CSRF-Token", token)
        with opener.open(req, timeout=10) as reply:
            return json.load(reply)

    deadline = time.monotonic() + timeout
    while True:
        try:
            login = call("POST", "/api/v1/session", {"username": "admin", "password": "admin"})
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    call(
        "PUT",
        "/api/v1/system/password",
        {"current_password": "admin", "new_password": PASSWORD, "confirm_password": PASSWORD},
        login["csrf_token"],
    )


def _flash(firmware: Path, url: str) -> tuple[float, str]:
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from natbox.cli import main; sys.exit(main())",
         "flash", str(firmware), "--url", url, "--password", PASSWORD, "--timeout", "600"],
        capture_output=True, text=True, cwd=TREE,
    )  # fmt: skip
    return time.monotonic() - t0, (done.stdout + done.stderr).strip().splitlines()[-1]


def main() -> None:
    if shutil.which("qemu-system-x86_64") is None:
        print("update_bench: skipped (no qemu-system-x86_64)")
        return
    from natbox.appliance.cli import power_cycles
    from natbox.appliance.session import Options, open_session
    from natbox.imagebuild.build import make_build

    os.environ.setdefault("NATBOX_TREE", str(TREE))
    good = make_build(TREE, quiet=True, version="0.2.0")
    broken = make_build(TREE, quiet=True, version="0.2.0", test_fault="health-fails")
    for build in (good, broken):
        build.run()
    with tempfile.TemporaryDirectory(prefix="natbox-update-bench-") as tmp:
        session = open_session(Options(workdir=Path(tmp), network="user"), log=lambda m: None)
        console = open(Path(tmp) / "console.log", "wb")  # noqa: SIM115
        runner = threading.Thread(target=power_cycles, args=(session, lambda m: None),
                                  kwargs={"stdin": subprocess.DEVNULL, "stdout": console,
                                          "stderr": subprocess.STDOUT}, daemon=True)  # fmt: skip
        runner.start()
        try:
            _set_password(session.ui_url.rstrip("/"))
            time.sleep(10)  # the first boot's own health check and commit
            rollback, rolled = _flash(broken.firmware_path, session.ui_url)
            commit, committed = _flash(good.firmware_path, session.ui_url)
        finally:
            if session.process is not None:  # a host signal is no guest reboot: the loop ends
                session.process.terminate()
            runner.join(timeout=30)
            session.close()
            console.close()
    print(f"# rollback: {rolled}")
    print(f"# update: {committed}")
    print(f"BENCH update.rollback_s {rollback:.1f} s")
    print(f"BENCH update.upload_to_commit_s {commit:.1f} s")


if __name__ == "__main__":
    main()
