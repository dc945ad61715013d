"""PPTP passthrough: Call ID translation, GRE, enabled vs disabled, events, bad input."""

from playbook import CLIENT, CLIENT2, PUBLIC, SERVER, Lab, tcp_in, tcp_out
from scapy.layers.inet import ICMP, IP, TCP, IPerror
from scapy.layers.l2 import GRE_PPTP
from scapy.layers.ppp import PPP
from scapy.layers.pptp import (
    PPTPCallDisconnectNotify,
    PPTPOutgoingCallReply,
    PPTPOutgoingCallRequest,
    PPTPSetLinkInfo,
    PPTPStartControlConnectionRequest,
    PPTPStopControlConnectionRequest,
)

from nat import NatConfig
from nat.direction import LAN, WAN
from nat.passthrough import default_helpers

CALL_ID = 0x4A11  # non-zero, and the same on both clients (the historical kernel bug)


class Control:
    """One client's PPTP control connection, with its TCP numbering."""

    def __init__(self, lab, client, sport):
        self.lab, self.client, self.sport = lab, client, sport
        self.seq, self.server_seq = 1000, 9000
        syn = lab.lan(tcp_out(sport, 1723, "S", src=client, seq=self.seq - 1)).only(WAN)
        self.ext = syn[TCP].sport
        lab.wan(tcp_in(1723, self.ext, "SA", seq=self.server_seq - 1, ack=self.seq)).only(LAN)
        lab.lan(tcp_out(sport, 1723, "A", src=client, seq=self.seq, ack=self.server_seq))
        self.send(PPTPStartControlConnectionRequest())

    def send(self, message):
        raw = bytes(message)
        result = self.lab.lan(
            tcp_out(
                self.sport,
                1723,
                "PA",
                src=self.client,
                seq=self.seq,
                ack=self.server_seq,
                payload=raw,
            )
        )
        self.seq += len(raw)
        return result

    def receive(self, message):
        raw = bytes(message)
        result = self.lab.wan(
            tcp_in(1723, self.ext, "PA", seq=self.server_seq, ack=self.seq, payload=raw)
        )
        self.server_seq += len(raw)
        return result


def pptp_lab(enabled=True):
    helpers = default_helpers()
    config = NatConfig(helpers=(("pptp", enabled),))
    return Lab(config, helpers=helpers), helpers[0].monitor


def place_call(control, server_call_id):
    out = control.send(PPTPOutgoingCallRequest(call_id=CALL_ID)).only(WAN)
    nat_id = PPTPOutgoingCallRequest(bytes(out[TCP].payload)).call_id
    reply = PPTPOutgoingCallReply(call_id=server_call_id, peer_call_id=nat_id, result_code=1)
    back = control.receive(reply).only(LAN)
    return nat_id, PPTPOutgoingCallReply(bytes(back[TCP].payload))


def gre_out(client, server_call_id, payload=b"lcp"):
    return (
        IP(src=client, dst=SERVER)
        / GRE_PPTP(key_present=1, call_id=server_call_id)
        / PPP(proto=0xC021)
        / payload
    )


def gre_in(nat_id, payload=b"lcp"):
    return (
        IP(src=SERVER, dst=PUBLIC)
        / GRE_PPTP(key_present=1, call_id=nat_id)
        / PPP(proto=0xC021)
        / payload
    )


def test_two_clients_same_call_id_same_server_both_work():
    lab, _ = pptp_lab()
    one, two = Control(lab, CLIENT, 40000), Control(lab, CLIENT2, 40000)
    nat_one, reply_one = place_call(one, 0x5001)
    nat_two, reply_two = place_call(two, 0x5002)
    assert nat_one != nat_two
    assert reply_one.peer_call_id == CALL_ID == reply_two.peer_call_id  # restored per client
    assert reply_one.call_id == 0x5001  # server Call IDs untouched
    for client, server_id in ((CLIENT, 0x5001), (CLIENT2, 0x5002)):
        out = lab.lan(gre_out(client, server_id)).only(WAN)
        assert out[IP].src == PUBLIC and out[GRE_PPTP].call_id == server_id
    back_one = lab.wan(gre_in(nat_one)).only(LAN)
    back_two = lab.wan(gre_in(nat_two)).only(LAN)
    assert (back_one[IP].dst, back_one[GRE_PPTP].call_id) == (CLIENT, CALL_ID)
    assert (back_two[IP].dst, back_two[GRE_PPTP].call_id) == (CLIENT2, CALL_ID)


def test_gre_is_admitted_only_after_a_connected_reply():
    lab, _ = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    out = control.send(PPTPOutgoingCallRequest(call_id=CALL_ID)).only(WAN)
    nat_id = PPTPOutgoingCallRequest(bytes(out[TCP].payload)).call_id
    assert lab.wan(gre_in(nat_id)).drops == ["pptp_gre_unmatched"]
    control.receive(PPTPOutgoingCallReply(call_id=7, peer_call_id=nat_id, result_code=2))
    assert lab.wan(gre_in(nat_id)).drops == ["pptp_gre_unmatched"]  # refused call: still shut


def test_several_calls_share_one_control_connection():
    lab, _ = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    ids = []
    for client_id, server_id in ((1, 0x61), (2, 0x62)):
        out = control.send(PPTPOutgoingCallRequest(call_id=client_id)).only(WAN)
        nat_id = PPTPOutgoingCallRequest(bytes(out[TCP].payload)).call_id
        control.receive(
            PPTPOutgoingCallReply(call_id=server_id, peer_call_id=nat_id, result_code=1)
        )
        ids.append((nat_id, client_id))
    for nat_id, client_id in ids:
        assert lab.wan(gre_in(nat_id)).only(LAN)[GRE_PPTP].call_id == client_id


def test_set_link_info_peer_call_id_is_restored():
    lab, _ = pptp_lab()
    control = Control(lab, CLIENT2, 40000)
    Control(lab, CLIENT, 40001)  # another client holding nothing
    nat_id, _ = place_call(control, 0x77)
    back = control.receive(PPTPSetLinkInfo(peer_call_id=nat_id)).only(LAN)
    assert PPTPSetLinkInfo(bytes(back[TCP].payload)).peer_call_id == CALL_ID


def test_call_disconnect_closes_gre_and_logs_the_session():
    lab, monitor = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    nat_id, _ = place_call(control, 0x5001)
    lab.lan(gre_out(CLIENT, 0x5001)).only(WAN)
    lab.wan(gre_in(nat_id)).only(LAN)
    result = control.receive(PPTPCallDisconnectNotify(call_id=0x5001))
    ended = [log for log in result.logs if log.event == "vpn_session_end"]
    assert ended and ended[0].fields["packets"] == 2 and ended[0].fields["bytes"] > 0
    assert ended[0].fields["ids"]["client_call_id"] == CALL_ID
    assert lab.wan(gre_in(nat_id)).drops == ["pptp_gre_unmatched"]
    assert lab.lan(gre_out(CLIENT, 0x5001)).drops == ["pptp_gre_unmatched"]
    assert monitor.snapshot(lab.now)["recent"][0]["end_reason"] == "server disconnected the call"


def test_control_connection_end_removes_its_calls():
    lab, _ = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    nat_id, _ = place_call(control, 0x5001)
    lab.wan(tcp_in(1723, control.ext, "R", seq=control.server_seq, ack=0))
    lab.advance(241)
    assert lab.wan(gre_in(nat_id)).drops == ["pptp_gre_unmatched"]


def test_disabled_pptp_blocks_control_and_gre():
    lab, _ = pptp_lab(enabled=False)
    result = lab.lan(tcp_out(40000, 1723, "S"))
    assert result.drops == ["pptp_disabled"]
    assert any(log.event == "vpn_session_refused" for log in result.logs)
    assert lab.lan(gre_out(CLIENT, 1)).drops == ["pptp_disabled"]
    assert lab.wan(gre_in(1)).drops == ["pptp_disabled"]


def test_off_by_default():
    lab = Lab(NatConfig(), helpers=default_helpers())
    assert lab.lan(tcp_out(40000, 1723, "S")).drops == ["pptp_disabled"]


def test_disabling_tears_down_running_calls_and_enabling_works_again():
    lab, _ = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    nat_id, _ = place_call(control, 0x5001)
    result = lab.configure(NatConfig(helpers=(("pptp", False),)))
    assert any(log.event == "vpn_session_end" for log in result.logs)
    assert lab.wan(gre_in(nat_id)).drops == ["pptp_disabled"]
    assert control.send(PPTPSetLinkInfo(peer_call_id=5)).drops == ["pptp_disabled"]
    lab.configure(NatConfig(helpers=(("pptp", True),)))
    again = Control(lab, CLIENT, 40002)
    nat_id, reply = place_call(again, 0x5003)
    assert reply.peer_call_id == CALL_ID
    assert lab.wan(gre_in(nat_id)).only(LAN)


def test_events_and_anomalies():
    lab, monitor = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    out = control.send(PPTPOutgoingCallRequest(call_id=CALL_ID)).only(WAN)
    nat_id = PPTPOutgoingCallRequest(bytes(out[TCP].payload)).call_id
    result = control.receive(PPTPOutgoingCallReply(call_id=9, peer_call_id=nat_id, result_code=1))
    started = [log for log in result.logs if log.event == "vpn_session_start"]
    assert started[0].fields["ids"] == {
        "client_call_id": CALL_ID,
        "nat_call_id": nat_id,
        "server_call_id": 9,
    }
    assert started[0].fields["lan_host"] == CLIENT and started[0].fields["server"] == SERVER
    kinds = [a["kind"] for a in monitor.anomalies]
    assert kinds == ["new_vpn_server"]
    lab.wan(gre_in(0x7777))  # GRE nobody asked for
    assert monitor.anomalies[-1]["kind"] == "unsolicited_inbound"
    lab.wan(tcp_in(1723, 45000, "S", seq=1, ack=0))  # a PPTP server calling in, unasked
    assert monitor.anomalies[-1]["kind"] == "unsolicited_inbound"
    assert (
        monitor.anomalies[-1]["remote_port"] == 1723
        or monitor.anomalies[-1]["external_port"] == 45000
    )


def test_burst_of_failed_calls_is_flagged():
    lab, monitor = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    for i in range(5):
        out = control.send(PPTPOutgoingCallRequest(call_id=100 + i)).only(WAN)
        nat_id = PPTPOutgoingCallRequest(bytes(out[TCP].payload)).call_id
        control.receive(PPTPOutgoingCallReply(call_id=9, peer_call_id=nat_id, result_code=3))
    assert [a["kind"] for a in monitor.anomalies] == ["negotiation_burst"]


def test_malformed_control_payloads_open_nothing():
    lab, _ = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    good = bytes(PPTPOutgoingCallRequest(call_id=CALL_ID))
    bad = [
        good[:40],  # truncated
        good[:4] + b"\xde\xad\xbe\xef" + good[8:],  # wrong magic
        b"\xff\xff" + good[2:],  # length beyond the segment
        b"\x00\x0e" + good[2:14],  # shorter than an Outgoing-Call-Request
        b"\x00\x00" * 20,
    ]
    for payload in bad:
        out = control.send(payload).only(WAN)
        assert bytes(out[TCP].payload) == payload  # passed through unchanged
    assert lab.counters["internal_error"] == 0
    assert lab.wan(gre_in(CALL_ID)).drops == ["pptp_gre_unmatched"]


def test_plain_gre_is_not_pptp():
    from scapy.layers.l2 import GRE

    lab, _ = pptp_lab()
    assert lab.lan(IP(src=CLIENT, dst=SERVER) / GRE() / b"x").drops == ["pptp_gre_unsupported"]


def test_frag_needed_about_gre_reaches_the_client_of_that_call():
    """Path MTU discovery for the tunnel: a router on the path quotes an outbound GRE packet
    (which carries the server's call ID); the error goes to the client of that call."""
    lab, _ = pptp_lab()
    one, two = Control(lab, CLIENT, 40000), Control(lab, CLIENT2, 40001)
    place_call(one, 0x5001)
    place_call(two, 0x5002)
    calls = ((CLIENT, 0x5001), (CLIENT2, 0x5002))
    sent = {c: bytes(lab.lan(gre_out(c, sid)).only(WAN)) for c, sid in calls}
    for client in (CLIENT, CLIENT2):
        error = IP(src="198.51.100.1", dst=PUBLIC) / ICMP(type=3, code=4, nexthopmtu=1400)
        back = lab.wan(error / sent[client]).only(LAN)
        assert back[IP].dst == client and back[IPerror].src == client
    stray = bytes(gre_out(PUBLIC, 0x5999))  # as if sent by the NAT, for a call it never saw
    error = IP(src="198.51.100.1", dst=PUBLIC) / ICMP(type=3, code=4, nexthopmtu=1400)
    assert lab.wan(error / stray).drops == ["icmp_error_no_mapping"]
    truncated = bytes(lab.lan(gre_out(CLIENT, 0x5001)).only(WAN))[:24]  # half a GRE header
    assert lab.wan(error / truncated).drops == ["icmp_error_no_mapping"]
    assert lab.counters.get("internal_error", 0) == 0


def _active(monitor, lab):
    return monitor.snapshot(lab.now)["active"]


def test_a_call_ends_when_the_server_answers_call_clear_with_our_call_id():
    # pptpd's Call-Disconnect-Notify may carry the peer's Call ID (ours), not its own.
    lab, monitor = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    nat_id, _ = place_call(control, 0x5001)
    control.receive(PPTPCallDisconnectNotify(call_id=nat_id))
    assert not _active(monitor, lab)
    assert monitor.snapshot(lab.now)["recent"][0]["end_reason"] == "server disconnected the call"


def test_a_stop_control_request_from_the_client_ends_its_calls_at_once():
    lab, monitor = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    place_call(control, 0x5001)
    lab.advance(7)
    control.send(PPTPStopControlConnectionRequest())
    (session,) = monitor.snapshot(lab.now)["recent"]
    assert session["end_reason"] == "control connection stopped" and session["duration"] == 7


def test_a_cleanly_closed_control_connection_ends_its_calls_without_waiting_for_its_mapping():
    lab, monitor = pptp_lab()
    control = Control(lab, CLIENT, 40000)
    nat_id, _ = place_call(control, 0x5001)
    lab.advance(7)
    lab.lan(tcp_out(40000, 1723, "FA", src=CLIENT, seq=control.seq, ack=control.server_seq))
    assert not _active(monitor, lab)
    assert monitor.snapshot(lab.now)["recent"][0]["duration"] == 7
    assert lab.wan(gre_in(nat_id)).drops == ["pptp_gre_unmatched"]
