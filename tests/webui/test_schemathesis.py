"""schemathesis against the running UI (waitress, in-process backend), logged in and with the
CSRF header, every check on: the API answers what its document says, for valid and invalid
input alike. The configuration's schemas are made from the model's own rules (nat/rules.py),
so schema-valid data is refused only where no schema can say it (an address inside the
current LAN, a pool that ends after it starts): a 422 naming the field is the one accepted
refusal of schema-valid data."""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# Operations that end the session or the configuration under test: they are exercised by
# test_api.py; here they would log the fuzzer out halfway.
EXCLUDED_PATHS = ("/session", "/system/password", "/system/factory-reset", "/system/reboot")
# The firmware update routes answer 501 without a device (their own tests use a fake one:
# test_firmware_api.py); GET /firmware stays in.
EXCLUDED_PATHS += tuple(
    f"/firmware/{route}"
    for route in ("upload", "install", "rollback", "server/check", "server/install")
)
PASSWORD = "st-Pa55word-1"
CONFIG = """
[auth.openapi.session]
api_key = "${NATBOX_SESSION}"

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (the document needs a login)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def log_in(base: str, document: Path) -> tuple[str, str]:
    """The factory login, the forced password change, a fresh session: (cookie, token); the
    API's document is saved to ``document`` on the way (reading it needs the login)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(path: str, body: dict, token: str | None = None) -> dict:
        method = "PUT" if path == "/system/password" else "POST"
        request = urllib.request.Request(base + path, json.dumps(body).encode(), method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("X-CSRF-Token", token)
        with opener.open(request, timeout=10) as reply:
            return json.load(reply)

    first = call("/session", {"username": "admin", "password": "admin"})
    change = {"current_password": "admin", "new_password": PASSWORD, "confirm_password": PASSWORD}
    call("/system/password", change, first["csrf_token"])
    session = call("/session", {"username": "admin", "password": PASSWORD})
    with opener.open(base + "/openapi.json", timeout=10) as reply:
        document.write_bytes(reply.read())
    cookie = next(c for c in jar if c.name == "natbox_session")
    return cookie.value, session["csrf_token"]


@pytest.fixture
def running_ui(tmp_path: Path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "webui.serve", "--port", str(port),
         "--config", str(tmp_path / "config.json")],
        stdout=open(tmp_path / "ui.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_for(base + "/openapi.json")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_api_keeps_its_document_under_schemathesis(running_ui, tmp_path):
    document = tmp_path / "openapi.json"
    cookie, token = log_in(running_ui, document)
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    command = shutil.which("schemathesis", path=os.path.dirname(sys.executable))
    assert command, "schemathesis is a test dependency (pyproject.toml)"
    excluded = [arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)]
    result = subprocess.run(
        [command, "--config-file", str(tmp_path / "schemathesis.toml"), "run",
         str(document), "--url", running_ui, "--checks", "all", "--max-examples", "6",
         "--seed", "1", "-H", f"X-CSRF-Token: {token}", *excluded],
        env={**os.environ, "NATBOX_SESSION": cookie},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Failures:" not in result.stdout and "passed" in result.stdout
