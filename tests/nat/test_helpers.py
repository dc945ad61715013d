"""The helper extension point, exercised by two small helpers written here:

* ``Callback``: a toy FTP-PORT-like protocol on TCP 7000. The client announces
  "CALLBACK <address>:<port>"; the helper rewrites it to the external endpoint (changing
  the payload's length), and expects the server to connect back to it.
* ``Raw99``: owns IP protocol 99, which has no ports, translating it by address only.
"""

from playbook import CLIENT, CLIENT2, PUBLIC, SERVER, SERVER2, Lab, tcp_in, tcp_out
from scapy.layers.inet import IP, TCP

from nat import NatConfig
from nat.direction import LAN, OUTBOUND, WAN
from nat.helpers import Helper
from nat.ipv4 import TCP as TCP_PROTO
from nat.ipv4 import text


class Callback(Helper):
    name = "callback"
    tcp_ports = frozenset({7000})

    def __init__(self):
        self.ended = []

    def on_session_start(self, ctx, flow):
        ctx.log("callback_session", internal=text(flow.internal[0]))

    def on_packet(self, ctx, flow, packet):
        if packet.direction != OUTBOUND or not packet.payload.startswith(b"CALLBACK "):
            return None
        if b"FORBIDDEN" in packet.payload:
            return "callback_forbidden"
        _address, port = packet.payload[9:].strip().split(b":")
        ext_port = ctx.expect(
            flow, TCP_PROTO, (flow.internal[0], int(port)), flow.remote[0], None, timeout=60
        )
        ext_ip = text(ctx.external_address_for(flow.internal[0]))
        packet.replace_payload(f"CALLBACK {ext_ip}:{ext_port}\r\n".encode())
        return None

    def on_session_end(self, ctx, flow):
        self.ended.append(flow.remote)


class Raw99(Helper):
    name = "raw99"
    ip_protocols = frozenset({99})

    def __init__(self):
        self.last_sender = None

    def on_ip_packet(self, ctx, direction, packet, ihl):
        if direction == OUTBOUND:
            self.last_sender = bytes(packet[12:16])
            return ctx.forward_outbound(packet, ihl, ctx.external_address_for(self.last_sender))
        if self.last_sender is None:
            return "raw99_no_sender"
        return ctx.forward_inbound(packet, ihl, self.last_sender)


def enabled(*names, **settings):
    return NatConfig(helpers=tuple((n, True) for n in names), **settings)


def open_control(lab):
    ext = lab.lan(tcp_out(40000, 7000, "S")).only(WAN)[TCP].sport
    lab.wan(tcp_in(7000, ext, "SA", seq=5000, ack=1001)).only(LAN)
    lab.lan(tcp_out(40000, 7000, "A", seq=1001, ack=5001)).only(WAN)
    return ext


def test_helper_attaches_to_sessions_by_port_and_logs():
    lab = Lab(enabled("callback"), helpers=[Callback()])
    result = lab.lan(tcp_out(40000, 7000, "S"))
    assert [log.event for log in result.logs] == ["callback_session"]
    assert lab.engine.snapshot()[0]["sessions"][0]["helper"] == "callback"
    other = lab.lan(tcp_out(40001, 80, "S"))
    assert not other.logs


def test_helper_rewrites_payload_and_sequence_numbers_follow():
    lab = Lab(enabled("callback"), helpers=[Callback()])
    ext = open_control(lab)
    announce = b"CALLBACK 192.168.1.10:40001\r\n"
    out = lab.lan(tcp_out(40000, 7000, "PA", seq=1001, ack=5001, payload=announce)).only(WAN)
    rewritten = bytes(out[TCP].payload)
    assert rewritten == f"CALLBACK {PUBLIC}:40001\r\n".encode()
    shrink = len(announce) - len(rewritten)
    assert out[IP].len == 20 + 20 + len(rewritten)
    # The server acknowledges the bytes it saw; the client must see its own numbering.
    ack = lab.wan(tcp_in(7000, ext, "A", seq=5001, ack=1001 + len(rewritten))).only(LAN)
    assert ack[TCP].ack == 1001 + len(announce)
    # The client's next segment is shifted into the server's numbering.
    more = lab.lan(tcp_out(40000, 7000, "PA", seq=1001 + len(announce), ack=5001, payload=b"x"))
    assert more.only(WAN)[TCP].seq == 1001 + len(announce) - shrink


def test_helper_expectation_admits_the_related_flow_from_that_remote_only():
    lab = Lab(enabled("callback"), helpers=[Callback()])
    ext = open_control(lab)
    announce = b"CALLBACK 192.168.1.10:40001\r\n"
    out = lab.lan(tcp_out(40000, 7000, "PA", seq=1001, ack=5001, payload=announce)).only(WAN)
    port = int(bytes(out[TCP].payload).split(b":")[1])
    assert lab.wan(tcp_in(20, port, "S", src=SERVER2, seq=1, ack=0)).dropped
    back = lab.wan(tcp_in(20, port, "S", src=SERVER, seq=1, ack=0)).only(LAN)
    assert (back[IP].dst, back[TCP].dport) == (CLIENT, 40001)
    reply = lab.lan(tcp_out(40001, 20, "SA", seq=7, ack=2)).only(WAN)
    assert (reply[IP].src, reply[TCP].sport) == (PUBLIC, port)
    assert ext


def test_helper_expectation_ends_with_its_parent_session():
    helper = Callback()
    lab = Lab(enabled("callback"), helpers=[helper])
    ext = open_control(lab)
    out = lab.lan(
        tcp_out(40000, 7000, "PA", seq=1001, ack=5001, payload=b"CALLBACK 192.168.1.10:40001\r\n")
    ).only(WAN)
    port = int(bytes(out[TCP].payload).split(b":")[1])
    lab.wan(tcp_in(7000, ext, "R", seq=5001, ack=0))
    lab.advance(241)
    assert helper.ended == [(bytes([198, 51, 100, 10]), 7000)]
    assert lab.wan(tcp_in(20, port, "S", src=SERVER, seq=1, ack=0)).dropped


def test_helper_may_drop_a_packet():
    lab = Lab(enabled("callback"), helpers=[Callback()])
    open_control(lab)
    result = lab.lan(
        tcp_out(40000, 7000, "PA", seq=1001, ack=5001, payload=b"CALLBACK FORBIDDEN\r\n")
    )
    assert result.drops == ["callback_forbidden"]


def test_disabled_helper_blocks_new_sessions_and_tears_down_existing_ones():
    helper = Callback()
    lab = Lab(enabled("callback"), helpers=[helper])
    ext = open_control(lab)
    result = lab.configure(NatConfig())
    assert any(log.event == "helper_disabled" for log in result.logs)
    assert helper.ended  # the running session ended at once
    assert lab.engine.snapshot() == []
    assert lab.wan(tcp_in(7000, ext, "A", seq=5001, ack=1001)).drops == ["callback_disabled"]
    assert lab.lan(tcp_out(40000, 7000, "S")).drops == ["callback_disabled"]
    assert lab.counters["callback_disabled"] == 2


def test_helper_owning_an_ip_protocol_translates_it():
    lab = Lab(enabled("raw99"), helpers=[Raw99()])
    out = lab.lan(IP(src=CLIENT2, dst=SERVER, proto=99) / b"hello").only(WAN)
    assert out[IP].src == PUBLIC and out[IP].ttl == 63
    back = lab.wan(IP(src=SERVER, dst=PUBLIC, proto=99) / b"olleh").only(LAN)
    assert back[IP].dst == CLIENT2


def test_disabled_ip_protocol_helper_blocks_its_protocol():
    lab = Lab(helpers=[Raw99()])
    assert lab.lan(IP(src=CLIENT, dst=SERVER, proto=99) / b"x").drops == ["raw99_disabled"]
    assert lab.wan(IP(src=SERVER, dst=PUBLIC, proto=99) / b"x").drops == ["raw99_disabled"]


def test_a_port_given_to_one_helper_leaves_the_movable_one_that_had_it_on_that_transport():
    from nat.helper_dispatch import served_ports
    from nat.passthrough import HELPER_CLASSES

    served = served_ports(HELPER_CLASSES, NatConfig(helper_ports=((5060, "rtsp"), (8554, "rtsp"))))
    assert served["rtsp"] == [(6, 5060), (6, 8554)]
    assert served["sip"] == [(17, 5060)]  # SIP keeps UDP 5060: RTSP took only TCP's
    assert served["ipsec"] == [(17, 4500)]  # fixed helpers keep theirs
    assert served_ports(HELPER_CLASSES, NatConfig())["rtsp"] == [(6, 554)]
