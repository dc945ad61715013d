"""End to end in a real browser: Debian's Chromium (headless, driven by Playwright, no browser
download) against the UI served by waitress in its own process, backed by the in-process
engine. Log in, change the factory password, enable PPTP passthrough, save, and check the
engine now forwards TCP 1723. A screenshot of every page is kept in out/screenshots/."""

from __future__ import annotations

import json
import subprocess
import sys

import chromium
import pytest
from chromium import OUT, PAGES, chromium_page, enable_pptp, log_in_and_change_password
from playwright import sync_api

SCREENSHOTS = OUT / "screenshots"


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
    with chromium_page() as page:
        yield page


def shot(page, name: str) -> None:
    chromium.shot(page, SCREENSHOTS, name)


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
    log_in_and_change_password(page, router, SCREENSHOTS)

    assert probe_pptp(page, router, 41000) == {"verdict": "dropped", "reason": "pptp_disabled"}
    enable_pptp(page, router, SCREENSHOTS)
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
