"""The live backend against a fake control socket: the rows the UI and the API show, the
order config -> store -> reload, and the API's answers checked against the OpenAPI document.
(The real daemon is driven in tests/webui/test_browser_live_netns.py.)"""

from __future__ import annotations

import json

import pytest
from openapi_check import check_response
from webui_clients import FAST_HASH, PASSWORD_HASH, ApiClient, FakeClock

from nat import Engine, NatConfig
from nat.passthrough import VpnMonitor, default_helpers
from router.model import AdminAccount, RouterConfig
from router.plan import restart_needed
from router.store import ConfigStore
from webui import create_app
from webui.backend import RouterUnavailable
from webui.live import DaemonError, LiveBackend, read_leases


class FakeDaemon:
    """Answers like router.daemon.Router.handle_request, from a real engine."""

    def __init__(self, store: ConfigStore, clock: FakeClock):
        self.store, self.clock = store, clock
        self.monitor = VpnMonitor()
        self.engine = Engine(NatConfig(), helpers=default_helpers(self.monitor))
        self.requests: list[str] = []
        self.reloaded: list[RouterConfig] = []
        self.started = store.load()  # the configuration whose addressing is in effect
        self.events = [
            {"time": 5.0, "event": "config_applied", "profile": "restricted-cone"},
            {"time": 7.0, "event": "vpn_session_refused", "protocol": "pptp"}
            | {"lan_host": "192.168.1.101", "server": "198.51.100.10", "reason": "disabled"},
        ]

    def __call__(self, path: str, cmd: str, **fields) -> dict:
        self.requests.append(cmd)
        now = self.clock()
        answers = {
            "status": lambda: {
                "lan": {"interface": "lan0", "address": "192.168.1.1"},
                "wan": {"interface": "wan0", "address": "203.0.113.2", "gateway": "203.0.113.1"},
                "uptime": now - 1.0,
                "restart_required": restart_needed(self.started, self.store.load()),
                "mappings": len(self.engine.snapshot()),
            },
            "counters": lambda: {
                "engine": {"pptp_disabled": 3, "forwarded": 10},
                "driver": {"lan_rx_frames": 42},
            },
            "mappings": lambda: {"mappings": self.engine.snapshot()},
            "events": lambda: {"events": self.events},
            "vpn_sessions": lambda: {"sessions": self.monitor.snapshot(now)},
            "reload": self._reload,
        }
        if cmd not in answers:
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        return {"ok": True, **answers[cmd]()}

    def _reload(self) -> dict:
        config = self.store.load()  # the daemon reads the file the UI has just written
        self.reloaded.append(config)
        flushed = self.engine.config.profile != config.nat.profile
        self.engine.configure(config.nat, self.clock())
        restart = restart_needed(self.started, config)
        return {"profile": config.nat.profile, "flushed": flushed, "restart_required": restart}


@pytest.fixture
def live(tmp_path):
    clock = FakeClock()
    store = ConfigStore(tmp_path / "config.json")
    admin = AdminAccount(password_hash=PASSWORD_HASH, must_change_password=False)
    store.save(RouterConfig(admin=admin))
    daemon = FakeDaemon(store, clock)
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(
        "1100 02:00:00:00:01:01 192.168.1.101 c1 *\n0 02:00:00:00:01:02 192.168.1.102 * *\n"
    )
    backend = LiveBackend(store, "/nonexistent.sock", str(leases), request=daemon, clock=clock,
                          wall=lambda: 1000.0)  # fmt: skip
    app = create_app(
        {"CLOCK": clock, "PASSWORD_METHOD": FAST_HASH, "CONFIG_PATH": str(store.path)}, backend
    )
    api = ApiClient(app.test_client())
    assert api.login().status_code == 200
    return backend, daemon, api


def test_status_maps_the_daemon_answers(live):
    _, _, api = live
    response = api.call("GET", "/status")
    check_response("GET", "/status", response)
    status = response.json
    assert status["wan"]["addresses"] == ["203.0.113.2"]
    assert status["counters"]["pptp_disabled"] == 3
    assert status["counters"]["driver_lan_rx_frames"] == 42
    assert status["dhcp_leases"][0] == {
        "hostname": "c1",
        "address": "192.168.1.101",
        "mac": "02:00:00:00:01:01",
        "expires_in": 100,
    }
    assert status["dhcp_leases"][1]["hostname"] == ""


def test_saving_stores_first_then_reloads_the_daemon(live):
    backend, daemon, api = live
    response = api.call("PUT", "/passthrough", json={"helpers": {"pptp": True}})
    assert response.status_code == 200
    assert daemon.reloaded[-1].nat.helper_enabled("pptp") is True
    assert backend.get_config().nat.helper_enabled("pptp") is True
    result = api.call("PUT", "/nat", json={"profile": "symmetric"}).json
    assert result["connections_reset"] is True  # the daemon's engine flushed its table


def test_applied_changes_are_also_saved_where_asked(live, tmp_path):
    backend, daemon, api = live
    backend.saved = ConfigStore(tmp_path / "saved.json")
    assert api.call("PUT", "/passthrough", json={"helpers": {"l2tp": True}}).status_code == 200
    assert daemon.reloaded[-1].nat.helper_enabled("l2tp") is True
    assert backend.saved.load().nat.helper_enabled("l2tp") is True


def test_vpn_events_sessions_and_log_come_from_the_daemon(live):
    _, _, api = live
    response = api.call("GET", "/vpn/events")
    check_response("GET", "/vpn/events", response)
    (row,) = response.json
    assert (row["event"], row["protocol"], row["lan_host"]) == (
        "vpn_session_refused",
        "pptp",
        "192.168.1.101",
    )
    check_response("GET", "/vpn/sessions", api.call("GET", "/vpn/sessions"))
    log = api.call("GET", "/system/log")
    check_response("GET", "/system/log", log)
    assert "config_applied" in [r["event"] for r in log.json]
    assert "vpn_session_refused" not in [r["event"] for r in log.json]


def test_probe_is_not_supported_live(live):
    _, _, api = live
    body = {"proto": "tcp", "src": "192.168.1.10", "sport": 1, "dst": "198.51.100.9", "dport": 1}
    response = api.call("POST", "/diagnostics/probe", json=body)
    assert response.status_code == 501
    check_response("POST", "/diagnostics/probe", response)


def test_a_refusing_or_missing_daemon_is_an_error(tmp_path):
    def refuse(path, cmd, **fields):
        return {"ok": False, "error": "no"}

    def missing(path, cmd, **fields):
        raise FileNotFoundError(path)

    for request in (refuse, missing):
        backend = LiveBackend(ConfigStore(tmp_path / "c.json"), "/x.sock", request=request)
        with pytest.raises(DaemonError):
            backend.mappings()


def test_leases_file_missing_or_odd():
    assert read_leases(None, 0) == []
    assert read_leases("/nonexistent/leases", 0) == []
    assert json.dumps(read_leases("/dev/null", 0)) == "[]"


def test_no_daemon_yet_is_503_with_retry_after_then_the_router_answers(live):
    """At boot the UI listens before the daemon's socket exists: the API says 503 and when
    to retry, a page shows the self-reloading "starting" page, and both work once it is up."""
    backend, daemon, api = live

    def not_there(path, cmd, **fields):
        raise FileNotFoundError(2, "No such file or directory", path)

    backend._request = not_there
    response = api.call("GET", "/status")
    check_response("GET", "/status", response)
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert "not answering" in response.json["error"]["message"]
    page = api.client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    assert 'id="restarting"' in page.text and "starting or not answering" in page.text
    backend._request = daemon  # the daemon is up
    assert api.call("GET", "/status").status_code == 200
    assert api.client.get("/").status_code == 200


def test_a_refusal_from_the_daemon_is_not_mistaken_for_a_starting_router(live):
    backend, _, _ = live
    with pytest.raises(DaemonError) as caught:
        backend._ask("no_such_command")
    assert not isinstance(caught.value, RouterUnavailable)


def test_what_waits_for_a_restart_is_the_daemons_word_and_survives_a_ui_restart(live):
    backend, daemon, _ = live
    config = backend.get_config()
    renamed = config.replace(hostname="edge")
    assert backend.apply_config(renamed).restart_required == []  # dnsmasq takes it live
    moved = renamed.replace(nat=renamed.nat.replace(lan_address="192.168.1.254"))
    assert backend.apply_config(moved).restart_required == ["nat.lan_address"]
    # A UI started afresh (the daemon still runs on the old addressing) says the same.
    fresh = LiveBackend(backend.store, "/nonexistent.sock", request=daemon, clock=daemon.clock)
    assert fresh.status()["restart_required"] == ["nat.lan_address"]
