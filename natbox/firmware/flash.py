"""`natbox flash FILE --url URL`: push a firmware to a running appliance through its REST API
(webui.api) and follow the update to its end, printing each state.

    log in -> upload (each check printed; an invalid file stops here) -> install -> poll
    GET /api/v1/firmware until the update is committed, rolled back or failed

While the router reboots nothing answers: the poll goes on, and logs in again when the router
is back (a session does not survive a reboot: the UI's cookie key is new at every start).
Standard library only: urllib with a cookie jar.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import http.client
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, ProxyHandler, Request, build_opener

from natbox.argtypes import existing_file, refuse
from router.update import journal as J

PROG = "natbox flash"
API = "/api/v1"
DONE = (J.COMMITTED, J.ROLLED_BACK, J.FAILED)
POLL_S = 1.0  # between two looks at the update's state
REQUEST_S = 10.0  # one look; a router that is rebooting may not even refuse the connection
RELOGINS = 3  # logins in a row that the next request does not honour: the session is lost


class Unreachable(Exception):
    """Nothing answered: refused, reset or timed out (the router is rebooting, or is not
    there)."""


class Stop(Exception):
    """The update cannot go on, or cannot be followed: the message says why."""


@dataclass
class Answer:
    status: int
    data: dict[str, Any]
    body: bytes = b""  # as it came: some answers are lists (connections, events)

    @property
    def message(self) -> str:
        error = self.data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error['message']} (HTTP {self.status})"
        return f"HTTP {self.status}"

    @property
    def field(self) -> str | None:
        error = self.data.get("error")
        return error.get("field") if isinstance(error, dict) else None


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Api:
    """The router's /api/v1: the session cookie in a jar, the CSRF token on every POST."""

    def __init__(self, base: str):
        self.base, self.jar, self.csrf = base, CookieJar(), ""
        # No proxy: the router is on the LAN or a local port forward, never behind the
        # user's HTTP proxy.
        self.opener = build_opener(ProxyHandler({}), HTTPCookieProcessor(self.jar))

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        query: dict[str, str] | None = None,
        timeout: float = REQUEST_S,
    ) -> Answer:
        url = self.base + API + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        if method != "GET" and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        request = Request(url, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=max(timeout, 0.1)) as response:
                body = response.read()
                return Answer(response.status, _json(body), body)
        except HTTPError as error:  # an answer all the same: 4xx, 5xx
            try:
                body = error.read()
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                error.close()
            return Answer(error.code, _json(body), body)
        except (OSError, http.client.HTTPException) as error:
            raise Unreachable(str(getattr(error, "reason", None) or error)) from None

    def login(self, user: str, password: str) -> Answer:
        self.jar.clear()
        self.csrf = ""
        answer = self.call("POST", "/session", json_body={"username": user, "password": password})
        if answer.status == 200:
            self.csrf = str(answer.data.get("csrf_token") or "")
        return answer


def check_lines(verdict: dict[str, Any]) -> list[str]:
    """As `natbox firmware verify` prints them."""
    checks = verdict.get("checks")
    if not isinstance(checks, dict):
        return []
    lines = []
    for name, check in checks.items():
        check = check if isinstance(check, dict) else {}
        status = str(check.get("status", "?")).upper()
        lines.append(f"  {status:4}  {name:14} {check.get('detail', '')}")
    return lines


def failed_checks(verdict: dict[str, Any]) -> list[str]:
    checks = verdict.get("checks")
    if not isinstance(checks, dict):
        return []
    return [n for n, c in checks.items() if isinstance(c, dict) and c.get("status") == "fail"]


def new_entries(history: list[Any], last: Any) -> list[Any]:
    """The journal entries after ``last`` (all of them when there was none). When ``last`` is
    gone (the history is capped) only the newest is new for sure."""
    if last is None:
        return list(history)
    for i in range(len(history) - 1, -1, -1):
        if history[i] == last:
            return history[i + 1 :]
    return history[-1:]


def entry_line(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(entry)
    state, detail = entry.get("state", "?"), entry.get("detail", "")
    return f"{state}: {detail}" if detail else str(state)


@dataclass
class Flash:
    api: Api
    url: str
    user: str
    password: str
    keep_settings: bool
    force: bool
    timeout: float
    out: Callable[[str], None]
    err: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.timeout
        self.before: dict[str, Any] = {}
        self.last_entry: Any = None
        self.last_state: str | None = None
        self.progress: tuple[str, int] | None = None
        self.sha = ""
        self.version: str | None = None

    def remaining(self) -> float:
        return self.deadline - self.clock()

    # -- before the install: everything stops at the first problem ---------------------------

    def run(self, data: bytes, name: str) -> int:
        answer = self.api.login(self.user, self.password)
        if answer.status != 200:
            raise Stop(f"cannot log in as {self.user!r}: {answer.message}")
        self.before = self.status(self.api.call("GET", "/firmware"))
        self.last_entry = (_history(self.before) or [None])[-1]
        self.last_state = self.before.get("state")
        self.out(
            f"{self.url}: running {self.before.get('running_version')} "
            f"from slot {self.before.get('booted_slot')}"
        )
        if not self.upload(data, name):
            return 1
        # The journal's story so far (received, verified), before the install's.
        self.show(self.status(self.api.call("GET", "/firmware")))
        self.install()
        return self.follow()

    def status(self, answer: Answer) -> dict[str, Any]:
        if answer.status == 403 and answer.field == "password":
            raise Stop(
                f"{answer.message}: the router answers nothing else until the password is "
                f"changed; log in at {self.url} as {self.user!r} and set one"
            )
        if answer.status != 200:
            raise Stop(f"GET {API}/firmware: {answer.message}")
        return answer.data

    def upload(self, data: bytes, name: str) -> bool:
        self.sha = hashlib.sha256(data).hexdigest()
        self.out(f"uploading {name}: {len(data)} bytes, sha256 {self.sha[:16]}...")
        query = {"keep_settings": _flag(self.keep_settings), "force": _flag(self.force)}
        answer = self.api.call(
            "POST", "/firmware/upload", data=data, query=query, timeout=self.remaining()
        )
        verdict = answer.data.get("verdict")
        if answer.status not in (200, 201, 422) or not isinstance(verdict, dict):
            raise Stop(f"upload refused: {answer.message}")
        received = answer.data.get("sha256")
        if received and received != self.sha:
            raise Stop(f"the router received other bytes (sha256 {received}, sent {self.sha})")
        for line in check_lines(verdict):
            self.out(line)
        self.version = verdict.get("version")
        if verdict.get("valid") is True:
            self.out(f"VALID: version {self.version}")
            return True
        self.out("INVALID: " + (", ".join(failed_checks(verdict)) or "refused") + " failed")
        if verdict.get("forceable") and not self.force:
            self.out("  only the version check failed: --force installs it all the same")
        if self.keep_settings and verdict.get("keep_settings_possible") is False:
            self.out("  the settings cannot be kept: --no-keep-settings installs with a reset")
        return False

    def install(self) -> None:
        body = {"keep_settings": self.keep_settings, "force": self.force}
        answer = self.api.call(
            "POST", "/firmware/install", json_body=body, timeout=self.remaining()
        )
        if answer.status in (200, 202):
            self.out(f"installing {self.version}" + ("" if self.keep_settings else " (reset)"))
            return
        verdict = answer.data.get("verdict")
        if isinstance(verdict, dict):
            for line in check_lines(verdict):
                self.out(line)
            raise Stop("install refused: " + ", ".join(failed_checks(verdict)) + " failed")
        raise Stop(f"install refused: {answer.message}")

    # -- after it: the router writes, reboots, checks itself; we wait and watch -------------

    def follow(self) -> int:
        down, logins, transient = False, 0, ""
        while self.remaining() > 0:
            try:
                answer = self.api.call("GET", "/firmware", timeout=min(REQUEST_S, self.remaining()))
                if down:
                    self.out("the router answers again")
                    down = False
                if answer.status == 401:
                    if logins >= RELOGINS:
                        raise Stop("logged in again, but the router does not keep the session")
                    if self.relogin():
                        logins += 1
                        continue
                elif answer.status >= 500 or answer.status == 429:
                    if answer.message != transient:  # starting up: once per message
                        self.out(f"  (not ready: {answer.message})")
                        transient = answer.message
                else:
                    logins = 0
                    data = self.status(answer)
                    if self.show(data):
                        return self.outcome(data)
            except Unreachable as error:
                if not down:
                    self.out(f"the router does not answer ({error}); waiting (rebooting?)")
                    down = True
            self.sleep(max(0.0, min(POLL_S, self.remaining())))
        self.err(
            f"{PROG}: timed out after {self.timeout:g} s; the update was "
            f"{self.last_state or 'in an unknown state'}"
        )
        return 1

    def relogin(self) -> bool:
        """True when logged in again; False to wait and try again."""
        answer = self.api.login(self.user, self.password)
        if answer.status == 200:
            self.out("logged in again")
            return True
        if answer.status == 401 and not self.keep_settings:
            # The settings were reset as asked: the factory account is in effect.
            from router.model import FACTORY_PASSWORD, AdminAccount

            factory = AdminAccount().username
            if self.api.login(factory, FACTORY_PASSWORD).status == 200:
                self.out(f"logged in as {factory!r} with the factory password (settings reset)")
                self.user, self.password = factory, FACTORY_PASSWORD
                return True
        if answer.status == 429 or answer.status >= 500:
            return False
        raise Stop(f"cannot log in again after the reboot: {answer.message}")

    def show(self, data: dict[str, Any]) -> bool:
        """Print what is new; True when the update has ended."""
        history = _history(data)
        entries = new_entries(history, self.last_entry)
        for entry in entries:
            self.out(entry_line(entry))
        if history:
            self.last_entry = history[-1]
        state = data.get("state")
        if not entries and state != self.last_state:
            reason = data.get("reason")
            self.out(f"{state}: {reason}" if reason else str(state))
        self.last_state = state
        self.show_progress(data.get("progress"))
        return state in DONE

    def show_progress(self, progress: Any) -> None:
        """One line at each 10% step of a phase (the journal keeps the last progress after the
        phase: it is not news again)."""
        if not isinstance(progress, dict):
            return
        phase, done, total = progress.get("phase"), progress.get("done"), progress.get("total")
        if not (isinstance(done, int) and isinstance(total, int) and total > 0):
            return
        step = min(10, done * 10 // total)
        if self.progress and self.progress[0] == phase and step <= self.progress[1]:
            return
        self.progress = (str(phase), step)
        self.out(f"  {phase} {step * 10:3}% ({done} of {total} bytes)")

    def outcome(self, data: dict[str, Any]) -> int:
        state, reason = data["state"], data.get("reason") or ""
        running, slot = data.get("running_version"), data.get("booted_slot")
        was = self.before.get("running_version")
        update = data.get("update") if isinstance(data.get("update"), dict) else {}
        if update.get("sha256") and update["sha256"] != self.sha:
            self.err(f"{PROG}: another upload (sha256 {update['sha256'][:16]}...) replaced ours")
            return 1
        if state == J.COMMITTED:
            self.out(f"committed: {running} running from slot {slot} (was {was})")
            if self.version and running != self.version:
                self.err(f"{PROG}: but the router runs {running}, not {self.version}")
                return 1
            return 0
        if state == J.ROLLED_BACK:
            self.out(f"rolled back: {running} running from slot {slot}; {reason or 'no reason'}")
        else:
            self.out(f"failed: {reason or 'no reason given'}; {running} running from slot {slot}")
        return 1


def _history(data: dict[str, Any]) -> list[Any]:
    history = data.get("history")
    return history if isinstance(history, list) else []


def _flag(value: bool) -> str:
    return "true" if value else "false"


def flash(
    data: bytes,
    name: str,
    url: str,
    user: str,
    password: str,
    keep_settings: bool = True,
    force: bool = False,
    timeout: float = 300.0,
    out: Callable[[str], None] | None = None,
    err: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Push ``data`` and follow the update: 0 when committed, 1 otherwise."""
    out = out or (lambda line: print(line, flush=True))
    err = err or (lambda line: print(line, file=sys.stderr, flush=True))
    job = Flash(
        Api(url), url, user, password, keep_settings, force, timeout, out, err, clock, sleep
    )
    try:
        return job.run(data, name)
    except Unreachable as error:
        err(f"{PROG}: {url} does not answer: {error}")
    except Stop as error:
        err(f"{PROG}: {error}")
    return 1


# -- command line ---------------------------------------------------------------------------

LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"{LABEL}(\.{LABEL})*\.?")


def router_url(text: str) -> str:
    """http(s)://host[:port] of the router's web UI, nothing more; returned without a slash."""
    what = f"{text!r} is not the router's address, such as http://192.168.1.1"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (it checks the port)
    except ValueError:  # a bad port, or a bad [IPv6] host
        raise argparse.ArgumentTypeError(what) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(what)
    if parts.username is not None or parts.password is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the user and password as options")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{what} (no path)")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOST_NAME.fullmatch(host):
            raise argparse.ArgumentTypeError(what) from None
    return f"{parts.scheme}://{parts.netloc}"


router_url.__name__ = "URL"


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=existing_file, help="the firmware file (out/<board>-<version>.fw)")
    p.add_argument("--url", type=router_url, required=True, help="the web UI, http://HOST[:PORT]")
    p.add_argument("--user", default="admin", help="default: admin")
    p.add_argument(
        "--password",
        default=None,
        help="default: $NATBOX_PASSWORD, else asked for (an option shows in `ps`)",
    )
    p.add_argument(
        "--no-keep-settings",
        dest="keep_settings",
        action="store_false",
        help="start the new firmware from factory settings",
    )
    p.add_argument("--force", action="store_true", help="install a downgrade or reinstall")
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=300.0,
        help="give up after this many seconds (default 300)",
    )


def run(args: argparse.Namespace) -> int:
    password = args.password
    if password is None:
        password = os.environ.get("NATBOX_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            return refuse(PROG, "argument --password: not given, no NATBOX_PASSWORD, no terminal")
        password = getpass.getpass(f"password of {args.user} at {args.url}: ")
    try:
        data = args.file.read_bytes()
    except OSError as error:
        return refuse(PROG, f"argument file: {args.file}: {error.strerror}")
    try:
        return flash(
            data,
            Path(args.file).name,
            args.url,
            args.user,
            password,
            args.keep_settings,
            args.force,
            args.timeout,
        )
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; an update under way goes on on the router", file=sys.stderr)
        return 130
