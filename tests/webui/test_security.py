"""Login required everywhere, CSRF on every state-changing request, the forced password change,
throttling, idle timeout, logout, cookie flags."""

import pytest
from webui_clients import PASSWORD, ApiClient, Browser, cookie_value, form_token

from webui.security import PUBLIC_ENDPOINTS

SAMPLE_ARGS = {"fmt": "csv", "filename": "style.css"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app):
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", SAMPLE_ARGS[name]).replace(
                f"<path:{name}>", SAMPLE_ARGS[name]
            )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def test_every_route_but_login_requires_a_login(app):
    client = app.test_client()
    checked = 0
    for endpoint, method, path in routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(path, method=method)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
            assert response.json["error"]["message"]
        else:
            assert response.status_code == 302, (method, path)
            assert response.location.startswith("/login"), (method, path)
        checked += 1
    assert checked >= 35


def test_every_state_changing_route_needs_the_csrf_token(app, backend):
    browser = Browser(app.test_client())
    browser.login()
    before = backend.get_config()
    unsafe = [(e, m, p) for e, m, p in routes(app) if m in UNSAFE and e not in PUBLIC_ENDPOINTS]
    assert len(unsafe) >= 15
    for _endpoint, method, path in unsafe:
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            response = browser.client.open(path, method=method, headers=headers, json={})
            expected = 403 if path.startswith("/api/") else 400
            assert response.status_code == expected, (method, path, headers)
    assert backend.get_config() == before  # nothing was changed, nothing was reset
    assert browser.get("/").status_code == 200  # and logout did not happen either


def test_login_form_needs_its_token(app):
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400


def test_cookie_is_httponly_and_samesite(app):
    client = app.test_client()
    token = form_token(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_security_headers(browser):
    response = browser.get("/")
    assert "script-src" not in response.headers["Content-Security-Policy"]  # self only
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_wrong_password_is_refused(app):
    browser = Browser(app.test_client())
    assert browser.login("guess").status_code == 401
    assert browser.get("/").status_code == 302


def test_throttling_after_repeated_failures(app, clock):
    browser = Browser(app.test_client())
    for _ in range(5):
        assert browser.login("guess").status_code == 401
    response = browser.login()  # even the right password waits out the lockout
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert ApiClient(app.test_client()).login().status_code == 429
    clock.advance(31)
    assert browser.login().status_code == 302


def test_lockouts_grow(app, clock):
    throttle = app.extensions["natbox"].throttle
    for _ in range(5):
        throttle.failed("10.0.0.9")
    assert throttle.retry_after("10.0.0.9") == 30
    clock.advance(31)
    for _ in range(5):
        throttle.failed("10.0.0.9")
    assert throttle.retry_after("10.0.0.9") == 60
    throttle.succeeded("10.0.0.9")
    assert throttle.retry_after("10.0.0.9") == 0


def test_idle_timeout(browser, clock):
    clock.advance(500)
    assert browser.get("/").status_code == 200  # activity restarts the timer
    clock.advance(500)
    assert browser.get("/").status_code == 200
    clock.advance(601)
    response = browser.get("/nat")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_logout_ends_the_session_even_for_a_copied_cookie(app, browser):
    cookie = cookie_value(browser.client, "natbox_session")
    assert cookie and browser.get("/").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert browser.get("/").status_code == 302
    thief = app.test_client()
    assert thief.get("/", headers={"Cookie": f"natbox_session={cookie}"}).status_code == 302


def test_login_redirects_only_to_local_paths(app):
    client = app.test_client()
    for target, expected in (("/nat", "/nat"), ("//evil.example/x", "/"), ("https://x", "/")):
        token = form_token(client.get("/login").text)
        response = client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.location == expected


@pytest.mark.parametrize(
    "target",
    ("/\t/evil.example", "/\n/evil.example", "/\n/", "/\\evil.example", "/ /x", "/\x00",
     "\t//evil.example", "/\u00e9"),
)  # fmt: skip
def test_login_never_redirects_off_site_or_fails_on_odd_next(app, target):
    client = app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": form_token(page.text),
              "next": target},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_next_from_the_query_string_keeps_a_local_path(app):
    client = app.test_client()
    page = client.get("/login?next=/nat%3Fx%3D1")
    token = form_token(page.text)
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/nat?x=1"},
    )
    assert response.headers["Location"] == "/nat?x=1"


def test_factory_password_forces_a_change_first(fresh_app):
    browser = Browser(fresh_app.test_client())
    response = browser.login("admin")
    assert response.location == "/password"
    assert browser.get("/passthrough").location == "/password"
    assert "factory password" in browser.get("/password").text
    api = ApiClient(fresh_app.test_client())
    assert api.login("admin").json["must_change_password"] is True
    response = api.call("GET", "/status")
    assert response.status_code == 403
    assert response.json["error"]["field"] == "password"

    weak = {"current_password": "admin", "new_password": "short", "confirm_password": "short"}
    response = browser.post("/password", weak)
    assert response.status_code == 422
    assert 'data-field="new_password"' in response.text
    mismatch = {**weak, "new_password": "long-enough-1", "confirm_password": "other-one-1"}
    assert 'data-field="confirm_password"' in browser.post("/password", mismatch).text
    good = {**weak, "new_password": "long-enough-1", "confirm_password": "long-enough-1"}
    assert browser.post("/password", good).location == "/"
    assert browser.get("/passthrough").status_code == 200
    assert api.call("GET", "/status").status_code == 401  # other sessions were ended

    again = Browser(fresh_app.test_client())
    assert again.login("admin").status_code == 401
    assert again.login("long-enough-1").location == "/"


@pytest.mark.parametrize("current", ["wrong", None])
def test_password_change_checks_the_current_password(browser, current):
    data = {"new_password": "another-pass-1", "confirm_password": "another-pass-1"}
    if current:
        data["current_password"] = current
    response = browser.post("/password", data)
    assert response.status_code == 422
    assert 'data-field="current_password"' in response.text
