"""RFC 7857 (updates to NAT behavioural requirements): sessions after a RST, and traffic that
must not keep a mapping alive."""

from playbook import (
    CLIENT,
    SERVER,
    Lab,
    tcp_handshake,
    tcp_in,
    tcp_out,
    udp_in,
    udp_out,
)
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.packet import Raw

from nat import NatConfig
from nat.direction import LAN, WAN

RST_HOLD = NatConfig().timeouts.tcp_rst
UDP_TIMEOUT = NatConfig().timeouts.udp


def tcp_rows(lab):
    return [row for row in lab.engine.snapshot() if row["proto"] == "tcp"]


def udp_rows(lab):
    return [row for row in lab.engine.snapshot() if row["proto"] == "udp"]


def reset_from_lan(lab) -> int:
    ext = tcp_handshake(lab, sport=40000, dport=80)
    rst = lab.lan(tcp_out(40000, 80, "R", seq=1001)).only(WAN)
    assert rst[TCP].sport == ext and rst[TCP].flags.R
    return ext


def reset_from_wan(lab) -> int:
    ext = tcp_handshake(lab, sport=40000, dport=80)
    rst = lab.wan(tcp_in(80, ext, "R", seq=5001, ack=0)).only(LAN)
    assert rst[TCP].dport == 40000 and rst[TCP].flags.R
    return ext


def test_rfc7857_tcp_rst_hold_default_is_4_minutes():
    assert RST_HOLD == 240


def test_rfc7857_session_is_kept_4_minutes_after_an_outbound_rst():
    lab = Lab()
    ext = reset_from_lan(lab)
    lab.advance(RST_HOLD - 1)
    # A late segment from the server is still translated for the reset session.
    late = lab.wan(tcp_in(80, ext, "A", seq=5001, ack=1001)).only(LAN)
    assert late[IP].dst == CLIENT and late[TCP].dport == 40000
    rows = tcp_rows(lab)
    assert len(rows) == 1 and rows[0]["sessions"][0]["state"] == "reset"


def test_rfc7857_session_is_kept_4_minutes_after_an_inbound_rst():
    lab = Lab()
    ext = reset_from_wan(lab)
    lab.advance(RST_HOLD - 1)
    out = lab.lan(tcp_out(40000, 80, "A", seq=1001, ack=5001)).only(WAN)
    assert out[TCP].sport == ext


def test_rfc7857_session_is_removed_4_minutes_after_an_outbound_rst():
    lab = Lab()
    ext = reset_from_lan(lab)
    lab.advance(RST_HOLD)
    assert tcp_rows(lab) == []
    assert lab.wan(tcp_in(80, ext, "A", seq=5001, ack=1001)).dropped


def test_rfc7857_session_is_removed_4_minutes_after_an_inbound_rst():
    lab = Lab()
    ext = reset_from_wan(lab)
    lab.advance(RST_HOLD)
    assert tcp_rows(lab) == []
    assert lab.wan(tcp_in(80, ext, "A", seq=5001, ack=1001)).dropped


def test_rfc7857_session_after_rst_does_not_keep_the_established_timeout():
    lab = Lab()
    reset_from_lan(lab)
    rows = tcp_rows(lab)
    assert rows[0]["sessions"][0]["expires_in"] <= RST_HOLD


def test_rfc7857_inbound_icmp_error_does_not_refresh_a_udp_mapping():
    lab = Lab()
    sent = lab.lan(udp_out(5000, 53)).only(WAN)
    lab.advance(200)
    error = IP(src=SERVER, dst=sent[IP].src) / ICMP(type=3, code=3) / Raw(bytes(sent))
    lab.wan(error).only(LAN)  # translated, but must not refresh
    lab.advance(UDP_TIMEOUT - 200)
    assert udp_rows(lab) == []
    assert lab.wan(udp_in(53, sent[UDP].sport)).dropped


def test_rfc7857_inbound_icmp_error_does_not_refresh_a_tcp_session():
    lab = Lab()
    syn = lab.lan(tcp_out(40000, 80, "S")).only(WAN)  # transitory: 240 s
    lab.advance(200)
    error = IP(src=SERVER, dst=syn[IP].src) / ICMP(type=3, code=1) / Raw(bytes(syn))
    lab.wan(error).only(LAN)
    lab.advance(NatConfig().timeouts.tcp_transitory - 200)
    assert tcp_rows(lab) == []


def test_rfc7857_outbound_icmp_error_in_reply_to_inbound_traffic_does_not_refresh():
    # Inbound traffic does not refresh here, so only the LAN host's error could.
    lab = Lab(NatConfig(inbound_refresh=False))
    ext = lab.lan(udp_out(5000, 53)).only(WAN)[UDP].sport
    lab.advance(200)
    probe = lab.wan(udp_in(53, ext, payload=b"probe")).only(LAN)
    error = IP(src=CLIENT, dst=SERVER) / ICMP(type=3, code=3) / Raw(bytes(probe))
    lab.lan(error).only(WAN)
    lab.advance(UDP_TIMEOUT - 200)
    assert udp_rows(lab) == []
    assert lab.wan(udp_in(53, ext)).dropped


def test_rfc7857_outbound_traffic_still_refreshes_the_mapping():
    # The control for the tests above: ordinary outbound traffic does refresh.
    lab = Lab()
    ext = lab.lan(udp_out(5000, 53)).only(WAN)[UDP].sport
    lab.advance(200)
    lab.lan(udp_out(5000, 53)).only(WAN)
    lab.advance(UDP_TIMEOUT - 200)
    assert len(udp_rows(lab)) == 1
    assert lab.wan(udp_in(53, ext)).only(LAN)[UDP].dport == 5000
