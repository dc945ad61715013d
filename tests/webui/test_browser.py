"""End to end in a real browser: Debian's Chromium (headless, driven by Playwright, no browser
download) against the UI served by waitress in its own process, backed by the in-process
engine. Log in, change the factory password, enable PPTP passthrough, save, and check the
engine now forwards TCP 1723. A screenshot of every page is kept in out/screenshots/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright import sync_api

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
NEW_PASSWORD = "lab-router-pw-1"
PAGES = {
    "status": "/",
    "passthrough": "/passthrough",
    "nat": "/nat",
    "connections": "/connections",
    "monitor": "/monitor",
    "system": "/system",
    "firmware": "/firmware",
}


@pytest.fixture
def router(tmp_path):
    """The UI under waitress on a free port of 127.0.0.1, with sample traffic fed in."""
    config = str(tmp_path / "config.json")
    process = subprocess.Popen(
        [sys.executable, "-m", "webui.serve", "--port", "0", "--demo", "--config", config],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: run scripts/host-setup.sh (webui/apt-packages.txt)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            browser.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def probe_pptp(page, base: str, sport: int) -> dict:
    """Push a TCP SYN to port 1723 through the router's engine, as the logged-in user."""
    token = page.request.get(f"{base}/api/v1/session").json()["csrf_token"]
    response = page.request.post(
        f"{base}/api/v1/diagnostics/probe",
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
        data=json.dumps(
            {"proto": "tcp", "src": "192.168.1.10", "sport": sport, "dst": "198.51.100.9"}
            | {"dport": 1723}
        ),
    )
    assert response.status == 200
    return response.json()


def test_login_change_password_enable_pptp(router, page):
    expect = sync_api.expect
    page.goto(router + "/")
    expect(page).to_have_url(router + "/login?next=/")
    shot(page, "login")

    page.fill("input[name=password]", "admin")
    page.click("button[type=submit]")
    expect(page).to_have_url(router + "/password")
    expect(page.locator(".flash.warn")).to_contain_text("factory password")
    shot(page, "change-password")
    page.fill("input[name=current_password]", "admin")
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=confirm_password]", NEW_PASSWORD)
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(router + "/")
    expect(page.locator(".flash.ok")).to_contain_text("Password changed")

    assert probe_pptp(page, router, 41000) == {"verdict": "dropped", "reason": "pptp_disabled"}
    page.goto(router + "/passthrough")
    expect(page.locator("#helper-pptp")).not_to_be_checked()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.check("#helper-pptp")
    assert dialogs and "very low" in dialogs[0]  # the warning before enabling PPTP
    page.click("#save")
    expect(page.locator(".flash.warn")).to_contain_text("PPTP passthrough is now on")
    expect(page.locator("#helper-pptp")).to_be_checked()
    shot(page, "passthrough-saved")
    assert probe_pptp(page, router, 41001)["verdict"] == "forwarded"  # applied in the engine

    for name, path in PAGES.items():
        page.goto(router + path)
        expect(page.locator("h1")).to_be_visible()
        if name == "monitor":
            expect(page.locator("tr.anomaly").first).to_be_visible()  # unusual activity
        shot(page, name)

    page.goto(router + "/system")
    page.click("text=Reboot now")
    expect(page.locator("#restarting")).to_contain_text("restarting")
    shot(page, "restarting")
    page.wait_for_url(router + "/")  # the page comes back by itself
    page.goto(router + "/passthrough")
    expect(page.locator("#helper-pptp")).to_be_checked()  # stored, so it survived the reboot

    page.click("text=Log out admin")
    expect(page).to_have_url(router + "/login")
