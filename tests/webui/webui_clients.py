"""Helpers for the web UI tests: a fake clock, an app factory, and clients that keep the
CSRF token like a page or an API script would."""

from __future__ import annotations

import re

from router.model import RouterConfig
from router.store import ConfigStore
from webui import create_app
from webui.passwords import hash_password

PASSWORD = "correct-horse-42"
FAST_HASH = "pbkdf2:sha256:1000"  # the real default is scrypt; tests hash many times
PASSWORD_HASH = hash_password(PASSWORD, method=FAST_HASH)


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(config_path, clock, config: RouterConfig | None = None):
    if config is not None:
        ConfigStore(config_path).save(config)
    return create_app(
        {"CONFIG_PATH": str(config_path), "CLOCK": clock, "PASSWORD_METHOD": FAST_HASH}
    )


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Browser:
    """A test client that keeps the CSRF token like a page would."""

    def __init__(self, client):
        self.client = client
        self.token = ""

    def login(self, password: str = PASSWORD, username: str = "admin"):
        token = form_token(self.client.get("/login").text)
        response = self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        if response.status_code == 302:
            self.token = form_token(self.client.get("/password").text)
        return response

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, path, data=None, **kwargs):
        data = {"csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=data, **kwargs)


class ApiClient:
    """JSON calls with the session's CSRF header."""

    def __init__(self, client):
        self.client = client
        self.token = ""

    def login(self, password: str = PASSWORD):
        response = self.client.post(
            "/api/v1/session", json={"username": "admin", "password": password}
        )
        if response.status_code == 200:
            self.token = response.json["csrf_token"]
        return response

    def call(self, method: str, path: str, **kwargs):
        headers = {"X-CSRF-Token": self.token, **kwargs.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)


def cookie_value(client, name: str) -> str | None:
    """A cookie of a Flask test client: Werkzeug >= 2.3 has get_cookie, the device's 2.2 a
    cookie jar (tox -e webui-device runs these tests on it)."""
    if hasattr(client, "get_cookie"):
        cookie = client.get_cookie(name)
        return cookie.value if cookie else None
    return next((c.value for c in client.cookie_jar if c.name == name), None)
