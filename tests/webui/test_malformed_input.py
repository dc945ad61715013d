"""Malformed input never breaks the server: under /api every status is the JSON error shape,
every malformed body is 422 naming its field, and the pages refuse odd form values by name."""

from __future__ import annotations

import io
import json

import pytest
from webui_clients import PASSWORD, ApiClient

from webui.jsonbody import MAX_DEPTH

pytestmark = pytest.mark.unit

JSON = {"Content-Type": "application/json"}
DEEP = "[" * 100_000 + "]" * 100_000
JSON_BODY_ROUTES = (
    ("PUT", "/config"),
    ("PUT", "/nat"),
    ("PUT", "/lan"),
    ("PUT", "/passthrough"),
    ("PUT", "/system/password"),
    ("POST", "/system/restore"),
    ("POST", "/diagnostics/probe"),
)


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert set(error) == {"field", "message"} and error["message"]
    return error


# -- every status under /api is JSON ----------------------------------------------------------


def test_unknown_api_route_is_a_json_404(api):
    error_of(api.call("GET", "/no-such-thing"), 404)
    error_of(api.client.get("/api/nothing"), 404)
    assert api.client.get("/no-such-page").mimetype == "text/html"  # pages keep HTML


def test_wrong_method_is_a_json_405_with_allow(api):
    response = api.call("DELETE", "/status")
    error_of(response, 405)
    assert "GET" in response.headers["Allow"]


def test_too_large_body_is_a_json_413(api):
    body = json.dumps({"hostname": "x" * (1024 * 1024)})
    error_of(api.call("PUT", "/lan", data=body, headers=JSON), 413)


def test_too_large_body_without_a_length_is_a_json_413(api):
    """Chunked: no Content-Length to check first (and Werkzeug 2.2 would read it all)."""
    body = io.BytesIO(json.dumps({"hostname": "x" * (1024 * 1024)}).encode())
    environ = {"wsgi.input_terminated": True}
    headers = {**JSON, "Transfer-Encoding": "chunked"}
    response = api.call("PUT", "/lan", input_stream=body, headers=headers, environ_base=environ)
    error_of(response, 413)


def test_a_bug_is_a_json_500(api, backend, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(backend, "status", broken)
    error = error_of(api.call("GET", "/status"), 500)
    assert "boom" not in error["message"]  # no internals to the client


# -- 422 for every malformed body -------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
@pytest.mark.parametrize("body", (DEEP, "[1, 2]", '"text"', "null", "{", "\xff"))
def test_malformed_bodies_are_422(api, backend, method, path, body):
    before = backend.get_config()
    data = body.encode("latin-1") if body == "\xff" else body
    error_of(api.call(method, path, data=data, headers=JSON), 422)
    assert backend.get_config() == before


def test_deep_nesting_inside_an_object_is_422_naming_the_body(api):
    nested = '{"hostname": ' + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "}"
    error = error_of(api.call("PUT", "/lan", data=nested, headers=JSON), 422)
    assert error["field"] == "body"


def test_login_with_a_lone_surrogate_needs_no_session_to_get_422(app):
    client = app.test_client()
    body = '{"username": "\\ud800", "password": "x"}'
    error = error_of(client.post("/api/v1/session", data=body, headers=JSON), 422)
    assert error["field"] == "username"
    error = error_of(client.post("/api/v1/session", data="[]", headers=JSON), 422)


@pytest.mark.parametrize("bad", ("\\ud800", "\\udfff", "\\u0000", "\\u001b[2J", "\\u007f"))
def test_new_password_with_unsafe_characters_is_422(api, bad):
    body = (
        f'{{"current_password": "{PASSWORD}", "new_password": "abc{bad}defgh", '
        f'"confirm_password": "abc{bad}defgh"}}'
    )
    error = error_of(api.call("PUT", "/system/password", data=body, headers=JSON), 422)
    assert error["field"] == "new_password"
    assert ApiClient(api.client.application.test_client()).login().status_code == 200


@pytest.mark.parametrize("bad", ("\\ud800", "\\u0000", "\\n"))
def test_port_forward_name_with_unsafe_characters_is_422_and_the_page_still_works(
    api, browser, bad
):
    forward = f'{{"proto": "tcp", "ext_port": 8080, "host": "192.168.1.20", "name": "a{bad}"}}'
    body = f'{{"port_forwards": [{forward}]}}'
    error = error_of(api.call("PUT", "/nat", data=body, headers=JSON), 422)
    assert error["field"] == "port_forwards[0].name"
    assert browser.get("/nat").status_code == 200


@pytest.mark.parametrize("number", ("NaN", "Infinity", "-Infinity", "1e400"))
def test_numbers_that_are_not_finite_are_422_naming_the_field(api, backend, number):
    before = backend.get_config()
    body = f'{{"nat": {{"timeouts": {{"udp": {number}}}}}}}'
    error = error_of(api.call("PUT", "/config", data=body, headers=JSON), 422)
    assert error["field"] == "nat.timeouts.udp"
    assert backend.get_config() == before


def test_restore_refuses_a_non_object_naming_the_backup(api):
    error = error_of(api.call("POST", "/system/restore", data="[]", headers=JSON), 422)
    assert error["field"] == "backup"


# -- the pages' forms -------------------------------------------------------------------------


@pytest.mark.parametrize("number", ("²", "٣", "1e3", "-1", "99999999999"))
def test_nat_form_numbers_that_are_not_ascii_digits_are_refused_by_name(browser, backend, number):
    before = backend.get_config()
    data = {"profile": "restricted-cone", "fw_count": "0", "fw-0-proto": "tcp",
            "fw-0-ext_port": number, "fw-0-host": "192.168.1.20"}  # fmt: skip
    response = browser.post("/nat", data)
    assert response.status_code == 422
    assert 'data-field="fw-0-ext_port"' in response.text
    assert backend.get_config() == before


@pytest.mark.parametrize("count", ("²", "x", "-3", ""))
def test_nat_form_with_an_odd_row_count_does_not_fail(browser, count):
    response = browser.post("/nat", {"profile": "restricted-cone", "fw_count": count})
    assert response.status_code in (302, 422)


@pytest.mark.parametrize("text", ("a\x00b", "a\x1bb", "tab\there"))
def test_nat_form_names_with_control_characters_are_refused(browser, backend, text):
    data = {"profile": "restricted-cone", "fw_count": "0", "fw-0-proto": "tcp",
            "fw-0-ext_port": "8080", "fw-0-host": "192.168.1.20", "fw-0-name": text}  # fmt: skip
    response = browser.post("/nat", data)
    assert response.status_code == 422
    assert 'data-field="fw-0-name"' in response.text
    assert backend.get_config().nat.port_forwards == ()


def test_lan_form_lease_time_that_is_not_ascii_digits_is_refused_by_name(browser, backend):
    data = {"hostname": "natbox", "dhcp_enabled": "on", "first": "192.168.1.100",
            "last": "192.168.1.199", "lease_time": "²"}  # fmt: skip
    response = browser.post("/lan", data)
    assert response.status_code == 422
    assert 'data-field="dhcp.lease_time"' in response.text
