"""L2TP passthrough: the server may answer from another port; on and off."""

import struct

from playbook import CLIENT, CLIENT2, PUBLIC, SERVER2, Lab, udp_in, udp_out
from scapy.layers.inet import IP, UDP

from nat import NatConfig
from nat.config import Behaviour
from nat.direction import LAN, WAN
from nat.passthrough import default_helpers
from nat.passthrough.l2tp import parse_header

APD = Behaviour.ADDRESS_AND_PORT_DEPENDENT


def l2tp_control(tunnel_id, message_type):
    avp = struct.pack("!HHHH", 0x8008, 0, 0, message_type)
    body = struct.pack("!HHHH", tunnel_id, 0, 0, 0) + avp
    return struct.pack("!HH", 0xC802, 4 + len(body)) + body


def l2tp_lab(enabled=True, **settings):
    helpers = default_helpers()
    config = NatConfig(helpers=(("l2tp", enabled),), **settings)
    return Lab(config, helpers=helpers), helpers[0].monitor


def test_parse_header():
    assert parse_header(l2tp_control(7, 1)) == (7, 1)
    assert parse_header(struct.pack("!HHH", 0x0002, 9, 3)) == (9, None)  # data message
    assert parse_header(b"\x00\x03" + b"\0" * 10) is None  # not version 2
    assert parse_header(b"\xc8") is None


def test_server_may_answer_from_another_port_even_with_strict_filtering():
    lab, monitor = l2tp_lab(filtering=APD)
    port = lab.lan(udp_out(sport=1701, dport=1701, payload=l2tp_control(0, 1))).only(WAN)[UDP].sport
    reply = lab.wan(udp_in(33001, port, payload=l2tp_control(5, 2))).only(LAN)
    assert (reply[IP].dst, reply[UDP].dport, reply[UDP].sport) == (CLIENT, 1701, 33001)
    assert lab.lan(udp_out(sport=1701, dport=33001, payload=l2tp_control(9, 3))).only(WAN)
    session = monitor.snapshot(lab.now)["active"][0]
    assert session["ids"] == {"client_tunnel_id": 5, "server_tunnel_id": 9}
    assert session["packets"] == 3
    # Another server may not use the opening.
    assert lab.wan(udp_in(33001, port, src=SERVER2)).drops == ["filtered"]


def test_two_clients_to_one_server():
    lab, _ = l2tp_lab()
    ports = [
        lab.lan(udp_out(src=c, sport=1701, dport=1701, payload=l2tp_control(0, 1)))
        .only(WAN)[UDP]
        .sport
        for c in (CLIENT, CLIENT2)
    ]
    assert ports[0] != ports[1]
    for client, port in zip((CLIENT, CLIENT2), ports, strict=True):
        assert lab.wan(udp_in(1701, port, payload=l2tp_control(3, 2))).only(LAN)[IP].dst == client


def test_stopccn_counts_as_a_failure_and_the_session_ends_with_the_mapping():
    lab, monitor = l2tp_lab()
    port = lab.lan(udp_out(sport=1701, dport=1701, payload=l2tp_control(0, 1))).only(WAN)[UDP].sport
    for _ in range(5):
        lab.wan(udp_in(1701, port, payload=l2tp_control(5, 4)))
    assert monitor.anomalies[-1]["kind"] == "negotiation_burst"
    result = lab.advance(301)
    assert [log.event for log in result.logs] == ["vpn_session_end"]


def test_disabled_l2tp_blocks_udp_1701():
    lab, _ = l2tp_lab(enabled=False)
    assert lab.lan(udp_out(sport=1701, dport=1701)).drops == ["l2tp_disabled"]
    assert lab.wan(udp_in(1701, 1701)).drops == ["l2tp_disabled"]
    assert lab.lan(udp_out(sport=1702, dport=53)).only(WAN)  # other UDP unaffected


def test_enable_then_disable_tears_down():
    lab, monitor = l2tp_lab()
    port = lab.lan(udp_out(sport=1701, dport=1701)).only(WAN)[UDP].sport
    lab.configure(NatConfig(helpers=(("l2tp", False),)))
    assert monitor.snapshot(lab.now)["active"] == []
    assert lab.wan(udp_in(1701, port)).drops == ["l2tp_disabled"]
    assert PUBLIC


def test_malformed_l2tp_never_crashes_or_opens_another_server():
    lab, _ = l2tp_lab()
    for payload in (
        b"",
        b"\xc8",
        b"\xc8\x02\xff\xff",
        b"\x00\x02" + b"\xff" * 3,
        l2tp_control(1, 1)[:9],
        b"\xff" * 64,
    ):
        out = lab.lan(udp_out(sport=1701, dport=1701, payload=payload)).only(WAN)
        assert bytes(out[UDP].payload) == payload
    assert lab.counters["internal_error"] == 0
    assert lab.wan(udp_in(1701, 1701, src=SERVER2)).drops == ["filtered"]
