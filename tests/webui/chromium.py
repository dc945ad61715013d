"""What both browser tests share: Debian's Chromium under Playwright, pages, screenshots."""

from __future__ import annotations

from contextlib import contextmanager
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
OUT = Path(__file__).resolve().parents[2] / "out"
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


@contextmanager
def chromium_page():
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


def shot(page, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def log_in_and_change_password(page, base: str, screenshots: Path) -> None:
    """The factory login, then the forced password change (as the issue asks)."""
    expect = sync_api.expect
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login?next=/")
    shot(page, screenshots, "login")
    page.fill("input[name=password]", "admin")
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/password")
    expect(page.locator(".flash.warn")).to_contain_text("factory password")
    shot(page, screenshots, "change-password")
    page.fill("input[name=current_password]", "admin")
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=confirm_password]", NEW_PASSWORD)
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(base + "/")
    expect(page.locator(".flash.ok")).to_contain_text("Password changed")


def enable_pptp(page, base: str, screenshots: Path) -> None:
    """Tick PPTP (accepting the security warning) and Save & Apply."""
    expect = sync_api.expect
    page.goto(base + "/passthrough")
    expect(page.locator("#helper-pptp")).not_to_be_checked()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.check("#helper-pptp")
    assert dialogs and "very low" in dialogs[0]  # the warning before enabling PPTP
    page.click("#save")
    expect(page.locator(".flash.warn")).to_contain_text("PPTP passthrough is now on")
    expect(page.locator("#helper-pptp")).to_be_checked()
    shot(page, screenshots, "passthrough-saved")
