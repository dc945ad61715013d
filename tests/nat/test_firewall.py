"""The stateful firewall: unsolicited inbound traffic, port forwards, DMZ."""

from playbook import CLIENT, CLIENT2, PUBLIC, SERVER, Lab, tcp_in, tcp_out, udp_in, udp_out
from scapy.layers.inet import IP, TCP, UDP

from nat import NatConfig, PortForward
from nat.direction import LAN, WAN

WEB = PortForward("tcp", 8080, CLIENT2, 80, name="web")
GAME = PortForward("udp", 27015, CLIENT2, 27015, ext_port_end=27017)


def test_unsolicited_inbound_is_dropped_by_default():
    lab = Lab()
    assert lab.wan(udp_in(53, 5000)).drops == ["no_mapping"]
    assert lab.wan(tcp_in(80, 40000, "S", seq=1, ack=0)).drops == ["no_mapping"]
    assert lab.counters["no_mapping"] == 2


def test_port_forward_admits_any_remote_and_replies_use_the_forwarded_port():
    lab = Lab(NatConfig(port_forwards=(WEB,)))
    syn = lab.wan(tcp_in(51000, 8080, "S", seq=1, ack=0)).only(LAN)
    assert (syn[IP].dst, syn[TCP].dport) == (CLIENT2, 80)
    synack = lab.lan(tcp_out(80, 51000, "SA", src=CLIENT2, seq=9, ack=2)).only(WAN)
    assert (synack[IP].src, synack[TCP].sport) == (PUBLIC, 8080)
    assert lab.engine.snapshot()[0]["kind"] == "forward"


def test_port_forward_range_maps_port_by_port():
    lab = Lab(NatConfig(port_forwards=(GAME,)))
    for port in (27015, 27016, 27017):
        got = lab.wan(udp_in(40000, port)).only(LAN)
        assert got[UDP].dport == port and got[IP].dst == CLIENT2
    assert lab.wan(udp_in(40000, 27018)).dropped


def test_port_forward_survives_idle_time_and_its_port_is_never_allocated():
    lab = Lab(NatConfig(port_forwards=(WEB,)))
    lab.advance(100_000)
    assert lab.wan(tcp_in(51000, 8080, "S", seq=1, ack=0)).only(LAN)
    # A LAN host whose source port is 8080 gets another external TCP port; 8080/udp is free.
    assert lab.lan(udp_out(sport=8080)).only(WAN)[UDP].sport == 8080
    tcp = lab.lan(tcp_out(8080, 443, "S")).only(WAN)
    assert tcp[TCP].sport != 8080


def test_changing_forwards_keeps_unrelated_flows():
    lab = Lab(NatConfig(port_forwards=(WEB,)))
    out = lab.lan(udp_out()).only(WAN)
    lab.configure(NatConfig(port_forwards=(WEB, GAME)))
    assert lab.wan(udp_in(53, out[UDP].sport)).only(LAN)  # the UDP flow survived
    lab.configure(NatConfig(port_forwards=(GAME,)))
    assert lab.wan(tcp_in(51000, 8080, "S", seq=1, ack=0)).dropped  # the web forward is gone
    assert lab.wan(udp_in(40000, 27016)).only(LAN)


def test_dmz_host_receives_unsolicited_traffic():
    lab = Lab(NatConfig(dmz_host=CLIENT2))
    got = lab.wan(udp_in(40000, 9999)).only(LAN)
    assert (got[IP].dst, got[UDP].dport) == (CLIENT2, 9999)
    reply = lab.lan(udp_out(sport=9999, dport=40000, src=CLIENT2)).only(WAN)
    assert (reply[IP].src, reply[UDP].sport) == (PUBLIC, 9999)
    # Existing mappings of other hosts still win over the DMZ.
    out = lab.lan(udp_out(sport=5000)).only(WAN)
    assert lab.wan(udp_in(53, out[UDP].sport)).only(LAN)[IP].dst == CLIENT


def test_forwarded_port_hairpins_from_the_lan():
    lab = Lab(NatConfig(port_forwards=(WEB,)))
    got = lab.lan(tcp_out(40000, 8080, "S", dst=PUBLIC)).only(LAN)
    assert (got[IP].dst, got[TCP].dport) == (CLIENT2, 80)
    assert got[IP].src == PUBLIC


def test_traffic_the_router_must_not_forward():
    lab = Lab()
    assert lab.lan(udp_out(dst="192.168.1.1")).drops == ["lan_local"]
    assert lab.lan(udp_out(dst="192.168.1.77")).drops == ["lan_local"]
    assert lab.lan(udp_out(dst="224.0.0.251")).drops == ["not_routable"]
    assert lab.lan(udp_out(dst="255.255.255.255")).drops == ["not_routable"]
    assert lab.lan(udp_out(src="10.9.9.9")).drops == ["spoofed_source"]
    assert lab.wan(udp_in(53, 5000, dst="203.0.113.99")).drops == ["not_for_us"]


def test_ttl_expiry_answers_time_exceeded_from_the_router():
    lab = Lab()
    result = lab.lan(udp_out(ttl=1))
    error = result.only(LAN)
    assert result.drops == ["ttl_exceeded"]
    assert error[IP].src == "192.168.1.1" and error[IP].dst == CLIENT
    assert error.getlayer("ICMP").type == 11
    out = lab.lan(udp_out(ttl=2)).only(WAN)
    assert out[IP].ttl == 1
    inbound = lab.wan(udp_in(53, out[UDP].sport, ttl=1))
    assert inbound.only(WAN)[IP].src == PUBLIC and inbound.drops == ["ttl_exceeded"]


def test_unsupported_protocols_are_counted():
    lab = Lab()
    assert lab.lan(IP(src=CLIENT, dst=SERVER, proto=132) / b"sctp").drops == [
        "protocol_unsupported"
    ]
