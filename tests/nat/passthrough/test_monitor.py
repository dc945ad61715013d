"""nat/passthrough/monitor.py: VPN session events and anomaly flags."""

from nat.actions import Log
from nat.config import NatConfig
from nat.helpers import HelperContext
from nat.ipv4 import addr
from nat.output import Output
from nat.passthrough import monitor as monitor_module
from nat.passthrough.monitor import VpnMonitor

HOST, SERVER, OTHER = addr("192.168.1.10"), addr("198.51.100.10"), addr("198.51.100.20")


def context(now=0.0):
    ctx = HelperContext(Output(), NatConfig())
    ctx.now = now
    return ctx


def logs(ctx):
    return [a for a in ctx.output.take_logs() if isinstance(a, Log)]


def test_session_start_and_end_carry_hosts_ids_and_counts():
    ctx, monitor = context(10.0), VpnMonitor()
    session = monitor.start(ctx, "pptp", HOST, SERVER, call_id=7)
    session.count(100)
    session.count(50)
    ctx.now = 12.5
    monitor.end(ctx, session, "done")
    start, new_server, end = logs(ctx)
    assert start.event == "vpn_session_start" and start.fields["ids"] == {"call_id": 7}
    assert new_server.fields["kind"] == "new_vpn_server"
    assert end.fields["packets"] == 2
    assert end.fields["bytes"] == 150 and end.fields["duration"] == 2.5
    assert monitor.snapshot(13.0)["recent"][0]["state"] == "ended"


def test_a_known_server_is_not_flagged_again():
    ctx, monitor = context(), VpnMonitor()
    monitor.start(ctx, "ipsec", HOST, SERVER)
    monitor.start(ctx, "ipsec", HOST, SERVER)
    monitor.start(ctx, "ipsec", HOST, OTHER)
    assert [a["server"] for a in monitor.anomalies] == ["198.51.100.10", "198.51.100.20"]


def test_refusals_are_rate_limited_but_all_count_towards_a_burst():
    ctx, monitor = context(), VpnMonitor()
    for second in range(5):
        ctx.now = float(second)
        monitor.refused(ctx, "pptp", HOST, SERVER, "pptp_disabled")
    events = [log.event for log in logs(ctx)]
    assert events.count("vpn_session_refused") == 1
    assert events.count("vpn_anomaly") == 1
    assert monitor.anomalies[-1]["kind"] == "negotiation_burst"


def test_failures_spread_out_are_not_a_burst():
    ctx, monitor = context(), VpnMonitor()
    for minute in range(10):
        ctx.now = minute * 61.0
        monitor.failed(ctx, "l2tp", HOST, SERVER, "StopCCN")
    assert not monitor.anomalies


def test_unsolicited_floods_make_one_line_per_interval():
    ctx, monitor = context(), VpnMonitor()
    for i in range(100):
        ctx.now = i * 0.01
        monitor.unsolicited(ctx, "ipsec", SERVER, 500, 500)
    assert len(monitor.anomalies) == 1
    ctx.now = 20.0
    monitor.unsolicited(ctx, "ipsec", SERVER, 500, 500)
    assert len(monitor.anomalies) == 2


def test_active_table_is_bounded(monkeypatch):
    monkeypatch.setattr(monitor_module, "MAX_ACTIVE", 3)
    ctx, monitor = context(), VpnMonitor()
    sessions = [monitor.start(ctx, "esp", HOST, SERVER) for _ in range(5)]
    assert len(monitor.active) == 3
    assert sessions[0].end_reason == "monitor_full"


def test_refused_inbound_traffic_names_its_remote_not_the_routers_wan_address():
    from nat.direction import INBOUND
    from nat.ipv4 import build_header
    from nat.passthrough.ipsec import IpsecHelper

    ctx, monitor = context(), VpnMonitor()
    helper = IpsecHelper(monitor)
    wan = addr("203.0.113.2")
    for second in range(10):  # a server that keeps sending after IPsec was switched off
        ctx.now = float(second)
        packet = build_header(SERVER, wan, 50, 16) + bytes(16)
        helper.on_blocked(ctx, INBOUND, packet, 20, "ipsec_disabled")
    (refused,) = [log for log in logs(ctx) if log.event == "vpn_session_refused"]
    assert refused.fields["remote"] == "198.51.100.10" and refused.fields["direction"] == "inbound"
    assert "lan_host" not in refused.fields
    assert not monitor.anomalies  # no "negotiation burst" pinned on the router's own address
