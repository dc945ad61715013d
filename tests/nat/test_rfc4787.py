"""RFC 4787 (NAT behavioural requirements for unicast UDP), one test per requirement."""

from playbook import (
    CLIENT,
    CLIENT2,
    PUBLIC,
    ROUTER_LAN,
    SERVER,
    SERVER2,
    Lab,
    checksums_ok,
    udp_in,
    udp_out,
)
from scapy.layers.inet import ICMP, IP, UDP

from nat import NatConfig, Timeouts
from nat.config import Behaviour, PortAllocation
from nat.direction import LAN, WAN
from nat.ipv4 import addr
from nat.mtu import FragmentationNeeded, Fragmented, fit_to_mtu

EI = Behaviour.ENDPOINT_INDEPENDENT
AD = Behaviour.ADDRESS_DEPENDENT
APD = Behaviour.ADDRESS_AND_PORT_DEPENDENT


def external(lab, **kwargs):
    packet = lab.lan(udp_out(**kwargs)).only(WAN)
    return packet[IP].src, packet[UDP].sport


def test_rfc4787_req1_endpoint_independent_mapping_is_the_default():
    lab = Lab()
    first = external(lab, sport=5000, dst=SERVER, dport=3478)
    assert first == external(lab, sport=5000, dst=SERVER, dport=3479)
    assert first == external(lab, sport=5000, dst=SERVER2, dport=3478)


def test_rfc4787_req1_address_dependent_mapping_changes_with_the_remote_address():
    lab = Lab(NatConfig(mapping=AD))
    first = external(lab, sport=5000, dst=SERVER, dport=3478)
    assert first == external(lab, sport=5000, dst=SERVER, dport=3479)
    assert first != external(lab, sport=5000, dst=SERVER2, dport=3478)


def test_rfc4787_req1_address_and_port_dependent_mapping_changes_with_the_remote_port():
    lab = Lab(NatConfig(mapping=APD))
    first = external(lab, sport=5000, dst=SERVER, dport=3478)
    assert first != external(lab, sport=5000, dst=SERVER, dport=3479)
    assert first == external(lab, sport=5000, dst=SERVER, dport=3478)


def test_rfc4787_req2_paired_pooling_keeps_one_external_address_per_host():
    lab = Lab(NatConfig(wan_addresses=("203.0.113.1", "203.0.113.2")))
    first = {external(lab, sport=5000 + i, dport=53)[0] for i in range(5)}
    second = {external(lab, src=CLIENT2, sport=5000 + i, dport=53)[0] for i in range(5)}
    assert len(first) == 1 and len(second) == 1
    assert first != second  # the second host was paired with the less used address


def test_rfc4787_req3_no_port_overloading_between_hosts():
    lab = Lab()
    one = external(lab, src=CLIENT, sport=5000)
    two = external(lab, src=CLIENT2, sport=5000, dst=SERVER2)
    assert one[1] == 5000  # preserved for the first
    assert two[1] != one[1]  # never shared, even towards another server
    assert lab.wan(udp_in(53, two[1], src=SERVER2)).only(LAN)[IP].dst == CLIENT2


def test_rfc4787_req3_port_preservation_when_free():
    lab = Lab()
    assert external(lab, sport=40123)[1] == 40123


def test_rfc4787_req3a_well_known_ports_stay_well_known():
    lab = Lab()
    external(lab, src=CLIENT, sport=500, dport=500)
    _, port = external(lab, src=CLIENT2, sport=500, dport=500)
    assert 1 <= port <= 1023 and port != 500
    _, high = external(lab, src=CLIENT2, sport=1030)
    assert high >= 1024


def test_rfc4787_req4_port_parity_is_preserved():
    lab = Lab(NatConfig(port_allocation=PortAllocation.SEQUENTIAL, port_range=(20000, 20100)))
    for i, sport in enumerate((6001, 6002, 6003, 7000, 7001)):
        _, port = external(lab, sport=sport, src=f"192.168.1.{20 + i}")
        assert port % 2 == sport % 2


def test_rfc4787_req5_udp_mapping_lives_at_least_two_minutes_default_five():
    lab = Lab()
    _, port = external(lab)
    lab.advance(299)
    assert lab.wan(udp_in(53, port)).only(LAN)  # still there after 299 s of silence
    lab.advance(299)
    lab.advance(2)
    assert lab.wan(udp_in(53, port)).dropped
    assert NatConfig().timeouts.udp == 300 and NatConfig().timeouts.udp >= 120


def test_rfc4787_req6_outbound_traffic_refreshes_the_mapping():
    lab = Lab(NatConfig(inbound_refresh=False))
    _, port = external(lab)
    for _ in range(3):
        lab.advance(200)
        assert lab.wan(udp_in(53, port)).only(LAN)  # inbound alone does not refresh...
        external(lab)  # ...outbound does
    lab.advance(200)
    assert lab.wan(udp_in(53, port)).only(LAN)
    lab.advance(101)
    assert lab.wan(udp_in(53, port)).dropped  # 301 s after the last outbound packet


def test_rfc4787_req8_filtering_is_configurable():
    def admitted(filtering):
        lab = Lab(NatConfig(filtering=filtering))
        _, port = external(lab, dst=SERVER, dport=3478)
        return (
            bool(lab.wan(udp_in(3478, port, src=SERVER)).transmitted),
            bool(lab.wan(udp_in(3479, port, src=SERVER)).transmitted),
            bool(lab.wan(udp_in(3478, port, src=SERVER2)).transmitted),
        )

    assert admitted(EI) == (True, True, True)
    assert admitted(AD) == (True, True, False)
    assert admitted(APD) == (True, False, False)


def test_rfc4787_req8_default_filtering_is_address_dependent():
    assert NatConfig().filtering is AD and NatConfig().mapping is EI


def test_rfc4787_req9_hairpinning_with_external_source_address_req9a():
    lab = Lab()
    _, port_b = external(lab, src=CLIENT2, sport=6000, dst=SERVER)
    # ADF: B must first have talked to A's external address for A to get in; it did not.
    assert lab.lan(udp_out(src=CLIENT, sport=5000, dst=PUBLIC, dport=port_b)).drops == ["filtered"]
    # B talks to A's external address; hairpinned, seen from A's public endpoint.
    lab2 = Lab(NatConfig(filtering=EI))
    _, port_b = external(lab2, src=CLIENT2, sport=6000, dst=SERVER)
    result = lab2.lan(udp_out(src=CLIENT, sport=5000, dst=PUBLIC, dport=port_b))
    packet = result.only(LAN)
    assert packet[IP].dst == CLIENT2 and packet[UDP].dport == 6000
    assert packet[IP].src == PUBLIC and packet[UDP].sport == 5000  # REQ-9a
    reply = lab2.lan(udp_out(src=CLIENT2, sport=6000, dst=PUBLIC, dport=5000)).only(LAN)
    assert reply[IP].dst == CLIENT and reply[IP].src == PUBLIC and reply[UDP].sport == 6000


def test_rfc4787_req9_hairpinning_can_be_switched_off():
    lab = Lab(NatConfig(filtering=EI, hairpinning=False))
    _, port_b = external(lab, src=CLIENT2, sport=6000)
    assert lab.lan(udp_out(src=CLIENT, dst=PUBLIC, dport=port_b)).drops == ["hairpin_disabled"]


def test_rfc4787_req10_helpers_are_off_by_default_with_one_switch_each():
    from nat.helpers import Helper

    class Probe(Helper):
        name = "probe"
        udp_ports = frozenset({7777})

    assert Probe.default_enabled is False
    lab = Lab(helpers=[Probe()])
    assert lab.lan(udp_out(dport=7777)).drops == ["probe_disabled"]
    lab.configure(NatConfig(helpers=(("probe", True),)))
    assert lab.lan(udp_out(dport=7777)).only(WAN)


def test_rfc4787_req11_behaviour_is_deterministic():
    def run():
        lab = Lab(NatConfig(port_allocation=PortAllocation.RANDOM, random_seed=7))
        return [external(lab, src=f"192.168.1.{10 + i}", sport=5000)[1] for i in range(20)]

    first = run()
    assert first == run()
    assert len(set(first)) == 20


def test_rfc4787_req12_icmp_does_not_end_a_mapping():
    lab = Lab()
    _, port = external(lab)
    sent = IP(src=PUBLIC, dst=SERVER) / UDP(sport=port, dport=53) / b"query"
    error = IP(src=SERVER, dst=PUBLIC) / ICMP(type=3, code=3) / bytes(sent)
    assert lab.wan(error).only(LAN)[IP].dst == CLIENT
    assert lab.wan(udp_in(53, port)).only(LAN)  # the mapping survived the error


# REQ-13 is decided by nat.mtu.fit_to_mtu, which the driver calls with the egress link's MTU
# (the engine itself forwards whatever size it gets: GSO super-frames exceed any MTU).


def test_rfc4787_req13_df_set_and_too_big_gives_fragmentation_needed():
    lab = Lab()
    big = bytes(udp_out(payload=b"x" * 1400, flags="DF"))
    translated = lab.lan(big).only(WAN)
    verdict = fit_to_mtu(bytes(translated), big, 1280, addr(ROUTER_LAN))
    assert isinstance(verdict, FragmentationNeeded)
    error = IP(verdict.error)
    assert error[ICMP].type == 3 and error[ICMP].code == 4 and error[ICMP].nexthopmtu == 1280
    assert error[IP].src == ROUTER_LAN and error[IP].dst == CLIENT
    assert bytes(error[ICMP].payload)[:20] == big[:20]  # it quotes the packet as sent
    assert checksums_ok(verdict.error)


def test_rfc4787_req13_df_clear_and_too_big_is_fragmented():
    lab = Lab()
    translated = lab.lan(udp_out(payload=bytes(range(256)) * 5)).only(WAN)
    verdict = fit_to_mtu(bytes(translated), b"", 576, addr(ROUTER_LAN))
    assert isinstance(verdict, Fragmented)
    pieces = [IP(bytes(piece)) for piece in verdict.pieces]
    assert len(pieces) == 3 and all(len(p) <= 576 for p in pieces)
    assert all(p[IP].src == PUBLIC and checksums_ok(bytes(p)) for p in pieces)
    payload = b"".join(bytes(p[IP].payload) for p in sorted(pieces, key=lambda p: p.frag))
    assert payload[8:] == bytes(range(256)) * 5


def fragments_of(packet, size=64):
    from scapy.layers.inet import fragment

    return fragment(packet, fragsize=size)


def test_rfc4787_req14_fragments_follow_their_first_fragment_in_order():
    lab = Lab()
    pieces = fragments_of(udp_out(payload=b"y" * 200, id=4242))
    out = [lab.lan(p).only(WAN) for p in pieces]
    assert all(p[IP].src == PUBLIC for p in out)
    assert out[0][UDP].sport == 5000


def test_rfc4787_req14_out_of_order_fragments_wait_for_the_first():
    lab = Lab()
    pieces = fragments_of(udp_out(payload=b"z" * 200, id=4343))
    held = [lab.lan(p) for p in reversed(pieces[1:])]
    assert all(not r.transmitted and not r.drops for r in held)
    released = lab.lan(pieces[0])
    assert len(released.transmitted) == len(pieces)
    assert {p[IP].src for _, p in released.transmitted} == {PUBLIC}


def test_rfc4787_req14_waiting_fragments_are_bounded_and_expire():
    lab = Lab()
    for i in range(5000):
        piece = IP(src=CLIENT, dst=SERVER, id=i % 65536, frag=10, proto=17) / (b"q" * 16)
        lab.lan(piece)
    assert lab.counters["fragment_buffer_full"] > 0
    assert lab.engine.fragments.waiting <= 4096
    lab.advance(31)
    assert lab.engine.fragments.waiting == 0
    assert lab.counters["fragment_expired"] > 0


def test_rfc4787_timeouts_are_configurable():
    lab = Lab(NatConfig(timeouts=Timeouts(udp=130)))
    _, port = external(lab)
    lab.advance(131)
    assert lab.wan(udp_in(53, port)).dropped
