"""RFC 5382 (NAT behavioural requirements for TCP), one test per requirement."""

from playbook import (
    CLIENT,
    CLIENT2,
    PUBLIC,
    SERVER,
    SERVER2,
    Lab,
    tcp_handshake,
    tcp_in,
    tcp_out,
)
from scapy.layers.inet import ICMP, IP, TCP

from nat import NatConfig
from nat.config import Behaviour, UnsolicitedSyn
from nat.direction import LAN, WAN


def test_rfc5382_req1_endpoint_independent_mapping():
    lab = Lab()
    one = tcp_handshake(lab, sport=40000, dst=SERVER, dport=80)
    two = lab.lan(tcp_out(40000, 443, "S", dst=SERVER2)).only(WAN)[TCP].sport
    assert one == two == 40000


def test_rfc5382_req2_three_way_handshake_data_and_close():
    lab = Lab()
    ext = tcp_handshake(lab)
    assert lab.lan(tcp_out(40000, 80, "PA", seq=1001, ack=5001, payload=b"hi")).only(WAN)
    assert lab.wan(tcp_in(80, ext, "FA", seq=5001, ack=1003)).only(LAN)
    assert lab.lan(tcp_out(40000, 80, "FA", seq=1003, ack=5002)).only(WAN)
    assert lab.wan(tcp_in(80, ext, "A", seq=5002, ack=1004)).only(LAN)
    row = lab.engine.snapshot()[0]
    assert row["sessions"][0]["state"] == "closing"
    assert row["sessions"][0]["expires_in"] == 240  # transitory once closing


def test_rfc5382_req2_simultaneous_open():
    lab = Lab(NatConfig(filtering=Behaviour.ADDRESS_AND_PORT_DEPENDENT))
    ext = lab.lan(tcp_out(40000, 6000, "S", dst=SERVER)).only(WAN)[TCP].sport
    # The peer's SYN crosses ours: it must get in, and the connection establish.
    assert lab.wan(tcp_in(6000, ext, "S", seq=7000, ack=0)).only(LAN)[TCP].flags == "S"
    assert lab.lan(tcp_out(40000, 6000, "SA", seq=1000, ack=7001)).only(WAN)
    assert lab.wan(tcp_in(6000, ext, "A", seq=7001, ack=1001)).only(LAN)
    assert lab.engine.snapshot()[0]["sessions"][0]["state"] == "established"


def test_rfc5382_req2_syn_sent_then_inbound_syn_before_outbound_one():
    # Simultaneous open where the peer's SYN arrives first: held, then cancelled (REQ-4).
    lab = Lab()
    assert lab.wan(tcp_in(6000, 40000, "S", seq=7000, ack=0)).dropped
    ext = lab.lan(tcp_out(40000, 6000, "S")).only(WAN)[TCP].sport
    assert ext == 40000
    assert not lab.advance(10).transmitted  # no ICMP: the outbound SYN matched


def test_rfc5382_req3_filtering_drops_unsolicited_syn_to_a_mapped_port():
    lab = Lab()
    ext = tcp_handshake(lab)
    assert lab.wan(tcp_in(81, ext, "S", src=SERVER2, seq=1, ack=0)).drops == ["filtered"]
    lab_eif = Lab(NatConfig(filtering=Behaviour.ENDPOINT_INDEPENDENT))
    ext = tcp_handshake(lab_eif)
    admitted = lab_eif.wan(tcp_in(81, ext, "S", src=SERVER2, seq=1, ack=0)).only(LAN)
    assert admitted[IP].dst == CLIENT and admitted[TCP].dport == 40000


def test_rfc5382_req4_unsolicited_syn_silent_for_six_seconds_then_port_unreachable():
    lab = Lab()
    syn = tcp_in(5555, 23456, "S", seq=1, ack=0)
    assert lab.wan(syn).drops == ["no_mapping"]
    assert not lab.advance(5.9).transmitted
    error = lab.advance(0.2).only(WAN)
    assert error[ICMP].type == 3 and error[ICMP].code == 3
    assert error[IP].src == PUBLIC and error[IP].dst == SERVER


def test_rfc5382_req4_stealth_mode_never_answers():
    lab = Lab(NatConfig(unsolicited_syn=UnsolicitedSyn.DROP))
    lab.wan(tcp_in(5555, 23456, "S", seq=1, ack=0))
    assert not lab.advance(10).transmitted


def test_rfc5382_req5_established_idle_timeout_is_at_least_2h4m():
    lab = Lab()
    ext = tcp_handshake(lab)
    lab.advance(7439)
    assert lab.wan(tcp_in(80, ext, "A", seq=5001, ack=1001)).only(LAN)
    lab.advance(7441)
    assert lab.wan(tcp_in(80, ext, "A", seq=5001, ack=1001)).dropped


def test_rfc5382_req5_transitory_timeout_is_at_least_4_minutes():
    lab = Lab()
    ext = lab.lan(tcp_out(40000, 80, "S")).only(WAN)[TCP].sport
    lab.advance(239)
    assert lab.wan(tcp_in(80, ext, "SA")).only(LAN)
    lab2 = Lab()
    ext = lab2.lan(tcp_out(40000, 80, "S")).only(WAN)[TCP].sport
    lab2.advance(241)
    assert lab2.wan(tcp_in(80, ext, "SA")).dropped


def test_rfc5382_req7_no_port_overloading():
    lab = Lab()
    one = tcp_handshake(lab, src=CLIENT, sport=40000, dst=SERVER)
    two = tcp_handshake(lab, src=CLIENT2, sport=40000, dst=SERVER2)
    assert one != two


def test_rfc5382_req8_hairpinning_tcp():
    lab = Lab(NatConfig(port_forwards=()))
    from nat import PortForward

    lab.configure(NatConfig(port_forwards=(PortForward("tcp", 8080, CLIENT2, 80),)))
    syn = lab.lan(tcp_out(40000, 8080, "S", dst=PUBLIC)).only(LAN)
    assert syn[IP].dst == CLIENT2 and syn[TCP].dport == 80
    assert syn[IP].src == PUBLIC and syn[TCP].sport == 40000
    synack = lab.lan(tcp_out(80, 40000, "SA", src=CLIENT2, dst=PUBLIC, seq=9, ack=1001))
    back = synack.only(LAN)
    assert back[IP].dst == CLIENT and back[IP].src == PUBLIC and back[TCP].sport == 8080


def test_rfc5382_req9_icmp_errors_are_translated_for_tcp():
    lab = Lab()
    ext = tcp_handshake(lab)
    quoted = IP(src=PUBLIC, dst=SERVER) / TCP(sport=ext, dport=80, flags="A", seq=1001)
    error = IP(src="192.0.2.254", dst=PUBLIC) / ICMP(type=3, code=4, nexthopmtu=1400) / quoted
    inner = lab.wan(error).only(LAN)
    assert inner[IP].dst == CLIENT
    assert inner[ICMP].nexthopmtu == 1400
    assert inner[ICMP].payload.src == CLIENT and inner[ICMP].payload.payload.sport == 40000


def test_rfc5382_req10_icmp_does_not_end_a_tcp_connection():
    lab = Lab()
    ext = tcp_handshake(lab)
    quoted = IP(src=PUBLIC, dst=SERVER) / TCP(sport=ext, dport=80, flags="A", seq=1001)
    lab.wan(IP(src=SERVER, dst=PUBLIC) / ICMP(type=3, code=1) / quoted)
    assert lab.wan(tcp_in(80, ext, "A", seq=5001, ack=1001)).only(LAN)
    assert lab.engine.snapshot()[0]["sessions"][0]["state"] == "established"


def test_tcp_non_syn_cannot_open_a_session():
    lab = Lab()
    assert lab.lan(tcp_out(40000, 80, "A")).drops == ["tcp_invalid"]
    assert lab.wan(tcp_in(80, 40000, "SA")).drops == ["no_mapping"]
