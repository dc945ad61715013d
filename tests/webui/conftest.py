"""Fixtures for the web UI tests: an app on a temporary config file with a fake clock, and
clients logged in (after the forced password change, unless the app is fresh)."""

from __future__ import annotations

import pytest
from webui_clients import PASSWORD_HASH, ApiClient, Browser, FakeClock, make_app

from router.model import AdminAccount, RouterConfig


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def config_path(tmp_path):
    return tmp_path / "data" / "config.json"


@pytest.fixture
def fresh_app(config_path, clock):
    """A router straight from the factory: password 'admin', change forced."""
    return make_app(config_path, clock)


@pytest.fixture
def app(config_path, clock):
    """A router whose admin already chose webui_clients.PASSWORD."""
    admin = AdminAccount(password_hash=PASSWORD_HASH, must_change_password=False)
    return make_app(config_path, clock, RouterConfig(admin=admin))


@pytest.fixture
def backend(app):
    return app.extensions["natbox"].backend


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
