"""Login does the same work for unknown user names (no enumeration by timing) and the password
policy refuses blank-only passwords and control characters."""

from __future__ import annotations

import pytest
from webui_clients import PASSWORD, PASSWORD_HASH, ApiClient, Browser

import webui.settings
from router.model import AdminAccount, RouterConfig
from webui.settings import password_ok, with_password

pytestmark = pytest.mark.unit


@pytest.fixture
def hash_checks(monkeypatch):
    """The stored hashes check_password was asked to verify, in order (timing-free)."""
    seen = []
    real = webui.settings.check_password

    def spy(stored, password):
        seen.append(stored)
        return real(stored, password)

    monkeypatch.setattr(webui.settings, "check_password", spy)
    return seen


def test_unknown_users_cost_the_same_hash_check_as_the_known_one(hash_checks):
    config = RouterConfig(admin=AdminAccount(password_hash=PASSWORD_HASH))
    assert not password_ok(config, "nobody", PASSWORD)
    assert not password_ok(config, "admin", "wrong")
    assert password_ok(config, "admin", PASSWORD)
    assert hash_checks == [PASSWORD_HASH] * 3  # same method, same cost, every time


@pytest.mark.parametrize("username", ("nobody", "root", "", "admin2"))
def test_login_with_an_unknown_user_runs_the_hash_check(app, hash_checks, username):
    api = ApiClient(app.test_client())
    response = api.client.post("/api/v1/session", json={"username": username, "password": "x"})
    assert response.status_code == 401
    browser = Browser(app.test_client())
    assert browser.login("x", username=username).status_code == 401
    assert hash_checks == [PASSWORD_HASH, PASSWORD_HASH]


def test_a_right_password_with_a_wrong_user_name_is_refused():
    config = RouterConfig(admin=AdminAccount(password_hash=PASSWORD_HASH))
    assert not password_ok(config, "Admin", PASSWORD)
    assert not password_ok(RouterConfig(), "nobody", "admin")  # factory account
    assert password_ok(RouterConfig(), "admin", "admin")


@pytest.mark.parametrize("new", (" " * 8, "\t" * 8, "\x00" * 8, "good-pass\x00", "pass\x1bword1"))
def test_blank_only_or_control_character_passwords_are_refused(new):
    config = RouterConfig(admin=AdminAccount(password_hash=PASSWORD_HASH))
    with pytest.raises(webui.settings.ConfigError) as refused:
        with_password(config, PASSWORD, new, new, method="pbkdf2:sha256:1000")
    assert refused.value.field == "new_password"


@pytest.mark.parametrize("new", (" " * 8, "\x00" * 8))
def test_the_api_and_the_page_refuse_them_naming_new_password(app, api, new):
    body = {"current_password": PASSWORD, "new_password": new}  # confirm is optional here
    response = api.call("PUT", "/system/password", json=body)
    assert response.status_code == 422
    assert response.json["error"]["field"] == "new_password"
    browser = Browser(app.test_client())
    browser.login()
    page = browser.post("/password", {**body, "confirm_password": new})
    assert page.status_code == 422 and 'data-field="new_password"' in page.text


def test_a_password_with_inner_spaces_and_unicode_is_fine(api):
    new = "correct horse ßattery"
    body = {"current_password": PASSWORD, "new_password": new, "confirm_password": new}
    assert api.call("PUT", "/system/password", json=body).status_code == 200
