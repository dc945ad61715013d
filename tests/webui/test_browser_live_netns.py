"""End to end against a RUNNING ROUTER: a netns lab with the real datapath daemon and the web
UI (live backend) next to it in the router's namespace, reached by Debian's Chromium through
the lab's 127.0.0.1 forward. Log in, change the factory password, enable PPTP passthrough,
save, and see it applied in the datapath: a LAN client's TCP connection to a WAN server's port
1723 is dropped before (counted as pptp_disabled) and gets through after. A screenshot of every
page is kept in out/screenshots-live/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from chromium import OUT, PAGES, chromium_page, enable_pptp, log_in_and_change_password, shot
from playwright import sync_api

from natbox.lab import names as N
from natbox.lab.lab import Lab, LabOptions
from natbox.lab.netns import exec_args

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="the netns tier needs root"),
]
SCREENSHOTS = OUT / "screenshots-live"
PPTP = 1723


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_lab():
    port = free_port()
    lab = Lab(f"w{N.new_id()}", LabOptions(clients=1, ui=True, ui_port=port)).up()
    try:
        yield lab, f"http://127.0.0.1:{port}"
    finally:
        lab.down()


@pytest.fixture
def pptp_server(live_lab):
    """A TCP listener on port 1723 in the internet namespace (all its server addresses)."""
    lab, _ = live_lab
    command = exec_args(lab.names.internet, sys.executable, "-m", "natbox.lab.probe",
                        "listen", "tcp", str(PPTP), "--timeout", "120")  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(process.stdout.readline())["listening"]
        yield process
    finally:
        if process.poll() is None:
            process.kill()  # by its own PID; lab.down() removes the namespace around it
        process.wait(timeout=10)


@pytest.fixture
def page():
    with chromium_page() as page:
        yield page


def connect_pptp(lab: Lab) -> dict:
    """From LAN client 1 to server 1, TCP 1723, through the datapath."""
    return lab.python(lab.names.client(1), "natbox.lab.probe", "tcp", N.SERVERS[0], str(PPTP),
                      "--message", "hello", "--timeout", "3")  # fmt: skip


def test_enable_pptp_in_the_browser_reaches_the_datapath(live_lab, pptp_server, page):
    lab, base = live_lab
    expect = sync_api.expect
    log_in_and_change_password(page, base, SCREENSHOTS)

    # Before: PPTP passthrough is off by default, so the datapath drops TCP 1723.
    assert connect_pptp(lab)["ok"] is False
    assert lab.ctl("counters")["engine"].get("pptp_disabled", 0) > 0
    page.goto(base + "/")
    expect(page.locator("[data-counter=pptp_disabled]")).not_to_have_text("0")
    shot(page, SCREENSHOTS, "status-before")

    enable_pptp(page, base, SCREENSHOTS)
    with open(lab.config_path) as f:  # one file: what the daemon reloaded
        assert json.load(f)["nat"]["helpers"]["pptp"] is True

    # After: the same connection gets through the router to the server.
    after = connect_pptp(lab)
    assert after["ok"] is True and after["data"].startswith("hello from"), after
    out, _ = pptp_server.communicate(timeout=30)
    received = json.loads(out.strip().splitlines()[-1])
    assert received["received"] and received["from"].startswith(N.ROUTER_WAN + ":")

    for name, path in PAGES.items():
        page.goto(base + path)
        expect(page.locator("h1")).to_be_visible()
        if name == "status":
            expect(page.locator("body")).to_contain_text(N.client_address(1))  # DHCP lease
        if name == "connections":
            expect(page.locator("body")).to_contain_text(f"{N.SERVERS[0]}:{PPTP}")
        if name == "monitor":
            expect(page.locator("body")).to_contain_text("vpn_session_refused")
        shot(page, SCREENSHOTS, name)

    page.click("text=Log out admin")
    expect(page).to_have_url(base + "/login")
