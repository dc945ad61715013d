"""The engine's driver interface, counters, table snapshot and reconfiguration."""

import random

from playbook import CLIENT, CLIENT2, PUBLIC, SERVER, Lab, tcp_handshake, udp_in, udp_out
from scapy.layers.inet import UDP

from nat import Drop, Engine, NatConfig, Transmit
from nat.api import NatEngine
from nat.config import Behaviour
from nat.direction import LAN, WAN
from nat.engine import verify_engine_invariants


def test_receive_advance_and_configure_return_actions():
    engine = Engine(NatConfig(), helpers=[])
    (sent,) = engine.receive(LAN, bytes(udp_out()), 1.0)
    assert isinstance(sent, Transmit) and sent.side == WAN
    assert engine.advance(2.0) == []
    logs = engine.configure(NatConfig(hairpinning=False), 3.0)
    assert [log.event for log in logs] == ["config_applied"]
    assert engine.now == 3.0


def test_the_engine_is_what_a_driver_expects():
    assert isinstance(Engine(NatConfig(), helpers=[]), NatEngine)


def test_mapping_count_and_vpn_sessions_for_the_daemon():
    lab = Lab()
    assert lab.engine.mapping_count == 0 and lab.engine.vpn_sessions(lab.now) == {}
    lab.lan(udp_out())
    assert lab.engine.mapping_count == 1
    engine = Engine(NatConfig())  # the default helpers share one VPN monitor
    monitor = next(iter(engine.helpers.helpers.values())).monitor
    assert engine.vpn_sessions(5.0) == monitor.snapshot(5.0)


def test_every_drop_is_counted_under_its_reason():
    lab = Lab()
    lab.wan(udp_in(53, 5000))
    lab.lan(b"\x00" * 10)
    lab.lan(udp_out(dst="192.168.1.1"))
    assert lab.counters.snapshot() == {"lan_local": 1, "malformed_short": 1, "no_mapping": 1}


def test_snapshot_lists_mappings_with_sessions_for_the_ui():
    lab = Lab()
    tcp_handshake(lab)
    lab.lan(udp_out(sport=5000, dport=53))
    rows = lab.engine.snapshot()
    assert [r["proto"] for r in rows] == ["tcp", "udp"]
    assert rows[0]["internal"] == f"{CLIENT}:40000" and rows[0]["external"] == f"{PUBLIC}:40000"
    assert rows[0]["sessions"] == [
        {"remote": f"{SERVER}:80", "state": "established", "expires_in": 7440.0, "helper": None}
    ]
    assert rows[1]["sessions"][0]["expires_in"] == 300.0


def test_changing_nat_behaviour_flushes_the_table_and_says_so():
    lab = Lab()
    lab.lan(udp_out())
    result = lab.configure(NatConfig(mapping=Behaviour.ADDRESS_AND_PORT_DEPENDENT))
    flushed = [log for log in result.logs if log.event == "table_flushed"]
    assert flushed and flushed[0].fields["mappings"] == 1
    assert lab.engine.snapshot() == []


def test_changing_timeouts_keeps_the_table():
    lab = Lab()
    out = lab.lan(udp_out()).only(WAN)
    lab.configure(NatConfig(inbound_refresh=False))
    assert lab.wan(udp_in(53, out[UDP].sport)).only(LAN)


def test_expiry_with_several_sessions_on_one_mapping():
    lab = Lab(NatConfig(filtering=Behaviour.ENDPOINT_INDEPENDENT))
    port = lab.lan(udp_out(sport=5000)).only(WAN)[UDP].sport
    for i in range(5):
        lab.now += 10
        lab.wan(udp_in(1000 + i, port, src=f"198.51.100.{50 + i}")).only(LAN)
    lab.advance(265)  # the first two sessions (t=0, t=10) are due, the others are not
    rows = lab.engine.snapshot()
    assert len(rows) == 1 and len(rows[0]["sessions"]) == 4
    lab.advance(60)
    assert lab.engine.snapshot() == []
    assert not verify_engine_invariants(lab.engine)


def test_next_deadline_tells_the_driver_when_to_wake():
    lab = Lab()
    assert lab.engine.next_deadline() is None
    lab.lan(udp_out())
    assert lab.engine.next_deadline() == lab.now + 300


def test_invariants_hold_after_random_traffic():
    rng = random.Random(4)
    lab = Lab(NatConfig(port_range=(1024, 1200), port_parity=False))
    for _ in range(2000):
        host = rng.choice([CLIENT, CLIENT2, "192.168.1.30"])
        sport = rng.randrange(1024, 1300)
        result = lab.lan(udp_out(src=host, sport=sport, dport=rng.choice([53, 123])))
        for side, packet in result.transmitted:
            if side == WAN and rng.random() < 0.5:
                lab.wan(udp_in(packet[UDP].dport, packet[UDP].sport))
        if rng.random() < 0.01:
            lab.advance(rng.choice([1, 60, 400]))
    assert not verify_engine_invariants(lab.engine)
    assert lab.counters["internal_error"] == 0


def test_engine_error_is_contained_counted_and_logged(monkeypatch):
    engine = Engine(NatConfig(), helpers=[])

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "_lan_slow", broken)
    actions = engine.receive(LAN, bytes(udp_out()), 1.0)
    assert actions[0] == Drop(LAN, "internal_error")
    assert actions[1].event == "engine_error"
    assert engine.counters["internal_error"] == 1
    # Where it went wrong, for the bug report: the innermost frame.
    where = actions[1].fields["where"]
    assert where.startswith("test_engine.py:") and where.endswith(" broken")
