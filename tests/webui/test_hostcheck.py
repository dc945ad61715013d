"""DNS rebinding: only requests addressed to the router's own names and addresses are answered,
and a state-changing request from another origin is refused."""

from __future__ import annotations

import pytest
from webui_clients import PASSWORD, PASSWORD_HASH, ApiClient, make_app

from router.model import AdminAccount, RouterConfig

pytestmark = pytest.mark.unit

FOREIGN = ("evil.example", "evil.example:80", "192.168.1.1.evil.example", "natbox.lan.evil")
OWN = (
    "localhost",
    "127.0.0.1:18080",
    "[::1]:8080",
    "192.168.1.1",
    "192.168.1.1:80",
    "natbox",
    "NATBOX.lan",
    "router.lan",
    "router.lan.",
)


@pytest.mark.parametrize("host", FOREIGN)
def test_a_foreign_host_gets_421_on_the_api_and_pages(fresh_app, host) -> None:
    client = fresh_app.test_client()
    login = {"username": "admin", "password": "admin"}
    response = client.post("/api/v1/session", json=login, headers={"Host": host})
    assert response.status_code == 421
    assert response.json == {
        "error": {"field": "Host", "message": "this router does not answer to that host name"}
    }
    page = client.get("/login", headers={"Host": host})
    assert page.status_code == 421 and "host name" in page.text
    assert "<form" not in page.text


@pytest.mark.parametrize("host", OWN)
def test_the_router_s_own_names_and_addresses_are_answered(fresh_app, host) -> None:
    response = fresh_app.test_client().get("/login", headers={"Host": host})
    assert response.status_code == 200


def test_a_rebinding_page_cannot_take_over_a_factory_fresh_router(fresh_app) -> None:
    """The issue's attack: log in with admin/admin and set a password, via a foreign name."""
    api = ApiClient(fresh_app.test_client())
    headers = {"Host": "rebind.evil.example", "Origin": "http://rebind.evil.example"}
    response = api.client.post(
        "/api/v1/session", json={"username": "admin", "password": "admin"}, headers=headers
    )
    assert response.status_code == 421
    backend = fresh_app.extensions["natbox"].backend
    assert backend.get_config().admin.password_hash == ""


def test_a_new_hostname_and_lan_address_count_once_applied(config_path, clock) -> None:
    admin = AdminAccount(password_hash=PASSWORD_HASH, must_change_password=False)
    dhcp = {"first": "10.0.0.100", "last": "10.0.0.199"}
    config = RouterConfig.from_dict(
        {"hostname": "gw", "nat": {"lan_address": "10.0.0.1"}, "dhcp": dhcp}
    )
    app = make_app(config_path, clock, config.replace(admin=admin))
    client = app.test_client()
    for host in ("gw", "gw.lan", "10.0.0.1:80", "router.lan"):
        assert client.get("/login", headers={"Host": host}).status_code == 200, host
    for host in ("natbox.lan", "192.168.1.1"):
        assert client.get("/login", headers={"Host": host}).status_code == 421, host


def test_the_address_the_server_listens_on_counts(fresh_app) -> None:
    fresh_app.config["LISTEN_HOSTS"] = ("10.9.9.9",)
    assert fresh_app.test_client().get("/login", headers={"Host": "10.9.9.9"}).status_code == 200


@pytest.mark.parametrize(
    "origin", ("http://evil.example", "null", "http://localhost:8080", "https://localhost", "x")
)
def test_a_foreign_origin_is_refused_with_403(app, origin) -> None:
    api = ApiClient(app.test_client())
    assert api.login().status_code == 200
    response = api.call("PUT", "/lan", json={"hostname": "pwned"}, headers={"Origin": origin})
    assert response.status_code == 403
    assert response.json["error"]["field"] == "Origin"
    login = api.client.post(
        "/api/v1/session",
        json={"username": "admin", "password": PASSWORD},
        headers={"Origin": origin},
    )
    assert login.status_code == 403
    assert app.extensions["natbox"].backend.get_config().hostname == "natbox"


@pytest.mark.parametrize("origin", ("http://localhost", "http://localhost:80", "HTTP://LOCALHOST"))
def test_the_router_s_own_origin_is_accepted(app, origin) -> None:
    api = ApiClient(app.test_client())
    assert api.login().status_code == 200
    response = api.call("PUT", "/lan", json={"hostname": "gw"}, headers={"Origin": origin})
    assert response.status_code == 200, response.json
