"""The Firmware page on a fake device: the slots, the journal and its history, the checks of
the file waiting to be installed, the rollback button and the outcome banner, all rendered by
the server (reading needs no script); the actions' script is a static file (the CSP allows no
inline script), driven end to end in Chromium against a fake reboot."""

from __future__ import annotations

import dataclasses
import re
import threading

import pytest
from firmware_fakes import NEWER, RUNNING, fake_router, firmware_app, jobs, stranger_firmware
from webui_clients import PASSWORD, ApiClient, Browser, form_token

from router.update import journal, slots

pytestmark = pytest.mark.unit

RAW = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def router(tmp_path):
    return fake_router(tmp_path / "device")


@pytest.fixture
def app(config_path, clock, router):
    return firmware_app(config_path, clock, router.service)


@pytest.fixture
def browser(app):
    b = Browser(app.test_client())
    assert b.login().status_code == 302
    return b


@pytest.fixture
def api(app):
    a = ApiClient(app.test_client())
    assert a.login().status_code == 200
    return a


def page(browser) -> str:
    response = browser.get("/firmware")
    assert response.status_code == 200
    return response.text


def rows(html: str, table: str) -> list[list[str]]:
    """The cells of a table's rows (header left out), tags stripped."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S).group(1)
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        found.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in cells])
    return found


def test_the_page_shows_both_slots(browser):
    html = page(browser)
    assert f"Running version <strong>{RUNNING}</strong> from slot <strong>A</strong>" in html
    assert rows(html, "fw-slots") == [
        ["A", RUNNING, "good", "3", "yes, running"],
        ["B", "(empty)", "empty", "0", "no"],
    ]
    assert rows(html, "fw-history") == [["No update yet."]]
    assert "Roll back" not in html  # slot B holds nothing to go back to


def test_the_history_is_newest_first_and_the_checks_are_shown(browser, api, router):
    api.call("POST", "/firmware/upload", data=router.firmware(), headers=RAW)
    html = page(browser)
    assert [r[1] for r in rows(html, "fw-history")] == ["verified", "received"]
    assert "State <strong" in html and ">verified</strong>" in html
    checks = rows(html, "fw-checks")
    assert [c[0] for c in checks][:3] == ["format", "signature", "board"]
    assert {c[1] for c in checks} == {"pass"}
    assert f"ready to install {NEWER}" in html
    assert re.search(r'<button type="button" id="fw-install">Install</button>', html)


def test_a_refused_file_shows_the_failed_check_and_no_install(browser, api, router):
    api.call("POST", "/firmware/upload", data=stranger_firmware(), headers=RAW)
    html = page(browser)
    failed = [c for c in rows(html, "fw-checks") if c[1] == "fail"]
    assert [c[0] for c in failed] == ["signature"] and "not in the keyring" in failed[0][2]
    assert '<tr class="check-fail"><td>signature</td>' in html
    assert re.search(r'id="fw-install" disabled>Install', html)
    assert 'class="flash error"' in html and "Update failed: signature: key" in html


def test_an_install_in_progress_is_followed(browser, api, app, router):
    api.call("POST", "/firmware/upload", data=router.firmware(), headers=RAW)
    api.call("POST", "/firmware/install", json={})
    jobs(app).join(timeout=30)
    html = page(browser)
    assert 'data-follow="yes"' in html  # the script polls until the reboot and after
    assert f"Installed {NEWER} in slot B; the router reboots into it." in html
    assert rows(html, "fw-slots")[1] == ["B", NEWER, "trial", "3", "no"]
    assert 'id="fw-check" hidden' in html  # the file is installed: no checks to act on


@pytest.mark.parametrize(
    ("moves", "banner"),
    [
        ((journal.TRIAL, journal.COMMITTED), f"Update committed: running {RUNNING} from slot A "
                                             f"(previous version {RUNNING})."),
        ((journal.TRIAL, journal.ROLLED_BACK), "Rolled back: running 0.0.9 from slot A (previous "
                                               "version 0.0.9). Reason: health check failed."),
    ],
)  # fmt: skip
def test_the_outcome_is_shown_with_the_previous_version(browser, api, app, router, moves, banner):
    """What the new firmware's health check (or the bootloader's return) leaves in the journal;
    the fake device keeps running the same version, so "previous" reads the same here."""
    api.call("POST", "/firmware/upload", data=router.firmware(), headers=RAW)
    api.call("POST", "/firmware/install", json={})
    jobs(app).join(timeout=30)
    for state in moves:
        router.service.journal.move(state, "", reason="health check failed")
    html = page(browser)
    assert banner in html
    assert 'data-follow=""' in html


def test_an_interrupted_write_is_said_and_not_followed(browser, api, router):
    """The journal says "writing" but nobody holds the lock: the writer died (a UI restart)."""
    api.call("POST", "/firmware/upload", data=router.firmware(), headers=RAW)
    router.service.journal.move(journal.WRITING, "slot B: 600 bytes", update={"slot": "B"})
    html = page(browser)
    assert f"Writing {NEWER} in slot B was interrupted" in html
    assert 'data-follow=""' in html


def test_rollback_button_when_the_other_slot_is_good(browser, router):
    router.put_in_slot("B", router.firmware())
    html = page(browser)
    assert f"Roll back to slot B ({NEWER})" in html
    assert 'id="fw-rollback"' in html and 'data-slot="B"' in html


def test_the_script_is_a_static_file_and_nothing_inline(browser, app):
    html = page(browser)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts == [(' src="/static/firmware.js"', "")]
    assert not re.search(r"\s(style|on[a-z]+)=", html)  # no inline style or handler either
    assert form_token(html) == browser.token  # what the script sends as X-CSRF-Token
    script = browser.get("/static/firmware.js")
    assert script.status_code == 200 and "XMLHttpRequest" in script.text
    for element in ("fw-upload", "fw-checks", "fw-install", "fw-progress", "fw-server"):
        assert f'id="{element}"' in html and f'"{element}"' in script.text


def test_without_an_update_service_the_page_shows_the_version(config_path, clock):
    app = firmware_app(config_path, clock, None)
    browser = Browser(app.test_client())
    browser.login()
    html = page(browser)
    assert "slot <strong>A</strong>" in html and "(empty)" in html
    assert "Firmware updates need the device" in html
    assert "firmware.js" not in html and 'id="fw-upload"' not in html


def test_the_status_page_reports_the_booted_slot_of_the_service(tmp_path):
    """On the device the Status page's firmware line comes from the update service too."""
    from webui.backend import slots_firmware

    router = fake_router(tmp_path / "b")
    router.put_in_slot("B", router.firmware())
    firmware = slots_firmware(router.service.status())
    assert firmware == {
        "version": RUNNING,
        "active_slot": "A",
        "slots": [
            {"name": "A", "version": RUNNING, "active": True},
            {"name": "B", "version": NEWER, "active": False},
        ],
    }


# -- the script, in a real browser ------------------------------------------------------------


class RebootingDevice:
    """WSGI in front of the app, and the fake device's reboot: the router is away a moment
    (503), then back running slot B with every session gone, as after a real reboot; after an
    install the new firmware's health check commits it a moment later."""

    def __init__(self, app, router, away: float = 3.0):
        self.app, self.router, self.away = app, router, away
        self.down = threading.Event()
        router.service.reboot = self.reboot

    def __call__(self, environ, start_response):
        if self.down.is_set():
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"rebooting"]
        return self.app(environ, start_response)

    def reboot(self) -> None:
        self.down.set()
        threading.Timer(self.away, self.boot).start()

    def boot(self) -> None:
        service = self.router.service
        service.device = dataclasses.replace(service.device, booted="B", version=NEWER)
        self.app.extensions["natbox"].sessions.end_others(keep=None)
        installed = service.journal.state == journal.INSTALLED
        if installed:
            service.journal.move(journal.TRIAL, "booted slot B")
        self.down.clear()
        if installed:
            threading.Timer(1.0, self.health_check_passes).start()

    def health_check_passes(self) -> None:
        service = self.router.service
        service.device.env.save(slots.mark_good(service.environment(), "B"))
        service.journal.move(journal.COMMITTED, "health check passed")


@pytest.fixture
def served(app, router):
    """The app on a free port of 127.0.0.1, in a thread of this process (the fake device's
    files and reboot stay in reach)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, RebootingDevice(app, router), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def log_in(page, expect, base: str) -> None:
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login\?next=(/|%2F)firmware$"))
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/firmware")


def test_upload_check_install_and_follow_to_the_outcome_in_chromium(served, router):
    sync_api = pytest.importorskip("playwright.sync_api")
    from chromium import OUT, chromium_page, shot

    expect, screenshots = sync_api.expect, OUT / "screenshots"
    fw_file = {"name": "natbox-0.1.0.fw", "mimeType": "application/octet-stream"}
    choose = "#fw-upload input[type=file]"
    with chromium_page() as page:
        page.goto(served + "/firmware")
        log_in(page, expect, served)

        page.set_input_files(choose, {**fw_file, "buffer": stranger_firmware()})
        page.click("#fw-upload button[type=submit]")
        expect(page.locator("#fw-verdict")).to_contain_text("Refused: a check failed")
        expect(page.locator("#fw-checks tr.check-fail")).to_have_count(1)
        expect(page.locator("#fw-checks tr.check-fail")).to_contain_text("signature")
        expect(page.locator("#fw-install")).to_be_disabled()
        assert router.slot_bytes("B") == bytes(len(router.slot_bytes("B")))

        data = router.firmware()
        page.set_input_files(choose, {**fw_file, "buffer": data})
        page.click("#fw-upload button[type=submit]")
        expect(page.locator("#fw-verdict")).to_contain_text(f"ready to install {NEWER}")
        expect(page.locator("#fw-checks tr.check-pass")).to_have_count(8)
        first = page.locator("#fw-checks tr.check-pass td:first-child").all_inner_texts()[:3]
        assert first == ["format", "signature", "board"]  # in the order they run
        shot(page, screenshots, "firmware-checked")
        assert router.slot_bytes("B", len(data)) != data  # checked, not written

        page.click("#fw-install")
        expect(page.locator("#fw-message")).to_contain_text(
            f"Installing {NEWER} into slot B (now running {RUNNING})"
        )
        expect(page.locator("#fw-phase")).to_contain_text("Rebooting: waiting for the router")
        shot(page, screenshots, "firmware-rebooting")
        log_in(page, expect, served)  # back: the reboot logged everyone out
        outcome = f"Update committed: running {NEWER} from slot B (previous version {RUNNING})"
        expect(page.locator("#fw-outcome")).to_contain_text(outcome)
        shot(page, screenshots, "firmware-committed")
    assert router.slot_bytes("B", len(data)) == data
    received = [e for e in router.service.status()["history"] if e["state"] == "received"]
    assert "from web UI" in received[-1]["detail"]  # the page's upload, labelled as such


def test_update_server_check_and_rollback_in_chromium(served, router, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    from chromium import chromium_page

    from router.update import server as update_server

    offer = {"available": False, "version": NEWER, "url": "http://updates.test/natbox.fw",
             "sha256": "0" * 64, "size": 600, "running_version": RUNNING}  # fmt: skip
    monkeypatch.setattr(update_server, "check", lambda url, running_version: dict(offer))
    router.put_in_slot("B", router.firmware())
    expect = sync_api.expect
    with chromium_page() as page:
        page.goto(served + "/firmware")
        log_in(page, expect, served)

        page.fill("#fw-server input[name=url]", "http://updates.test/")
        page.click("#fw-server button[type=submit]")
        expect(page.locator("#fw-offer-text")).to_have_text(
            f"Nothing newer: the server offers {NEWER}, running {RUNNING}."
        )
        expect(page.locator("#fw-server-install")).to_be_hidden()
        offer["available"] = True
        page.click("#fw-server button[type=submit]")
        expect(page.locator("#fw-server-install")).to_have_text(f"Install {NEWER}")
        expect(page.locator("#fw-server-install")).to_be_visible()

        asked = []
        page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.click(f"text=Roll back to slot B ({NEWER})")
        expect(page.locator("#fw-phase")).to_contain_text("Rebooting: waiting for the router")
        assert asked == ["Boot slot B and reboot now?"]
        log_in(page, expect, served)
        expect(page.locator("#fw-outcome")).to_contain_text(
            f"Rolled back: running {NEWER} from slot B (previous version {RUNNING}). "
            "Reason: manual rollback."
        )
    assert router.env()["BOOT_ORDER"] == "B A"
