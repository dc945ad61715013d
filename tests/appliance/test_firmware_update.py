"""Firmware updates on the booted appliance, end to end: 0.1.0 -> 0.2.0 through the API
(`natbox flash` from the host), a manual rollback, an update from the lab's update server
with the settings reset, a downgrade refused and then forced from routerctl, and the Firmware
page in Chromium. Each ends with the booted slot, the running version, both slots as
fw_printenv shows them, the configuration and the journal's story. (What goes wrong, from a
firmware that fails its health check to power cuts: test_fault_matrix.py.)

The appliance here is its own (its own disk, boot and lab): these tests move it between
slots. They run in order; each starts where the one before left the device."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from natbox.lab import names as N

pytestmark = pytest.mark.vm

TREE = Path(__file__).resolve().parents[2]
PASSWORD = "update-Test-9"
NEW, OLD = "0.2.0", "0.1.0"


@pytest.fixture(scope="module")
def firmware(tmp_path_factory) -> dict[str, Path]:
    """The 0.1.0 the appliance boots and the same image built as 0.2.0 (once per run)."""
    from natbox.imagebuild.build import make_build

    files = {}
    for version in (OLD, NEW):
        build = make_build(TREE, quiet=True, version=None if version == OLD else version)
        build.run()
        files[version] = build.firmware_path
    return files


@pytest.fixture(scope="module")
def box(tmp_path_factory, firmware, appliance_class):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("needs qemu-system-x86_64")
    appliance = appliance_class(tmp_path_factory.mktemp("updates"))
    try:
        served = tmp_path_factory.mktemp("served")
        shutil.copyfile(firmware[NEW], served / firmware[NEW].name)
        from natbox.firmware.cli import write_manifest

        write_manifest(served, print)
        appliance.server_url = appliance.lab.serve_firmware(str(served), 8000)
        appliance.served = served
        set_password(appliance)
        yield appliance
    finally:
        kept = TREE / "out" / "vm" / "test_firmware_update"  # the whole story, for a failure
        kept.mkdir(parents=True, exist_ok=True)
        (kept / "console.log").write_bytes(appliance.transcript.getvalue())
        appliance.close()


def api(box, method: str, path: str, body=None, password: str = PASSWORD):
    """One logged-in call from the host through the UI forward; returns the JSON answer."""
    import http.cookiejar

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
        http.cookiejar.CookieJar()))  # fmt: skip

    def call(m, p, b=None, token=None):
        data = json.dumps(b).encode() if b is not None else None
        req = urllib.request.Request(box.session.ui_url.rstrip("/") + p, data=data, method=m)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-CSRF-Token", token)
        with opener.open(req, timeout=20) as reply:
            return json.load(reply)

    login = call("POST", "/api/v1/session", {"username": "admin", "password": password})
    return login if path is None else call(method, path, body, login["csrf_token"])


def set_password(box) -> None:
    """The factory login demands a new password before anything else."""
    login = api(box, "POST", None, password="admin")
    if login.get("must_change_password"):
        import http.cookiejar

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
            http.cookiejar.CookieJar()))  # fmt: skip
        base = box.session.ui_url.rstrip("/")

        def call(m, p, b, token=None):
            req = urllib.request.Request(base + p, data=json.dumps(b).encode(), method=m)
            req.add_header("Content-Type", "application/json")
            if token:
                req.add_header("X-CSRF-Token", token)
            with opener.open(req, timeout=20) as reply:
                return json.load(reply)

        first = call("POST", "/api/v1/session", {"username": "admin", "password": "admin"})
        call(
            "PUT",
            "/api/v1/system/password",
            {"current_password": "admin", "new_password": PASSWORD, "confirm_password": PASSWORD},
            first["csrf_token"],
        )
        box.console.check("routerctl save")


def wait_committed(box, timeout: float = 120) -> dict:
    """After a reboot: the health check runs in the background; wait for its verdict."""
    deadline = time.monotonic() + timeout
    while True:
        out = box.console.check("routerctl firmware status --json", 30)
        status = json.loads(out)
        if status["state"] not in ("installed", "trial"):
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"no commit within {timeout} s: {status['state']} {status['reason']}")
        time.sleep(2)


def printenv(box) -> dict[str, str]:
    out = box.console.check("fw_printenv")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def running(box) -> tuple[str, str]:
    cmdline = box.console.check("cat /proc/cmdline")
    slot = [w.split("=")[1] for w in cmdline.split() if w.startswith("natbox.slot=")]
    return slot[0], box.console.check("cat /etc/natbox/version")


def story(status: dict, since: int) -> list[str]:
    return [h["state"] for h in status["history"][since:]]


def test_update_through_the_api_with_natbox_flash_keeps_the_settings(box, firmware):
    assert running(box) == ("A", OLD)
    box.console.check("routerctl hostname kept-box && routerctl save")
    before = len(json.loads(box.console.check("routerctl firmware status --json"))["history"])
    flash = subprocess.Popen(
        [sys.executable, "-c", "import sys; from natbox.cli import main; sys.exit(main())",
         "flash", str(firmware[NEW]), "--url", box.session.ui_url, "--password", PASSWORD,
         "--timeout", "400"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=TREE,
    )  # fmt: skip
    try:
        box.expect_reboot(timeout=300)  # the device reboots itself into slot B
        out, _ = flash.communicate(timeout=400)
    finally:
        if flash.poll() is None:
            flash.kill()
    assert flash.returncode == 0, out
    assert f"committed: {NEW} running from slot B (was {OLD})" in out
    status = wait_committed(box)
    assert running(box) == ("B", NEW)
    env = printenv(box)
    assert env["BOOT_ORDER"] == "B A" and env["SLOT_B_STATE"] == "good"
    assert env["SLOT_B_VERSION"] == NEW and env["BOOT_B_LEFT"] == "3"
    assert env["SLOT_A_STATE"] == "good" and env["SLOT_A_VERSION"] == OLD  # the way back
    assert box.console.check("routerctl hostname").strip().endswith("kept-box")
    assert story(status, before) == ["received", "verified", "writing", "installed", "trial",
                                     "committed"]  # fmt: skip
    log = box.console.check("logread | grep natbox-update || true")
    assert "trial" in log and "committed" in log


def test_manual_rollback_from_routerctl(box):
    box.console.child.sendline("routerctl firmware rollback")
    box.expect_reboot(timeout=300)
    status = wait_committed(box)
    assert running(box) == ("A", OLD)
    env = printenv(box)
    assert env["BOOT_ORDER"] == "A B" and env["SLOT_B_STATE"] == "good"
    assert status["state"] == "rolled back" and status["reason"] == "manual rollback"


def test_update_from_the_lab_server_can_reset_the_settings(box):
    url = box.server_url
    out, code = box.console.run(f"routerctl firmware server-check {url}", 60)
    assert code == 0 and NEW in out, out
    box.console.child.sendline(f"routerctl firmware server-install {url} --no-keep-settings")
    box.expect_reboot(timeout=300)
    status = wait_committed(box)
    assert status["state"] == "committed", status
    assert running(box) == ("B", NEW)
    # Factory settings: the hostname is the factory one again.
    assert box.console.check("routerctl hostname").strip().endswith("natbox")
    assert status["update"]["keep_settings"] is False
    set_password(box)  # the factory password came back with the factory settings


def test_a_downgrade_is_refused_then_forced_and_logged(box, firmware):
    shutil.copyfile(firmware[OLD], box.served / "old.fw")
    box.console.check(f"wget -q -O /tmp/old.fw http://{N.SERVERS[0]}:8000/old.fw", 120)
    out, code = box.console.run("routerctl firmware install /tmp/old.fw", 120)
    assert code == 1 and "downgrade" in out, out
    env = printenv(box)
    assert env["SLOT_A_STATE"] == "good" and env["BOOT_ORDER"] == "B A"  # nothing written
    box.console.child.sendline("routerctl firmware install /tmp/old.fw --force")
    box.expect_reboot(timeout=300)
    status = wait_committed(box)
    assert status["state"] == "committed" and status["update"]["forced"] is True
    assert running(box) == ("A", OLD)
    assert any("forced" in h["detail"] for h in status["history"])


def test_update_through_the_web_ui_in_chromium(box, firmware):
    """The Firmware page on the real appliance: upload with every check shown, install, the
    wait across the reboot, and the outcome after logging in again."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from chromium import OUT, chromium_page, shot

    expect, base = sync_api.expect, box.session.ui_url.rstrip("/")
    assert running(box) == ("A", OLD)
    screenshots = OUT / "screenshots-appliance"
    login = re.compile(re.escape(base) + r"/login\?next=(/|%2F)firmware$")
    with chromium_page() as page:
        page.goto(base + "/firmware")
        expect(page).to_have_url(login)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/firmware")
        page.set_input_files("#fw-upload input[type=file]", str(firmware[NEW]))
        page.click("#fw-upload button[type=submit]")
        expect(page.locator("#fw-verdict")).to_contain_text(f"ready to install {NEW}",
                                                            timeout=180_000)  # fmt: skip
        expect(page.locator("#fw-checks tr.check-fail")).to_have_count(0)
        shot(page, screenshots, "checked")
        page.click("#fw-install")
        expect(page.locator("#fw-phase")).to_contain_text("Rebooting: waiting for the router",
                                                          timeout=180_000)  # fmt: skip
        box.expect_reboot(timeout=300)
        status = wait_committed(box)
        expect(page).to_have_url(login, timeout=180_000)  # the reboot logged everyone out
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        outcome = f"Update committed: running {NEW} from slot B (previous version {OLD})"
        expect(page.locator("#fw-outcome")).to_contain_text(outcome, timeout=60_000)
        shot(page, screenshots, "committed")
    assert status["state"] == "committed" and running(box) == ("B", NEW)
    assert printenv(box)["SLOT_B_STATE"] == "good"
    received = [h for h in status["history"] if h["state"] == "received"]
    assert "from web UI" in received[-1]["detail"]
