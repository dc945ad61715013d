"""The REST API does what the pages do, with the same validation; every response here is
checked against the OpenAPI document."""

import pytest
from openapi_check import check_response
from webui_clients import PASSWORD, ApiClient

from webui.demo import feed_sample_traffic


class CheckedApi:
    """Every call's response is validated against the OpenAPI document."""

    def __init__(self, api: ApiClient):
        self.api = api

    def __call__(self, method, path, expect=200, **kwargs):
        response = self.api.call(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.get_data(as_text=True))
        check_response(method, path, response)
        return response


@pytest.fixture
def call(api):
    return CheckedApi(api)


def test_login_session_logout(app):
    client = ApiClient(app.test_client())
    response = client.login("wrong")
    assert response.status_code == 401
    check_response("POST", "/session", response)
    response = client.login()
    check_response("POST", "/session", response)
    assert response.json["must_change_password"] is False
    call = CheckedApi(client)
    assert call("GET", "/session").json["csrf_token"] == client.token
    call("DELETE", "/session")
    assert client.call("GET", "/status").status_code == 401


def test_login_needs_json(app):
    response = app.test_client().post(
        "/api/v1/session", data={"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 422
    check_response("POST", "/session", response)


def test_read_everything(call, backend):
    feed_sample_traffic(backend)
    status = call("GET", "/status").json
    assert status["counters"]["pptp_disabled"] == 5
    assert call("GET", "/connections").json
    assert call("GET", "/connections?proto=udp&q=53").json[0]["proto"] == "udp"
    events = call("GET", "/vpn/events?anomalies=1").json
    assert events and all(e["anomaly"] for e in events)
    csv = call("GET", "/vpn/events?format=csv&protocol=pptp")
    assert csv.mimetype == "text/csv" and "negotiation_burst" in csv.text
    call("GET", "/vpn/sessions")
    call("GET", "/system/log")
    assert call("GET", "/firmware").json["booted_slot"] == "A"  # no update service: slot A
    config = call("GET", "/config").json
    assert "password_hash" not in config["admin"]
    assert "password_hash" in call("GET", "/system/backup").json["admin"]


def test_passthrough_enable_pptp(call, backend):
    rows = call("GET", "/passthrough").json["protocols"]
    assert [r["name"] for r in rows] == ["pptp", "l2tp", "ipsec", "sstp", "sip", "rtsp"]
    probe = {"proto": "tcp", "src": "192.168.1.10", "sport": 41000, "dst": "198.51.100.9"}
    assert call("POST", "/diagnostics/probe", json={**probe, "dport": 1723}).json == {
        "verdict": "dropped",
        "reason": "pptp_disabled",
    }
    result = call("PUT", "/passthrough", json={"helpers": {"pptp": True}}).json
    assert result["warnings"] and "very low" in result["warnings"][0]
    assert result["connections_reset"] is False and result["restart_required"] == []
    probe["sport"] += 1
    answer = call("POST", "/diagnostics/probe", json={**probe, "dport": 1723}).json
    assert answer["verdict"] == "forwarded"
    assert call("GET", "/passthrough").json["protocols"][0]["enabled"] is True


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/passthrough", {"helpers": {"pptp": "yes"}}, "helpers.pptp"),
        ("PUT", "/passthrough", {"helpers": {"openvpn": True}}, "helpers.openvpn"),
        ("PUT", "/passthrough", {"sstp_servers": ["not a host"]}, "sstp_servers[0]"),
        ("PUT", "/passthrough", {"colour": 1}, "colour"),
        ("PUT", "/passthrough", {"helper_ports": {"500": "ipsec"}}, "helper_ports.500"),
        ("PUT", "/passthrough", {"helper_ports": {"0": "rtsp"}}, "helper_ports.0"),
        ("PUT", "/passthrough", {"helper_ports": {"4500": "l2tp"}}, "helper_ports.4500"),
        ("PUT", "/nat", {"dmz_host": "8.8.8.8"}, "dmz_host"),
        ("PUT", "/nat", {"profile": "open"}, "profile"),
        ("PUT", "/nat", {"port_forwards": [{"proto": "sctp", "ext_port": 1, "host": "1.2.3.4"}]},
         "port_forwards[0].proto"),
        ("PUT", "/config", {"dhcp": {"first": "10.1.1.1"}}, "dhcp.first"),
        ("PUT", "/lan", {"dhcp": {"last": "192.168.1.255"}}, "dhcp.last"),
        ("PUT", "/lan", {"hostname": "two words"}, "hostname"),
        ("PUT", "/lan", {"wan": {}}, "wan"),
        ("PUT", "/config", {"admin": {"username": "x"}}, "admin"),
        ("PUT", "/config", ["not", "an", "object"], "body"),
        ("PUT", "/system/password", {"current_password": PASSWORD, "new_password": "x"},
         "new_password"),
        ("PUT", "/system/password", {"current_password": "no", "new_password": "long-enough-9"},
         "current_password"),
        ("POST", "/system/restore", {"nat": {"lan_prefix": 2}}, "admin"),
        ("POST", "/diagnostics/probe", {"src": "x", "sport": 1, "dst": "1.1.1.1", "dport": 1},
         "src"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_field(call, backend, method, path, body, field):
    before = backend.get_config()
    response = call(method, path, expect=422, json=body)
    assert response.json["error"]["field"] == field
    assert backend.get_config() == before


def test_nat_settings(call, backend):
    forward = {"proto": "udp", "ext_port": 5000, "ext_port_end": 5010, "host": "192.168.1.30"}
    result = call("PUT", "/nat", json={"port_forwards": [forward], "dmz_host": None}).json
    assert result["connections_reset"] is False
    nat = call("GET", "/nat").json
    assert nat["port_forwards"][0]["ext_port_end"] == 5010
    assert call("PUT", "/nat", json={"profile": "symmetric"}).json["connections_reset"] is True
    assert backend.get_config().nat.port_forwards[0].host == "192.168.1.30"


def test_flow_offloading_is_a_nat_setting_off_by_default(call, backend):
    assert call("GET", "/nat").json["flow_offload"] is False
    call("PUT", "/nat", json={"flow_offload": True})
    assert call("GET", "/nat").json["flow_offload"] is True
    assert backend.get_config().nat.flow_offload is True
    refused = call("PUT", "/nat", expect=422, json={"flow_offload": "yes"}).json
    assert refused["error"]["field"] == "flow_offload"
    assert backend.get_config().nat.flow_offload is True  # the old configuration stays


def test_lan_settings_change_only_the_fields_given(call, backend):
    lease = {"mac": "02:00:00:00:00:aa", "address": "192.168.1.20"}
    call("PUT", "/config", json={"dhcp": {"lease_time": 600, "static_leases": [lease]}})
    result = call("PUT", "/lan", json={"hostname": "edge", "dhcp": {"first": "192.168.1.50"}})
    assert result.json["restart_required"] == []  # the device's dnsmasq takes it live
    lan = call("GET", "/lan").json
    assert lan["hostname"] == "edge" and lan["dhcp"]["first"] == "192.168.1.50"
    assert lan["dhcp"]["lease_time"] == 600 and lan["dhcp"]["static_leases"] == [lease]
    assert backend.get_config().hostname == "edge"


def test_config_put_reports_restart(call):
    result = call("PUT", "/config", json={"wan": {"mode": "dhcp", "gateway": None}}).json
    assert result["restart_required"] == ["wan.mode"]
    assert call("GET", "/status").json["restart_required"] == ["wan.mode"]


def test_password_change_and_restore_backup(app, call, api):
    backup = call("GET", "/system/backup").json
    body = {"current_password": PASSWORD, "new_password": "brand-new-pass"}
    call("PUT", "/system/password", json=body)
    assert ApiClient(app.test_client()).login("brand-new-pass").status_code == 200
    call("POST", "/system/restore", json=backup)  # brings the old password back
    assert ApiClient(app.test_client()).login(PASSWORD).status_code == 200


def test_reboot_and_factory_reset(app, call, backend):
    backend.probe("lan", "udp", "192.168.1.10", 5000, "198.51.100.1", 53)
    call("POST", "/system/reboot", expect=202)
    assert call("GET", "/connections").json == []
    call("POST", "/system/factory-reset", expect=202)
    response = call.api.call("GET", "/status")
    assert response.status_code == 401
    check_response("GET", "/status", response)
    assert ApiClient(app.test_client()).login("admin").json["must_change_password"] is True


def test_csrf_and_auth_errors_are_documented(app, api):
    response = api.call("PUT", "/passthrough", json={}, headers={"X-CSRF-Token": "bad"})
    assert response.status_code == 403
    check_response("PUT", "/passthrough", response)
    response = app.test_client().get("/api/v1/status")
    check_response("GET", "/status", response)


def test_probe_unsupported_backend_is_501(call, backend, monkeypatch):
    def unsupported(*args):
        raise NotImplementedError("this backend cannot inject packets")

    monkeypatch.setattr(backend, "probe", unsupported)
    body = {"src": "192.168.1.2", "sport": 1, "dst": "1.1.1.1", "dport": 1}
    assert call("POST", "/diagnostics/probe", expect=501, json=body).json["error"]["message"]


def test_the_front_errors_are_documented_and_have_the_error_shape(app, api, call):
    foreign = app.test_client().get("/api/v1/status", headers={"Host": "rebind.example"})
    assert foreign.status_code == 421
    check_response("GET", "/status", foreign)
    cross = api.call("PUT", "/nat", json={}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    check_response("PUT", "/nat", cross)
    deep = api.call("PUT", "/nat", data="[" * 1000 + "]" * 1000,
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert deep.status_code == 422
    check_response("PUT", "/nat", deep)
    login = app.test_client().post("/api/v1/session", json={"username": "\ud800", "password": "x"})
    assert login.status_code == 422
    check_response("POST", "/session", login)
    missing = api.call("GET", "/api-route-that-does-not-exist")
    assert missing.status_code == 404 and missing.json["error"]["message"]


def test_sip_direct_media_is_read_and_switched(call, backend):
    assert call("GET", "/passthrough").json["sip_direct_media"] is True  # Linux's default
    assert call("PUT", "/passthrough", json={"sip_direct_media": False}).status_code == 200
    assert call("GET", "/passthrough").json["sip_direct_media"] is False
    assert backend.get_config().nat.sip_direct_media is False
    refused = call("PUT", "/passthrough", expect=422, json={"sip_direct_media": "sometimes"})
    assert refused.json["error"]["field"] == "sip_direct_media"
    assert backend.get_config().nat.sip_direct_media is False  # kept


def test_a_protocol_moved_to_other_ports_serves_them_in_the_engine(call, backend):
    body = {"helpers": {"rtsp": True}, "helper_ports": {"554": "rtsp", "8554": "rtsp"}}
    assert call("PUT", "/passthrough", json=body).status_code == 200
    answer = call("GET", "/passthrough").json
    rtsp = next(row for row in answer["protocols"] if row["name"] == "rtsp")
    assert rtsp["ports"] == [554, 8554] and rtsp["own_ports"] == [554]
    assert answer["helper_ports"] == {"554": "rtsp", "8554": "rtsp"}
    assert backend.get_config().nat.helper_ports == ((554, "rtsp"), (8554, "rtsp"))
    assert call("PUT", "/passthrough", json={"helper_ports": {}}).status_code == 200
    rtsp = next(r for r in call("GET", "/passthrough").json["protocols"] if r["name"] == "rtsp")
    assert rtsp["ports"] == [554]  # its own again
