"""The daemon's control commands that need no interfaces: answered from the engine alone."""

from nat import Engine, NatConfig
from nat.passthrough import VpnMonitor, default_helpers
from router.daemon import Router


def router_without_ports(monitor: VpnMonitor) -> Router:
    router = Router.__new__(Router)  # no sockets, no shield: only the engine is needed
    router.engine = Engine(NatConfig(), helpers=default_helpers(monitor))
    return router


def test_vpn_sessions_is_the_shared_monitor_snapshot():
    monitor = VpnMonitor()
    router = router_without_ports(monitor)
    lan_host, server = bytes([192, 168, 1, 10]), bytes([198, 51, 100, 1])
    monitor.start(router.engine.helpers.ctx, "pptp", lan_host, server, call_id=7)
    answer = router.handle_request({"cmd": "vpn_sessions"})
    assert answer["ok"] is True
    assert set(answer["sessions"]) == {"active", "recent", "anomalies"}
    assert [s["protocol"] for s in answer["sessions"]["active"]] == ["pptp"]


def test_unknown_commands_are_refused():
    router = router_without_ports(VpnMonitor())
    assert router.handle_request({"cmd": "nonsense"})["ok"] is False
