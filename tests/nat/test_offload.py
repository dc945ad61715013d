"""Flow offloading, the engine's side: what it offers, when it withdraws, and how the
offloaded flows' packet counts keep their sessions alive."""

from playbook import CLIENT, PUBLIC, SERVER, Lab, tcp_handshake, tcp_in, tcp_out, udp_in, udp_out

from nat import NatConfig, Offload, Withdraw
from nat.config_types import Timeouts
from nat.ipv4 import addr
from nat.passthrough import default_helpers

ON = NatConfig(flow_offload=True)


def offers(result) -> list:
    return [a.flow for a in result.actions if isinstance(a, Offload)]


def withdrawn(result) -> list[int]:
    return [a.ident for a in result.actions if isinstance(a, Withdraw)]


def endpoint(ip: str, port: int) -> bytes:
    return addr(ip) + port.to_bytes(2, "big")


def test_off_by_default_nothing_is_ever_offered():
    lab = Lab()
    assert offers(lab.lan(udp_out())) == [] and offers(lab.lan(udp_out())) == []
    assert lab.engine.offloaded_count == 0


def test_an_established_udp_session_is_offered_once_with_both_rewrites():
    lab = Lab(ON)
    first = lab.lan(udp_out(sport=5000, dport=53))
    (flow,) = offers(first)  # a UDP session is plain from its first packet
    ext = first.only().sport  # the packet itself still goes out, translated
    assert flow.proto == 17
    assert flow.internal == endpoint(CLIENT, 5000)
    assert flow.external == endpoint(PUBLIC, ext)
    assert flow.remote == endpoint(SERVER, 53)
    assert offers(lab.lan(udp_out(sport=5000, dport=53))) == []
    assert offers(lab.wan(udp_in(53, ext))) == []  # the reply: the same session, offered
    assert lab.engine.offloaded_count == 1


def test_tcp_is_offered_once_established_and_withdrawn_when_it_closes():
    lab = Lab(ON)
    syn = lab.lan(tcp_out(flags="S"))
    assert offers(syn) == []
    ext = syn.only().sport
    assert offers(lab.wan(tcp_in(80, ext, "SA", seq=5000, ack=1001))) == []
    (flow,) = offers(lab.lan(tcp_out(flags="A", seq=1001, ack=5001)))  # established now
    assert flow.proto == 6 and flow.external == endpoint(PUBLIC, ext)
    assert offers(lab.wan(tcp_in(80, ext, "PA", ack=1001, payload=b"x" * 10))) == []
    lab.lan(tcp_out(flags="FA", seq=1001, ack=5011))  # FINs never take the fast path
    assert withdrawn(lab.advance(0.25)) == [flow.ident]
    assert lab.engine.offloaded_count == 0


def test_a_helper_session_is_never_offered():
    lab = Lab(ON.replace(helpers=(("pptp", True),)), helpers=default_helpers())
    ext = tcp_handshake(lab, dport=1723)  # PPTP control: the PPTP helper follows it
    assert offers(lab.wan(tcp_in(1723, ext, "PA", payload=b"x" * 10))) == []
    assert offers(lab.lan(tcp_out(dport=1723, flags="PA", seq=1001, payload=b"y"))) == []


def test_counts_refresh_the_timer_and_an_idle_flow_expires_and_is_withdrawn():
    lab = Lab(ON.replace(timeouts=Timeouts(udp=30)))
    opened = lab.lan(udp_out())
    ext = opened.only().sport
    (flow,) = offers(opened)
    engine = lab.engine
    assert not engine.offload_due(lab.now + 0.5)
    assert engine.offload_due(lab.now + 1)  # the counts are read once a second
    lab.now += 28.5
    engine.offload_activity({flow.ident: (40, 40)}, lab.now)  # packets came since
    assert not engine.offload_due(lab.now)
    assert withdrawn(lab.advance(20)) == []  # 48.5 s after the engine's own packet
    assert lab.wan(udp_in(53, ext)).transmitted
    engine.offload_activity({flow.ident: (40, 40)}, lab.now)  # no new packets since
    assert withdrawn(lab.advance(31)) == [flow.ident]
    assert engine.mapping_count == 0


def test_inbound_counts_refresh_only_with_inbound_refresh():
    lab = Lab(ON.replace(timeouts=Timeouts(udp=30), inbound_refresh=False))
    (flow,) = offers(lab.lan(udp_out()))
    lab.now += 29
    lab.engine.offload_activity({flow.ident: (0, 500)}, lab.now)  # replies only
    assert withdrawn(lab.advance(2)) == [flow.ident]


def test_turning_it_off_withdraws_every_flow_and_a_flush_does_too():
    lab = Lab(ON)
    (one,) = offers(lab.lan(udp_out(sport=5000)))
    assert withdrawn(lab.configure(NatConfig())) == [one.ident]
    lab.configure(ON)
    (two,) = offers(lab.lan(udp_out(sport=5001)))
    assert withdrawn(lab.configure(ON.replace(random_seed=7))) == [two.ident]  # flushed


def test_a_declined_flow_is_offered_again_by_its_next_packet():
    lab = Lab(ON)
    (flow,) = offers(lab.lan(udp_out()))
    lab.engine.offload_declined(flow.ident)
    (again,) = offers(lab.lan(udp_out()))
    assert again.ident != flow.ident and again.remote == flow.remote


def test_the_setting_is_part_of_the_configuration():
    assert NatConfig.from_dict({"flow_offload": True}).flow_offload is True
    assert NatConfig().to_dict()["flow_offload"] is False
