"""RFC 6888 (requirements for CGNs): port quotas, exhaustion and the port reuse delay."""

from playbook import (
    CLIENT,
    CLIENT2,
    PUBLIC,
    ROUTER_LAN,
    SERVER,
    Lab,
    tcp_out,
    udp_in,
    udp_out,
)
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror

from nat import NatConfig, Timeouts
from nat.direction import LAN, WAN

TINY = (1024, 1027)  # four external ports


def external_port(lab, **kwargs) -> int:
    return lab.lan(udp_out(**kwargs)).only(WAN)[UDP].sport


def assert_translates(lab, sport: int, ext: int, src: str = CLIENT) -> None:
    """The mapping sport -> ext still works both ways."""
    assert external_port(lab, sport=sport, src=src) == ext
    back = lab.wan(udp_in(53, ext)).only(LAN)
    assert back[IP].dst == src and back[UDP].dport == sport


def udp_rows(lab):
    return [row for row in lab.engine.snapshot() if row["proto"] == "udp"]


# -- per-subscriber limits ------------------------------------------------------------------------


def test_rfc6888_per_host_quota_drops_new_flows():
    lab = Lab(NatConfig(per_host_quota=2))
    first = external_port(lab, sport=5000)
    second = external_port(lab, sport=5001)
    result = lab.lan(udp_out(sport=5002))
    assert result.drops == ["host_quota"]
    assert not [side for side, _ in result.transmitted if side == WAN]
    assert lab.counters["host_quota"] == 1
    # TCP counts against the same quota.
    assert lab.lan(tcp_out(sport=40000)).drops == ["host_quota"]
    # Existing mappings keep working.
    assert_translates(lab, 5000, first)
    assert_translates(lab, 5001, second)


def test_rfc6888_per_host_quota_logs_mapping_failed():
    lab = Lab(NatConfig(per_host_quota=1))
    external_port(lab, sport=5000)
    result = lab.lan(udp_out(sport=5001))
    failed = [log for log in result.logs if log.event == "mapping_failed"]
    assert len(failed) == 1
    assert failed[0].fields["reason"] == "host_quota"
    assert failed[0].fields["host"] == CLIENT


def test_rfc6888_per_host_quota_answers_the_host_with_admin_prohibited():
    lab = Lab(NatConfig(per_host_quota=1))
    external_port(lab, sport=5000)
    answer = lab.lan(udp_out(sport=5001, dport=123)).only(LAN)
    assert answer[IP].src == ROUTER_LAN and answer[IP].dst == CLIENT
    assert (answer[ICMP].type, answer[ICMP].code) == (3, 13)
    assert answer[UDPerror].sport == 5001 and answer[IPerror].dst == SERVER


def test_rfc6888_per_host_quota_is_per_host():
    lab = Lab(NatConfig(per_host_quota=1))
    external_port(lab, sport=5000, src=CLIENT)
    assert lab.lan(udp_out(sport=5001, src=CLIENT)).drops == ["host_quota"]
    # Another subscriber is not affected by the first one's limit.
    lab.lan(udp_out(sport=5001, src=CLIENT2)).only(WAN)


def test_rfc6888_per_host_quota_frees_up_when_a_mapping_expires():
    lab = Lab(NatConfig(per_host_quota=1))
    external_port(lab, sport=5000)
    assert lab.lan(udp_out(sport=5001)).drops == ["host_quota"]
    lab.advance(NatConfig().timeouts.udp)
    lab.lan(udp_out(sport=5001)).only(WAN)


# -- port exhaustion ------------------------------------------------------------------------------


def tiny_lab(**timeouts) -> Lab:
    return Lab(NatConfig(port_range=TINY, port_parity=False, timeouts=Timeouts(**timeouts)))


def fill(lab) -> dict[int, int]:
    """Take all four ports: internal port -> external port."""
    taken = {sport: external_port(lab, sport=sport) for sport in (6000, 6001, 6002, 6003)}
    assert sorted(taken.values()) == list(range(TINY[0], TINY[1] + 1))
    return taken


def test_rfc6888_port_exhaustion_drops_the_new_flow():
    lab = tiny_lab()
    fill(lab)
    result = lab.lan(udp_out(sport=6004))
    assert "ports_exhausted" in result.drops
    assert not [side for side, _ in result.transmitted if side == WAN]
    assert lab.counters["ports_exhausted"] == 1
    failed = [log for log in result.logs if log.event == "mapping_failed"]
    assert failed and failed[0].fields["reason"] == "ports_exhausted"


def test_rfc6888_port_exhaustion_never_evicts_existing_mappings():
    lab = tiny_lab()
    taken = fill(lab)
    for attempt in range(10):  # a burst of new flows from two hosts
        lab.lan(udp_out(sport=7000 + attempt, src=CLIENT if attempt % 2 else CLIENT2))
    assert lab.counters["ports_exhausted"] == 10
    for sport, ext in taken.items():
        assert_translates(lab, sport, ext)
    assert len(udp_rows(lab)) == 4


def test_rfc6888_port_exhaustion_is_per_protocol():
    lab = tiny_lab()
    fill(lab)
    syn = lab.lan(tcp_out(sport=6004)).only(WAN)
    assert TINY[0] <= syn[TCP].sport <= TINY[1]


def test_rfc6888_freed_port_waits_120_seconds_before_reuse():
    assert NatConfig().timeouts.port_reuse_delay == 120
    lab = tiny_lab()
    taken = fill(lab)
    udp = NatConfig().timeouts.udp
    lab.advance(udp / 2)
    for sport in (6001, 6002, 6003):  # keep three of the four mappings alive
        external_port(lab, sport=sport)
    lab.advance(udp / 2)  # the mapping of 6000 expires now
    assert [row["internal"] for row in udp_rows(lab)] == [
        f"{CLIENT}:{p}" for p in sorted((6001, 6002, 6003), key=lambda p: taken[p])
    ]
    assert lab.lan(udp_out(sport=7000)).drops == ["ports_exhausted"]
    lab.advance(119)
    assert lab.lan(udp_out(sport=7000)).drops == ["ports_exhausted"]
    lab.advance(1)
    assert external_port(lab, sport=7000) == taken[6000]


def test_rfc6888_freed_port_is_not_preserved_for_another_host_within_120_seconds():
    lab = Lab()
    assert external_port(lab, sport=20000, src=CLIENT) == 20000
    lab.advance(NatConfig().timeouts.udp)
    assert not udp_rows(lab)
    # CLIENT2 asks for the same port while it cools down: it gets another one.
    other = external_port(lab, sport=20000, src=CLIENT2)
    assert other != 20000
    lab.advance(120)
    # Once the delay is over, port preservation may hand it out again.
    assert external_port(lab, sport=20000, src=CLIENT) == 20000


def test_rfc6888_freed_port_reuse_delay_follows_the_configuration():
    lab = tiny_lab(port_reuse_delay=30.0)
    taken = fill(lab)
    lab.advance(150)
    for sport in (6001, 6002, 6003):
        external_port(lab, sport=sport)
    lab.advance(150)
    assert lab.lan(udp_out(sport=7000)).drops == ["ports_exhausted"]
    lab.advance(30)
    assert external_port(lab, sport=7000) == taken[6000]


def test_rfc6888_inbound_traffic_to_a_cooling_port_is_not_delivered():
    lab = tiny_lab()
    taken = fill(lab)
    lab.advance(150)
    for sport in (6001, 6002, 6003):
        external_port(lab, sport=sport)
    lab.advance(150)
    result = lab.wan(udp_in(53, taken[6000], dst=PUBLIC))
    assert result.dropped
