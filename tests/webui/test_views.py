"""Every page: renders, saves through the config model, shows errors next to the field,
escapes what users typed, and changes what the real engine does."""

import io
import json
import re

from webui_clients import PASSWORD, Browser

from router.model import RouterConfig
from webui.demo import feed_sample_traffic

PAGES = ["/", "/passthrough", "/nat", "/lan", "/connections", "/monitor", "/system", "/firmware"]


def pptp_probe(backend):
    return backend.probe("lan", "tcp", "192.168.1.10", 41000, "198.51.100.99", 1723)


def test_every_page_renders(browser):
    for page in PAGES:
        response = browser.get(page)
        assert response.status_code == 200, page
        assert "Log out admin" in response.text


def test_every_form_carries_the_session_csrf_token(browser):
    for page in [*PAGES, "/password"]:
        tokens = re.findall(r'name="csrf_token" value="([^"]*)"', browser.get(page).text)
        assert tokens and set(tokens) == {browser.token}, page


def test_status_page(browser, backend):
    feed_sample_traffic(backend)
    text = browser.get("/").text
    for expected in ("slot A", "192.168.1.1/24", "203.0.113.1", "voip-phone", "pptp_disabled"):
        assert expected in text


def test_passthrough_page_one_row_per_protocol(browser):
    text = browser.get("/passthrough").text
    for title in ("PPTP", "L2TP", "IPsec", "SSTP", "SIP ALG", "RTSP ALG"):
        assert f"<strong>{title}</strong>" in text
    assert "Very Low" in text and "Legacy Windows dial-up, old devices" in text
    assert "Other SSTP inside TLS cannot be told from HTTPS and passes." in text  # the honesty
    assert 'id="warning-pptp"' in text


def test_enabling_pptp_reaches_the_engine_and_warns(browser, backend):
    assert pptp_probe(backend)["reason"] == "pptp_disabled"
    response = browser.post("/passthrough", {"helper-pptp": "on", "helper-sstp": "on"})
    assert response.location == "/passthrough"
    page = browser.get("/passthrough").text
    assert "PPTP passthrough is now on" in page
    assert 'name="helper-pptp" checked' in page
    assert backend.get_config().nat.helper_enabled("pptp")
    assert pptp_probe(backend)["verdict"] == "forwarded"
    # Stored atomically, so a reboot keeps it.
    backend.reboot()
    assert pptp_probe(backend)["verdict"] == "forwarded"


def test_passthrough_change_keeps_unrelated_flows(browser, backend):
    first = backend.probe("lan", "udp", "192.168.1.10", 5000, "198.51.100.1", 53)
    browser.post("/passthrough", {"helper-pptp": "on"})
    mappings = backend.mappings()
    assert any(m["external"] == first["source"] for m in mappings)
    assert "connections were reset" not in browser.get("/passthrough").text


def test_a_protocols_ports_are_set_on_the_passthrough_page(browser, backend):
    response = browser.post("/passthrough", {"helper-rtsp": "on", "ports-rtsp": "554, 8554"})
    assert response.location == "/passthrough"
    assert backend.get_config().nat.helper_ports == ((554, "rtsp"), (8554, "rtsp"))
    assert 'value="554, 8554"' in browser.get("/passthrough").text
    refused = browser.post("/passthrough", {"helper-rtsp": "on", "ports-rtsp": "554, eighty"})
    assert refused.status_code == 422 and "expected port numbers" in refused.text
    assert backend.get_config().nat.helper_ports == ((554, "rtsp"), (8554, "rtsp"))  # kept
    browser.post("/passthrough", {"helper-rtsp": "on", "ports-rtsp": "554"})  # its own again
    assert backend.get_config().nat.helper_ports == ()


def test_sip_direct_media_is_a_box_on_the_passthrough_page(browser, backend):
    page = browser.get("/passthrough").text
    assert 'id="sip_direct_media" name="sip_direct_media" checked' in page
    browser.post("/passthrough", {"helper-sip": "on"})  # the box left unticked
    assert backend.get_config().nat.sip_direct_media is False
    assert 'name="sip_direct_media" >' in browser.get("/passthrough").text
    browser.post("/passthrough", {"helper-sip": "on", "sip_direct_media": "on"})
    assert backend.get_config().nat.sip_direct_media is True


def test_passthrough_error_next_to_the_field(browser, backend):
    response = browser.post("/passthrough", {"sstp_servers": "vpn.example.com bad_name!"})
    assert response.status_code == 422
    assert 'data-field="sstp_servers[1]"' in response.text
    assert backend.get_config().nat.sstp_servers == ()


def forward_row(i, **fields):
    return {f"fw-{i}-{k}": str(v) for k, v in fields.items()}


def test_nat_page_adds_and_deletes_port_forwards(browser, backend):
    data = {
        "profile": "restricted-cone",
        "fw_count": "0",
        **forward_row(0, name="web", proto="tcp", ext_port=8080, host="192.168.1.20", host_port=80),
    }
    assert browser.post("/nat", data).status_code == 302
    forwards = backend.get_config().nat.port_forwards
    assert [(f.ext_port, f.host, f.host_port) for f in forwards] == [(8080, "192.168.1.20", 80)]
    inbound = backend.probe("wan", "tcp", "198.51.100.5", 3333, "203.0.113.1", 8080)
    assert inbound["destination"] == "192.168.1.20:80"
    page = browser.get("/nat").text
    assert 'value="8080"' in page
    data = {"profile": "restricted-cone", "fw_count": "1", **forward_row(0, ext_port=8080)}
    data["fw-0-delete"] = "on"
    assert browser.post("/nat", data).status_code == 302
    assert backend.get_config().nat.port_forwards == ()


def test_nat_page_switches_flow_offloading(browser, backend):
    assert 'id="flow_offload" name="flow_offload" >' in browser.get("/nat").text  # unticked
    data = {"profile": "restricted-cone", "fw_count": "0", "flow_offload": "on"}
    assert browser.post("/nat", data).status_code == 302
    assert backend.get_config().nat.flow_offload is True
    assert 'name="flow_offload" checked' in browser.get("/nat").text
    del data["flow_offload"]  # an unticked box is not in the form
    assert browser.post("/nat", data).status_code == 302
    assert backend.get_config().nat.flow_offload is False


def test_nat_errors_next_to_the_field_and_nothing_saved(browser, backend):
    before = backend.get_config()
    data = {
        "profile": "restricted-cone",
        "fw_count": "0",
        **forward_row(0, proto="tcp", ext_port=8080, host="10.0.0.5"),
        "dmz_host": "",
    }
    response = browser.post("/nat", data)
    assert response.status_code == 422
    assert 'data-field="fw-0-host"' in response.text
    assert "is not in 192.168.1.0/24" in response.text
    assert 'value="10.0.0.5"' in response.text  # what was typed stays
    response = browser.post("/nat", {"profile": "restricted-cone", "dmz_host": "8.8.8.8"})
    assert 'data-field="dmz_host"' in response.text
    response = browser.post("/nat", {"profile": "no-such-profile"})
    assert 'data-field="profile"' in response.text
    assert backend.get_config() == before


def test_nat_profile_change_says_connections_reset(browser, backend):
    backend.probe("lan", "udp", "192.168.1.10", 5000, "198.51.100.1", 53)
    browser.post("/nat", {"profile": "symmetric"})
    assert backend.get_config().nat.profile == "symmetric"
    assert "existing connections were reset" in browser.get("/nat").text
    assert backend.mappings() == []


def test_lan_page_changes_the_hostname_and_dhcp_pool_and_says_applied(browser, backend):
    data = {"hostname": "edge", "dhcp_enabled": "on", "first": "192.168.1.20",
            "last": "192.168.1.40", "lease_time": "600"}  # fmt: skip
    assert browser.post("/lan", data).status_code == 302
    config = backend.get_config()
    assert config.hostname == "edge"
    assert (config.dhcp.first, config.dhcp.last, config.dhcp.lease_time) == (
        "192.168.1.20", "192.168.1.40", 600)  # fmt: skip
    page = browser.get("/lan").text
    assert "LAN &amp; DHCP settings saved and applied." in page and "Restart needed" not in page
    assert 'value="192.168.1.20"' in page


def test_lan_page_errors_next_to_the_field_and_nothing_saved(browser, backend):
    before = backend.get_config()
    data = {"hostname": "edge", "dhcp_enabled": "on", "first": "10.0.0.5",
            "last": "192.168.1.40", "lease_time": "600"}  # fmt: skip
    response = browser.post("/lan", data)
    assert response.status_code == 422
    assert 'data-field="dhcp.first"' in response.text and 'value="10.0.0.5"' in response.text
    response = browser.post("/lan", {**data, "first": "192.168.1.20", "hostname": "no spaces"})
    assert 'data-field="hostname"' in response.text
    assert backend.get_config() == before


def test_dmz(browser, backend):
    assert browser.post("/nat", {"profile": "restricted-cone", "dmz_host": "192.168.1.50"})
    result = backend.probe("wan", "udp", "198.51.100.5", 3333, "203.0.113.1", 9999)
    assert result["destination"] == "192.168.1.50:9999"


def test_user_text_is_escaped_everywhere_it_is_shown(browser, backend):
    evil = '<script>alert("x")</script>'
    data = {"profile": "restricted-cone", "fw_count": "0"}
    data.update(forward_row(0, name=evil, proto="tcp", ext_port=8081, host="192.168.1.20"))
    assert browser.post("/nat", data).status_code == 302
    page = browser.get("/nat").text
    assert evil not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    for path in (f"/connections?q={evil}", f"/monitor?q={evil}", f"/login?next={evil}"):
        assert evil not in browser.get(path).text, path


def test_connections_filter(browser, backend):
    feed_sample_traffic(backend)
    all_rows = browser.get("/connections").text
    assert "198.51.100.10:443" in all_rows and "198.51.100.53:53" in all_rows
    udp = browser.get("/connections?proto=udp").text
    assert "198.51.100.53:53" in udp and "198.51.100.10:443" not in udp
    text = browser.get("/connections?q=198.51.100.10").text
    assert "198.51.100.10:443" in text and "198.51.100.53" not in text


def test_monitor_highlights_filters_and_exports(browser, backend):
    feed_sample_traffic(backend)
    page = browser.get("/monitor").text
    assert '<tr class="anomaly">' in page and "negotiation_burst" in page
    only = browser.get("/monitor?anomalies=1").text
    assert "vpn_session_refused</td>" not in only and "negotiation_burst" in only
    ipsec = browser.get("/monitor?protocol=ipsec").text
    assert "ipsec" in ipsec and "negotiation_burst" not in ipsec
    csv_text = browser.get("/monitor/export.csv?protocol=pptp").text
    assert csv_text.splitlines()[0].startswith("time,uptime_s,event")
    assert "negotiation_burst" in csv_text and "ipsec" not in csv_text
    rows = json.loads(browser.get("/monitor/export.json?anomalies=1").text)
    assert rows and all(r["anomaly"] for r in rows)
    assert browser.get("/monitor/export.xml").status_code == 404


def test_system_backup_and_restore(browser, backend):
    browser.post("/passthrough", {"helper-l2tp": "on"})
    backup = browser.get("/system/backup")
    assert "attachment" in backup.headers["Content-Disposition"]
    saved = json.loads(backup.text)
    browser.post("/passthrough", {})
    assert not backend.get_config().nat.helper_enabled("l2tp")
    upload = {"backup": (io.BytesIO(json.dumps(saved).encode()), "natbox-config.json")}
    response = browser.post("/system/restore", upload, content_type="multipart/form-data")
    assert response.status_code == 302
    assert backend.get_config().nat.helper_enabled("l2tp")
    broken = {"backup": (io.BytesIO(b"{nope"), "x.json")}
    browser.post("/system/restore", broken, content_type="multipart/form-data")
    assert "Restore refused" in browser.get("/system").text
    invalid = {**saved, "nat": {**saved["nat"], "dmz_host": "1.2.3.4"}}
    bad = {"backup": (io.BytesIO(json.dumps(invalid).encode()), "x.json")}
    browser.post("/system/restore", bad, content_type="multipart/form-data")
    assert "nat.dmz_host" in browser.get("/system").text
    assert backend.get_config().nat.helper_enabled("l2tp")


def test_reboot_shows_the_restarting_page(browser, backend):
    backend.probe("lan", "udp", "192.168.1.10", 5000, "198.51.100.1", 53)
    response = browser.post("/system/reboot")
    assert response.status_code == 200
    assert "The router is restarting" in response.text
    assert "restarting.js" in response.text
    assert backend.mappings() == []
    assert browser.get("/api/v1/status").status_code == 200  # what the page polls


def test_factory_reset_needs_confirmation_then_logs_out(app, browser, backend):
    browser.post("/system/factory-reset")
    assert "Tick the box" in browser.get("/system").text
    assert backend.get_config().admin.password_hash
    response = browser.post("/system/factory-reset", {"confirm": "on"})
    assert "resetting to factory settings" in response.text
    assert backend.get_config() == RouterConfig()
    assert browser.get("/").status_code == 302
    assert Browser(app.test_client()).login(PASSWORD).status_code == 401
    assert Browser(app.test_client()).login("admin").location == "/password"


def test_restart_needed_is_announced(api, browser):
    api.call("PUT", "/config", json={"wan": {"mode": "dhcp"}})
    assert "wait for a restart: wan" in browser.get("/").text


def test_system_log_and_firmware(browser):
    assert "login" in browser.get("/system").text
    page = browser.get("/firmware").text
    assert "slot <strong>A</strong>" in page and "(empty)" in page
