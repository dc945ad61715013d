"""`natbox flash` against a fake appliance API on 127.0.0.1: the login with its cookie and CSRF
token, the upload's checks, the install, the states as they come, a reboot during which the
port refuses connections and after which the old session is gone, and the end states."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from natbox import cli
from natbox.firmware import flash

pytestmark = pytest.mark.unit

PASSWORD = "correct horse"
CHECKS = {
    "format": {"status": "pass", "detail": "natbox firmware, format 1"},
    "signature": {"status": "pass", "detail": "Ed25519 key 1234abcd"},
    "version": {"status": "pass", "detail": "0.1.0 -> 0.2.0"},
}
GOOD = {
    "valid": True,
    "forceable": False,
    "keep_settings_possible": True,
    "version": "0.2.0",
    "checks": CHECKS,
}
DOWNGRADE = {
    **GOOD,
    "valid": False,
    "forceable": True,
    "version": "0.0.9",
    "checks": {
        **CHECKS,
        "version": {"status": "fail", "detail": "downgrade to 0.0.9 (running 0.1.0) refused"},
    },
}
# After the install, one snapshot per look at GET /api/v1/firmware; "reboot" goes down after
# answering. The last snapshot stays.
WRITE = [
    {"state": "writing", "detail": "slot B: 1000 bytes", "progress": (100, 1000)},
    {"progress": (350, 1000)},
    {"progress": (370, 1000)},
    {"progress": (1000, 1000)},
    {"state": "installed", "detail": "slot B holds 0.2.0 (read back, equal)", "reboot": True},
]
BOOTED_B = {"running_version": "0.2.0", "booted_slot": "B", "progress": None}
COMMIT = [
    *WRITE,
    {"state": "trial", "detail": "booted 0.2.0 from slot B; health check", **BOOTED_B},
    {"state": "committed", "detail": "health check passed"},
]
ROLLBACK = [
    *WRITE,
    {"state": "trial", "detail": "booted 0.2.0 from slot B; health check", **BOOTED_B},
    {
        "state": "rolled back",
        "detail": "slot B spent its attempts",
        "reason": "health check failed: the web UI did not answer",
        "running_version": "0.1.0",
        "booted_slot": "A",
    },
]


class FakeRouter:
    """The appliance's /api/v1 as `natbox flash` uses it (webui.api and webui.security's rules:
    session cookie, X-CSRF-Token on POST, 403 on the password field while the factory password
    is in effect), with a scripted update behind it."""

    def __init__(self, script: list[dict[str, Any]], verdict: dict[str, Any] = GOOD):
        self.script, self.verdict = list(script), verdict
        self.user, self.password, self.must_change = "admin", PASSWORD, False
        self.factory_after_reboot = False
        self.status_while_factory = False
        self.down_s: float | None = 0.4  # None: never comes back
        self.sessions: dict[str, str] = {}
        self.seen: list[tuple[str, str]] = []
        self.logins: list[tuple[str, str]] = []
        self.uploads: list[tuple[dict[str, list[str]], str]] = []
        self.installs: list[dict[str, Any]] = []
        self.install_answer: tuple[int, dict[str, Any]] = (202, {"installing": True})
        self.following = False
        self.lock = threading.Lock()
        self.status: dict[str, Any] = {
            "state": "committed",
            "reason": "",
            "progress": None,
            "running_version": "0.1.0",
            "booted_slot": "A",
            "slots": {"A": {"state": "good"}, "B": {"state": "good"}},
            "update": {},
            "history": [{"time": 1, "state": "committed", "detail": "an update long ago"}],
        }
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.rebooting: threading.Thread | None = None
        self.down = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        router = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                router.handle(self)

            def do_POST(self) -> None:
                router.handle(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.down = False
        server = self.server
        threading.Thread(target=lambda: server.serve_forever(0.05), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def reboot(self) -> None:
        """The port closes (connections refused), the sessions are gone, the port opens."""
        self.stop()
        if self.down_s is None:
            return
        time.sleep(self.down_s)
        self.sessions.clear()
        if self.factory_after_reboot:
            self.password, self.must_change = "admin", True
        self.start()

    # -- the routes -------------------------------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.seen.append((h.command, url.path))
        with self.lock:
            if self.down:  # going down: the connection drops without an answer
                h.close_connection = True
                return
            status, answer, reboot = self.route(h, url.path, parse_qs(url.query), body)
            self.down = reboot
        data = json.dumps(answer).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        if "set_cookie" in answer:
            h.send_header("Set-Cookie", answer.pop("set_cookie"))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        if reboot:
            self.rebooting = threading.Thread(target=self.reboot)
            self.rebooting.start()

    def route(self, h, path: str, query, body: bytes) -> tuple[int, dict[str, Any], bool]:
        if h.command == "POST" and path == "/api/v1/session":
            creds = json.loads(body)
            self.logins.append((creds["username"], creds["password"]))
            if (creds["username"], creds["password"]) != (self.user, self.password):
                return 401, _error("wrong user name or password"), False
            sid, csrf = f"sid{len(self.logins)}", f"csrf{len(self.logins)}"
            self.sessions[sid] = csrf
            answer = {"username": self.user, "csrf_token": csrf}
            answer["set_cookie"] = f"natbox_session={sid}; HttpOnly; Path=/; SameSite=Strict"
            return 200, answer, False
        cookie = h.headers.get("Cookie", "")
        sid = cookie.removeprefix("natbox_session=") if cookie.startswith("natbox_") else ""
        if sid not in self.sessions:
            return 401, _error("log in first: POST /api/v1/session"), False
        if h.command == "POST" and h.headers.get("X-CSRF-Token") != self.sessions[sid]:
            return 403, _error("missing or wrong X-CSRF-Token header"), False
        if self.must_change and not (self.status_while_factory and h.command == "GET"):
            return 403, _error("change the default password first", "password"), False
        if (h.command, path) == ("GET", "/api/v1/firmware"):
            return (200, *self.look())
        if (h.command, path) == ("POST", "/api/v1/firmware/upload"):
            assert h.headers["Content-Type"] == "application/octet-stream"
            sha = hashlib.sha256(body).hexdigest()
            self.uploads.append((query, sha))
            self.move("received", f"{len(body)} bytes", update={"sha256": sha})
            if self.verdict["valid"]:
                self.move("verified", "version 0.2.0: every check passed")
            else:
                self.move("failed", "refused", reason="version: downgrade")
            return 200, {"sha256": sha, "verdict": self.verdict}, False
        if (h.command, path) == ("POST", "/api/v1/firmware/install"):
            assert h.headers["Content-Type"] == "application/json"
            self.installs.append(json.loads(body))
            self.following = self.install_answer[0] == 202
            return (*self.install_answer, False)
        return 404, _error("no such route"), False

    def move(self, state: str, detail: str, **fields: Any) -> None:
        self.status.update(fields, state=state)
        n = len(self.status["history"]) + 1
        self.status["history"] = [
            *self.status["history"],
            {"time": n, "state": state, "detail": detail},
        ]

    def look(self) -> tuple[dict[str, Any], bool]:
        reboot = False
        if self.following and self.script:
            snap = dict(self.script.pop(0) if len(self.script) > 1 else self.script[0])
            reboot = snap.pop("reboot", False)
            if snap.get("progress"):
                done, total = snap["progress"]
                snap["progress"] = {"phase": "writing", "done": done, "total": total}
            state, detail = snap.pop("state", None), snap.pop("detail", "")
            if state and state != self.status["state"]:
                self.move(state, detail)
            self.status.update(snap)
        return json.loads(json.dumps(self.status)), reboot


def _error(message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"field": field, "message": message}}


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    made: list[FakeRouter] = []

    def make(*args, **kwargs) -> FakeRouter:
        r = FakeRouter(*args, **kwargs)
        r.start()
        made.append(r)
        return r

    yield make
    for r in made:
        if r.rebooting:
            r.rebooting.join(5)
        r.stop()


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch) -> None:
    monkeypatch.setattr(flash, "POLL_S", 0.05)
    monkeypatch.delenv("NATBOX_PASSWORD", raising=False)


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    path = tmp_path / "natbox_x86_64-0.2.0.fw"
    path.write_bytes(b"a firmware, 0.2.0\n" * 500)
    return path


def natbox_flash(capsys, *argv: str) -> tuple[int, list[str], str]:
    rc = cli.main(["flash", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out.splitlines(), err


def test_an_update_through_a_reboot_to_committed(router, firmware: Path, capsys) -> None:
    r = router(COMMIT)
    rc, out, err = natbox_flash(capsys, str(firmware), "--url", r.url, "--password", PASSWORD)
    assert rc == 0, (out, err)
    assert out[-1] == "committed: 0.2.0 running from slot B (was 0.1.0)"
    assert out[0] == f"{r.url}: running 0.1.0 from slot A"
    text = "\n".join(out)
    for check in ("PASS  format", "PASS  signature", "PASS  version"):
        assert check in text
    assert "VALID: version 0.2.0" in out
    # Each state once, in order, from the journal (the old entry is not news).
    states = [line.split(":")[0] for line in out if not line.startswith(" ")]
    story = ["received", "verified", "writing", "installed", "trial", "committed"]
    assert [s for s in states if s in story] == [*story, "committed"]  # the move, the outcome
    assert "an update long ago" not in text
    # Progress at 10% steps: 370 of 1000 is still the 30% step.
    assert [line for line in out if "%" in line] == [
        "  writing  10% (100 of 1000 bytes)",
        "  writing  30% (350 of 1000 bytes)",
        "  writing 100% (1000 of 1000 bytes)",
    ]
    # The reboot: refused connections, then a new login (the old session was gone).
    down = next(i for i, line in enumerate(out) if "does not answer" in line)
    # (refused, or reset by a loaded host's half-started listener: down, either way)
    assert "refused" in out[down].lower() or "reset" in out[down].lower()
    assert out[down + 1 : down + 3] == ["the router answers again", "logged in again"]
    assert r.logins == [("admin", PASSWORD)] * 2
    # What the router was sent.
    ((query, sha),) = r.uploads
    assert sha == hashlib.sha256(firmware.read_bytes()).hexdigest()
    assert (query["keep_settings"], query["force"]) == (["true"], ["false"])
    assert r.installs == [{"keep_settings": True, "force": False}]


def test_a_rollback_ends_in_status_1(router, firmware: Path, capsys) -> None:
    r = router(ROLLBACK)
    rc, out, _ = natbox_flash(capsys, str(firmware), "--url", r.url, "--password", PASSWORD)
    assert rc == 1
    assert out[-1] == (
        "rolled back: 0.1.0 running from slot A; health check failed: the web UI did not answer"
    )
    assert "trial: booted 0.2.0 from slot B; health check" in out


def test_an_invalid_upload_stops_before_the_install(router, firmware: Path, capsys) -> None:
    r = router(COMMIT, verdict=DOWNGRADE)
    rc, out, _ = natbox_flash(capsys, str(firmware), "--url", r.url, "--password", PASSWORD)
    assert rc == 1
    assert "  FAIL  version        downgrade to 0.0.9 (running 0.1.0) refused" in out
    assert "INVALID: version failed" in out
    assert any("--force" in line for line in out)
    assert r.installs == [] and ("POST", "/api/v1/firmware/install") not in r.seen


def test_force_and_reset_are_passed_on_and_an_install_refusal_is_reported(
    router, firmware: Path, capsys
) -> None:
    r = router(COMMIT)
    r.install_answer = (422, {"error": {"message": "refused"}, "verdict": DOWNGRADE})
    argv = [str(firmware), "--url", r.url, "--password", PASSWORD, "--force", "--no-keep-settings"]
    rc, out, err = natbox_flash(capsys, *argv)
    assert rc == 1
    assert "install refused: version failed" in err
    assert any(line.startswith("  FAIL  version") for line in out)
    assert r.installs == [{"keep_settings": False, "force": True}]
    ((query, _),) = r.uploads
    assert (query["keep_settings"], query["force"]) == (["false"], ["true"])


@pytest.mark.parametrize("status_while_factory", [False, True])
def test_after_a_reset_the_factory_login(router, firmware, capsys, status_while_factory) -> None:
    r = router(COMMIT)
    r.factory_after_reboot, r.status_while_factory = True, status_while_factory
    rc, out, err = natbox_flash(
        capsys, str(firmware), "--url", r.url, "--password", PASSWORD, "--no-keep-settings"
    )
    assert r.logins == [("admin", PASSWORD), ("admin", PASSWORD), ("admin", "admin")]
    assert any("factory password" in line for line in out)
    if status_while_factory:  # the router shows the update's state to the factory login
        assert (rc, out[-1]) == (0, "committed: 0.2.0 running from slot B (was 0.1.0)")
    else:  # it answers nothing but a password change: said, and not taken as an outcome
        assert rc == 1
        assert "change the default password first" in err and r.url in err


def test_a_router_that_does_not_come_back_times_out(router, firmware: Path, capsys) -> None:
    r = router(COMMIT)
    r.down_s = None
    argv = [str(firmware), "--url", r.url, "--password", PASSWORD, "--timeout", "1.5"]
    t0 = time.monotonic()
    rc, out, err = natbox_flash(capsys, *argv)
    assert rc == 1
    assert time.monotonic() - t0 < 5
    assert "timed out after 1.5 s; the update was installed" in err
    assert any("does not answer" in line for line in out)


def test_a_wrong_password_and_no_router(router, firmware: Path, capsys) -> None:
    r = router(COMMIT)
    rc, _, err = natbox_flash(capsys, str(firmware), "--url", r.url, "--password", "nope")
    assert rc == 1
    assert "cannot log in as 'admin': wrong user name or password (HTTP 401)" in err
    assert r.uploads == []
    r.stop()
    rc, _, err = natbox_flash(capsys, str(firmware), "--url", r.url, "--password", PASSWORD)
    assert rc == 1 and f"{r.url} does not answer" in err


def test_the_password_comes_from_the_environment(router, firmware, capsys, monkeypatch) -> None:
    r = router(COMMIT)
    monkeypatch.setenv("NATBOX_PASSWORD", PASSWORD)
    rc, _, _ = natbox_flash(capsys, str(firmware), "--url", r.url)
    assert rc == 0 and r.logins[0] == ("admin", PASSWORD)


def test_no_password_and_no_terminal_is_an_argument_error(firmware, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    rc, _, err = natbox_flash(capsys, str(firmware), "--url", "http://127.0.0.1:9")
    assert rc == 2
    assert err.strip().splitlines() == [
        "natbox flash: error: argument --password: not given, no NATBOX_PASSWORD, no terminal"
    ]


BAD = [
    (["/nonexistent/fw.bin", "--url", "http://192.168.1.1"], "file"),
    (["{fw}"], "--url"),
    (["{fw}", "--url", "192.168.1.1"], "--url"),
    (["{fw}", "--url", "ftp://192.168.1.1"], "--url"),
    (["{fw}", "--url", "http://"], "--url"),
    (["{fw}", "--url", "http://192.168.1.1/api/v1"], "--url"),
    (["{fw}", "--url", "http://192.168.1.1:99999"], "--url"),
    (["{fw}", "--url", "http://192.168.1.1:port"], "--url"),
    (["{fw}", "--url", "http://[zz::1]"], "--url"),
    (["{fw}", "--url", "http://a b"], "--url"),
    (["{fw}", "--url", "http://admin:pw@192.168.1.1"], "--url"),
    (["{fw}", "--url", "http://192.168.1.1", "--timeout", "0"], "--timeout"),
    (["{fw}", "--url", "http://192.168.1.1", "--timeout", "-5"], "--timeout"),
    (["{fw}", "--url", "http://192.168.1.1", "--timeout", "nan"], "--timeout"),
    (["{fw}", "--url", "http://192.168.1.1", "--timeout", "soon"], "--timeout"),
]


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_argument_is_one_line_and_exit_2(capsys, firmware, argv, named) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["flash", *(a.format(fw=firmware) for a in argv)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("natbox flash: error:") and named in line


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://192.168.1.1", "http://192.168.1.1"),
        ("http://192.168.1.1/", "http://192.168.1.1"),
        ("https://router.lan:8443", "https://router.lan:8443"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_good_urls(url: str, base: str) -> None:
    assert flash.router_url(url) == base
