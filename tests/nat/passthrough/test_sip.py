"""SIP ALG through the engine: registration, calls with media, TCP, enabled vs disabled,
several clients, time, and bad input."""

import re

from playbook import (
    CLIENT,
    CLIENT2,
    PUBLIC,
    SERVER,
    SERVER2,
    Lab,
    tcp_in,
    tcp_out,
    udp_in,
    udp_out,
)
from scapy.layers.inet import IP, TCP, UDP

from nat import NatConfig
from nat.direction import LAN, WAN
from nat.passthrough.monitor import VpnMonitor
from nat.passthrough.sip import SipAlg


def sip_lab(enabled=True, **config):
    monitor = VpnMonitor()
    lab = Lab(NatConfig(helpers=(("sip", enabled),), **config), helpers=[SipAlg(monitor)])
    return lab, monitor


def sdp(address, port, session="2890844526"):
    return (
        "v=0\r\n"
        f"o=alice {session} 1 IN IP4 {address}\r\n"
        "s=call\r\n"
        f"c=IN IP4 {address}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 8\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    )


def message(start, headers, body="", compact=False):
    lines = [start]
    for name, value in headers:
        lines.append(f"{name}: {value}")
    if body:
        lines.append(("c" if compact else "Content-Type") + ": application/sdp")
    lines.append(("l" if compact else "Content-Length") + f": {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def request(method, uri, call_id, cseq, client=CLIENT, port=5060, body="", extra=(), compact=False):
    names = ("v", "f", "t", "i", "m") if compact else ("Via", "From", "To", "Call-ID", "Contact")
    headers = [
        (names[0], f"SIP/2.0/UDP {client}:{port};branch=z9hG4bK{cseq};rport"),
        (names[1], f"<sip:alice@{client}:{port}>;tag=1"),
        (names[2], f"<sip:bob@{SERVER}>"),
        (names[3], call_id),
        ("CSeq", f"{cseq} {method}"),
        (names[4], f"<sip:alice@{client}:{port}>"),
        *extra,
    ]
    return message(f"{method} {uri} SIP/2.0", headers, body, compact)


def response(status, method, call_id, cseq, via, body="", extra=()):
    headers = [
        ("Via", via),
        ("From", f"<sip:alice@{PUBLIC}>;tag=1"),
        ("To", f"<sip:bob@{SERVER}>;tag=2"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        *extra,
    ]
    return message(f"SIP/2.0 {status} Reason", headers, body)


def text(packet):
    return bytes(packet[UDP].payload if UDP in packet else packet[TCP].payload).decode()


def header(raw, name):
    found = re.search(rf"^{name}: (.*)$", raw, re.MULTILINE | re.IGNORECASE)
    return found.group(1).strip() if found else None


def body_of(raw):
    return raw.split("\r\n\r\n", 1)[1]


def rtp_in(ext_port, src=SERVER, sport=30000):
    return udp_in(sport, ext_port, src=src, payload=b"\x80\x00rtp")


def invite(lab, call_id="call-1", client=CLIENT, rtp=40000, sport=5060, server=SERVER):
    """An outgoing INVITE with SDP; returns what reached the WAN."""
    body = sdp(client, rtp)
    raw = request("INVITE", f"sip:bob@{server}", call_id, 1, client, sport, body)
    return lab.lan(udp_out(sport, 5060, src=client, dst=server, payload=raw)).only(WAN)


def media_port(packet):
    return int(re.search(r"^m=audio (\d+)", body_of(text(packet)), re.MULTILINE).group(1))


# -- registration ------------------------------------------------------------------------


def register(lab, expires, call_id="reg-1", cseq=1, granted=None):
    raw = request("REGISTER", f"sip:{SERVER}", call_id, cseq, extra=(("Expires", str(expires)),))
    out = lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN)
    via = header(text(out), "Via")
    answer = response(
        200,
        "REGISTER",
        call_id,
        cseq,
        f"{via};received={PUBLIC}",
        extra=(("Contact", f"<sip:alice@{PUBLIC}:{out[UDP].sport}>;expires={granted or expires}"),),
    )
    back = lab.wan(udp_in(5060, out[UDP].sport, payload=answer)).only(LAN)
    return out, back


def incoming_invite(ext_port, sport=5060):
    raw = message(
        f"INVITE sip:alice@{PUBLIC}:{ext_port} SIP/2.0",
        [
            ("Via", f"SIP/2.0/UDP {SERVER}:5060;branch=z9hG4bKin"),
            ("From", "<sip:carol@example.org>;tag=9"),
            ("To", f"<sip:alice@{PUBLIC}:{ext_port}>"),
            ("Call-ID", "in-1"),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:carol@{SERVER}:5060>"),
        ],
    )
    return udp_in(sport, ext_port, payload=raw)


def test_register_rewrites_contact_and_via_and_restores_them_in_the_answer():
    lab, _ = sip_lab()
    out, back = register(lab, 3600)
    sent = text(out)
    assert header(sent, "Contact") == f"<sip:alice@{PUBLIC}:{out[UDP].sport}>"
    assert header(sent, "Via").startswith(f"SIP/2.0/UDP {PUBLIC}:{out[UDP].sport};")
    assert header(sent, "From") == f"<sip:alice@{PUBLIC}:{out[UDP].sport}>;tag=1"
    got = text(back)
    assert f"received={CLIENT}" in header(got, "Via")
    assert header(got, "Via").startswith(f"SIP/2.0/UDP {CLIENT}:5060;")
    assert header(got, "Contact").startswith(f"<sip:alice@{CLIENT}:5060>")


def test_registered_client_is_reachable_by_the_registrar_after_the_session_idled_out():
    lab, _ = sip_lab()
    out, _ = register(lab, 3600)
    ext = out[UDP].sport
    lab.advance(1200)  # far beyond the UDP session timeout, well inside Expires
    got = lab.wan(incoming_invite(ext, sport=5070)).only(LAN)
    assert (got[IP].dst, got[UDP].dport) == (CLIENT, 5060)
    assert text(got).startswith(f"INVITE sip:alice@{CLIENT}:5060 SIP/2.0")
    assert header(text(got), "To") == f"<sip:alice@{CLIENT}:5060>"


def test_registration_ends_with_expires_and_with_expires_zero():
    lab, _ = sip_lab()
    out, _ = register(lab, 600)
    lab.advance(700)
    assert lab.wan(incoming_invite(out[UDP].sport, sport=5070)).dropped
    out, _ = register(lab, 600, cseq=2)
    register(lab, 0, cseq=3)
    lab.advance(400)  # the session is gone too; only the registration could admit it
    assert lab.wan(incoming_invite(out[UDP].sport, sport=5070)).dropped


def test_only_the_registrar_may_call_in():
    lab, _ = sip_lab()
    out, _ = register(lab, 3600)
    lab.advance(1200)
    stranger = incoming_invite(out[UDP].sport)
    stranger[IP].src = SERVER2
    assert lab.wan(stranger).dropped


# -- calls --------------------------------------------------------------------------------


def test_outgoing_call_sdp_media_and_bye():
    lab, monitor = sip_lab()
    out = invite(lab)
    sent = text(out)
    body = body_of(sent)
    assert f"c=IN IP4 {PUBLIC}" in body and f"o=alice 2890844526 1 IN IP4 {PUBLIC}" in body
    assert CLIENT not in sent
    assert int(header(sent, "Content-Length")) == len(body.encode())
    assert media_port(out) == 40000  # same port first
    answer = response(200, "INVITE", "call-1", 1, header(sent, "Via"), body=sdp(SERVER, 30000, "1"))
    back = lab.wan(udp_in(5060, out[UDP].sport, payload=answer)).only(LAN)
    assert body_of(text(back)) == sdp(SERVER, 30000, "1")  # the callee's SDP is left alone
    rtp = lab.wan(rtp_in(40000)).only(LAN)
    assert (rtp[IP].dst, rtp[UDP].dport) == (CLIENT, 40000)
    rtcp = lab.wan(rtp_in(40001, sport=30001)).only(LAN)
    assert rtcp[UDP].dport == 40001
    assert lab.wan(rtp_in(40000, src=SERVER2)).dropped  # media from the signalling peer only
    bye = request("BYE", f"sip:bob@{SERVER}", "call-1", 2)
    result = lab.lan(udp_out(5060, 5060, payload=bye))
    result.only(WAN)
    ended = [log for log in result.logs if log.event == "vpn_session_end"]
    assert ended[0].fields["ids"] == {"call_id": "call-1"} and ended[0].fields["packets"] == 3
    assert lab.wan(rtp_in(40000, sport=30002)).dropped
    assert monitor.snapshot(lab.now)["recent"][0]["end_reason"] == "BYE"


def test_media_from_another_address_is_admitted_only_with_direct_media_off():
    """sip_direct_media (the default, as Linux's): the call's media from its signalling peer
    only. Off: a media server at another address (a provider's SBC) reaches the client too,
    before the client sent it anything."""
    assert NatConfig().sip_direct_media
    for direct_media in (True, False):
        lab, _ = sip_lab(sip_direct_media=direct_media)
        invite(lab)
        elsewhere = lab.wan(rtp_in(40000, src=SERVER2))
        if direct_media:
            assert elsewhere.dropped
        else:
            assert (elsewhere.only(LAN)[IP].dst, elsewhere.only(LAN)[UDP].dport) == (CLIENT, 40000)
        assert lab.wan(rtp_in(40000, sport=30002)).only(LAN)  # the peer itself, either way
        assert lab.wan(udp_in(7000, 40010, src=SERVER2)).dropped  # an unannounced port: never


def test_under_symmetric_nat_media_sent_before_the_sdp_leaves_from_the_announced_ports_after():
    """A phone may send RTCP before the ALG rewrote its SDP (a called phone, before its 200
    OK); under symmetric NAT that packet made an ordinary mapping on another external port
    than the one the ALG then wrote into the SDP. The announced ports are reserved when the
    SDP is rewritten: from then on the phone's media leaves from them, and the far end's
    media to them gets in."""
    config = NatConfig.from_profile("symmetric", helpers=(("sip", True),))
    lab = Lab(config, helpers=[SipAlg(VpnMonitor())])
    early = lab.lan(udp_out(40001, 30001, dst=SERVER2, payload=b"rtcp")).only(WAN)
    rtp_port = media_port(invite(lab))
    later = lab.lan(udp_out(40001, 30001, dst=SERVER2, payload=b"rtcp")).only(WAN)
    assert later[UDP].sport == rtp_port + 1 != early[UDP].sport
    far_rtcp = lab.wan(udp_in(30001, rtp_port + 1, src=SERVER2, payload=b"rtcp")).only(LAN)
    assert (far_rtcp[IP].dst, far_rtcp[UDP].dport) == (CLIENT, 40001)
    rtp = lab.lan(udp_out(40000, 30000, dst=SERVER2, payload=b"\x80\x00rtp")).only(WAN)
    assert rtp[UDP].sport == rtp_port


def test_error_answer_removes_media_and_counts_as_failure():
    lab, monitor = sip_lab()
    for attempt in range(5):
        out = invite(lab, call_id=f"busy-{attempt}")
        answer = response(486, "INVITE", f"busy-{attempt}", 1, header(text(out), "Via"))
        lab.wan(udp_in(5060, out[UDP].sport, payload=answer)).only(LAN)
        assert lab.wan(rtp_in(media_port(out))).dropped
    assert [a["kind"] for a in monitor.anomalies][-1] == "negotiation_burst"
    assert not monitor.active


def test_incoming_bye_removes_media():
    lab, _ = sip_lab()
    out = invite(lab)
    bye = message(
        f"BYE sip:alice@{PUBLIC}:{out[UDP].sport} SIP/2.0",
        [
            ("Via", f"SIP/2.0/UDP {SERVER};branch=z9hG4bKbye"),
            ("From", "<sip:bob@x>;tag=2"),
            ("To", f"<sip:alice@{PUBLIC}>;tag=1"),
            ("Call-ID", "call-1"),
            ("CSeq", "5 BYE"),
        ],
    )
    got = lab.wan(udp_in(5060, out[UDP].sport, payload=bye)).only(LAN)
    assert text(got).startswith(f"BYE sip:alice@{CLIENT}:5060 SIP/2.0")
    assert lab.wan(rtp_in(40000)).dropped


def test_compact_headers_are_rewritten():
    lab, _ = sip_lab()
    body = sdp(CLIENT, 40000)
    raw = request("INVITE", f"sip:bob@{SERVER}", "c-1", 1, body=body, compact=True)
    sent = text(lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN))
    assert header(sent, "v").startswith(f"SIP/2.0/UDP {PUBLIC}:5060;")
    assert header(sent, "m") == f"<sip:alice@{PUBLIC}:5060>"
    assert header(sent, "f") == f"<sip:alice@{PUBLIC}:5060>;tag=1"
    assert int(header(sent, "l")) == len(body_of(sent).encode())
    assert f"c=IN IP4 {PUBLIC}" in body_of(sent)


def test_media_expectations_time_out_and_are_refreshed_by_a_new_offer():
    lab, _ = sip_lab()
    out = invite(lab)
    lab.advance(170)
    reinvite = request(
        "INVITE", f"sip:bob@{SERVER}", "call-1", 2, body=sdp(CLIENT, 40000, "2890844526")
    )
    again = lab.lan(udp_out(5060, 5060, payload=reinvite)).only(WAN)
    assert media_port(again) == media_port(out)
    lab.advance(100)  # 270 s after the first offer, 100 s after the refresh
    assert lab.wan(rtp_in(40000)).only(LAN)[UDP].dport == 40000
    lab.advance(400)  # media stopped; the expectation lapsed 180 s after the refresh
    assert lab.wan(rtp_in(40000, sport=31000)).dropped


def test_unrefreshed_media_expectation_lapses_after_180_s():
    lab, _ = sip_lab()
    invite(lab)
    lab.advance(181)
    assert lab.wan(rtp_in(40000)).dropped


def test_at_most_four_media_expectations_per_call():
    lab, _ = sip_lab()
    body = sdp(CLIENT, 40000) + "m=video 40002 RTP/AVP 96\r\nm=audio 40004 RTP/AVP 0\r\n"
    raw = request("INVITE", f"sip:bob@{SERVER}", "many", 1, body=body)
    result = lab.lan(udp_out(5060, 5060, payload=raw))
    sent = body_of(text(result.only(WAN)))
    assert "m=video 40002" in sent and "m=audio 40004" in sent  # the third is left alone
    assert lab.wan(rtp_in(40003)).only(LAN)
    assert lab.wan(rtp_in(40004)).dropped
    assert any(log.event == "vpn_session_refused" for log in result.logs)


def test_two_clients_with_the_same_ports_to_one_server():
    lab, _ = sip_lab()
    one = invite(lab, "call-a", CLIENT)
    two = invite(lab, "call-b", CLIENT2)
    assert one[UDP].sport != two[UDP].sport
    port_one, port_two = media_port(one), media_port(two)
    assert port_one == 40000 and port_two not in (40000, 40001) and port_two % 2 == 0
    assert header(text(two), "Contact") == f"<sip:alice@{PUBLIC}:{two[UDP].sport}>"
    first = lab.wan(rtp_in(port_one)).only(LAN)
    second = lab.wan(rtp_in(port_two)).only(LAN)
    assert (first[IP].dst, first[UDP].dport) == (CLIENT, 40000)
    assert (second[IP].dst, second[UDP].dport) == (CLIENT2, 40000)
    assert lab.wan(rtp_in(port_two + 1, sport=30001)).only(LAN)[UDP].dport == 40001


def test_an_unrelated_address_is_not_rewritten():
    lab, _ = sip_lab()
    raw = request(
        "OPTIONS",
        f"sip:bob@{SERVER}",
        "opt",
        1,
        extra=(("X-Other", f"sip:x@{CLIENT}0"), ("Record-Route", f"<sip:{CLIENT}:5070>")),
    )
    raw = raw.replace(f"<sip:alice@{CLIENT}:5060>;tag=1".encode(), f"<sip:a@{CLIENT}0>".encode())
    sent = text(lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN))
    assert header(sent, "From") == f"<sip:a@{CLIENT}0>"  # 192.168.1.100 is another host
    assert header(sent, "Record-Route") == f"<sip:{CLIENT}:5070>"


# -- TCP ------------------------------------------------------------------------------------


class TcpSignalling:
    def __init__(self, lab, client=CLIENT, sport=45000):
        self.lab, self.client, self.sport = lab, client, sport
        self.seq, self.server_seq = 1000, 9000
        syn = lab.lan(tcp_out(sport, 5060, "S", src=client, seq=self.seq - 1)).only(WAN)
        self.ext = syn[TCP].sport
        lab.wan(tcp_in(5060, self.ext, "SA", seq=self.server_seq - 1, ack=self.seq)).only(LAN)
        lab.lan(tcp_out(sport, 5060, "A", src=client, seq=self.seq, ack=self.server_seq))

    def send(self, raw):
        packet = tcp_out(
            self.sport, 5060, "PA", src=self.client, seq=self.seq, ack=self.server_seq, payload=raw
        )
        self.seq += len(raw)
        return self.lab.lan(packet)

    def receive(self, raw, ack):
        packet = tcp_in(5060, self.ext, "PA", seq=self.server_seq, ack=ack, payload=raw)
        self.server_seq += len(raw)
        return self.lab.wan(packet)


def test_tcp_length_change_shifts_sequence_numbers_both_ways():
    lab, _ = sip_lab()
    tcp = TcpSignalling(lab)
    body = sdp(CLIENT, 40000)
    raw = request("INVITE", f"sip:bob@{SERVER}", "tcp-1", 1, port=45000, body=body)
    out = tcp.send(raw).only(WAN)
    growth = len(out[TCP].payload) - len(raw)
    assert growth == raw.count(CLIENT.encode()) * (len(PUBLIC) - len(CLIENT)) != 0
    assert out[TCP].seq == 1000
    sent = text(out)
    assert int(header(sent, "Content-Length")) == len(body_of(sent).encode())
    # The server acknowledges what it received; the client must see its own numbering.
    answer = response(200, "INVITE", "tcp-1", 1, header(sent, "Via"))
    back = tcp.receive(answer, ack=1000 + len(out[TCP].payload)).only(LAN)
    assert back[TCP].ack == tcp.seq
    assert header(text(back), "Via").startswith(f"SIP/2.0/UDP {CLIENT}:45000;")
    # The next client segment is shifted by the growth, and its ack by the answer's change.
    shrink = len(back[TCP].payload) - len(answer)
    ack = tcp.server_seq + shrink
    nxt = tcp_out(45000, 5060, "A", seq=tcp.seq, ack=ack, payload=b"\r\n\r\n")
    forwarded = lab.lan(nxt).only(WAN)
    assert forwarded[TCP].seq == tcp.seq + growth
    assert forwarded[TCP].ack == tcp.server_seq


def test_tcp_partial_message_passes_unchanged_and_complete_ones_are_rewritten():
    lab, _ = sip_lab()
    tcp = TcpSignalling(lab)
    first = request("OPTIONS", f"sip:bob@{SERVER}", "tcp-2", 1, port=45000)
    second = request("INVITE", f"sip:bob@{SERVER}", "tcp-2", 2, port=45000, body=sdp(CLIENT, 40000))
    partial = second[:60]
    out = tcp.send(first + partial).only(WAN)
    payload = bytes(out[TCP].payload)
    assert payload.endswith(partial) and f"{PUBLIC}:{tcp.ext}".encode() in payload
    assert payload[: -len(partial)].count(CLIENT.encode()) == 0
    assert lab.counters["internal_error"] == 0


def test_tcp_two_messages_in_one_segment():
    lab, _ = sip_lab()
    tcp = TcpSignalling(lab)
    first = request("OPTIONS", f"sip:bob@{SERVER}", "tcp-3", 1, port=45000)
    second = request("INVITE", f"sip:bob@{SERVER}", "tcp-3", 2, port=45000, body=sdp(CLIENT, 40000))
    out = tcp.send(first + second).only(WAN)
    payload = bytes(out[TCP].payload).decode()
    assert CLIENT not in payload and payload.count("SIP/2.0\r\n") == 2
    assert lab.wan(rtp_in(40000)).only(LAN)


# -- enabled vs disabled --------------------------------------------------------------------


def test_disabled_sip_passes_unrewritten_and_opens_nothing():
    lab, monitor = sip_lab(enabled=False)
    body = sdp(CLIENT, 40000)
    raw = request("INVITE", f"sip:bob@{SERVER}", "off", 1, body=body)
    out = lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN)
    assert bytes(out[UDP].payload) == raw
    assert lab.wan(rtp_in(40000)).drops == ["no_mapping"]
    assert not monitor.active
    answer = response(200, "INVITE", "off", 1, f"SIP/2.0/UDP {CLIENT}:5060;branch=z")
    assert bytes(lab.wan(udp_in(5060, out[UDP].sport, payload=answer)).only(LAN)[UDP].payload) == (
        answer
    )


def test_off_by_default():
    lab = Lab(NatConfig(), helpers=[SipAlg(VpnMonitor())])
    raw = request("INVITE", f"sip:bob@{SERVER}", "d", 1, body=sdp(CLIENT, 40000))
    assert bytes(lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN)[UDP].payload) == raw


def test_before_and_after_toggling():
    lab, _ = sip_lab()
    invite(lab, "before")
    assert lab.wan(rtp_in(40000)).only(LAN)
    result = lab.configure(NatConfig(helpers=(("sip", False),)))
    assert any(log.event == "vpn_session_end" for log in result.logs)
    assert any(log.event == "helper_disabled" for log in result.logs)
    assert lab.wan(rtp_in(40000, sport=30010)).dropped  # the call's media is closed
    raw = request("INVITE", f"sip:bob@{SERVER}", "during", 1, body=sdp(CLIENT, 40010))
    assert bytes(lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN)[UDP].payload) == raw
    lab.configure(NatConfig(helpers=(("sip", True),)))
    out = invite(lab, "after", rtp=40020, sport=5062)
    assert CLIENT not in text(out)
    assert lab.wan(rtp_in(media_port(out))).only(LAN)[UDP].dport == 40020


def test_switching_on_takes_over_a_signalling_session_opened_while_off():
    lab, _ = sip_lab(enabled=False)
    assert CLIENT in text(invite(lab, "while-off"))  # passes unrewritten
    lab.configure(NatConfig(helpers=(("sip", True),)))
    out = invite(lab, "same-five-tuple")  # same ports as before: the session lives on
    assert CLIENT not in text(out)
    assert lab.wan(rtp_in(media_port(out))).only(LAN)[UDP].dport == 40000


def test_disabling_tears_down_the_signalling_session():
    lab, _ = sip_lab()
    out = invite(lab)
    lab.configure(NatConfig(helpers=(("sip", False),)))
    answer = response(200, "INVITE", "call-1", 1, header(text(out), "Via"))
    # The session (and its mapping) ended with the ALG: the answer is unsolicited now.
    assert lab.wan(udp_in(5060, out[UDP].sport, payload=answer)).dropped


# -- bad input ------------------------------------------------------------------------------


def test_malformed_payloads_never_crash_and_open_nothing():
    lab, _ = sip_lab()
    good = request("INVITE", f"sip:bob@{SERVER}", "bad", 1, body=sdp(CLIENT, 40000))
    bad = [
        good[:70],  # truncated inside the headers
        good[:-10],  # body shorter than Content-Length
        good.replace(b"Content-Length: ", b"Content-Length: 99999999"),
        good.replace(b"Content-Length: ", b"Content-Length: x"),
        good.replace(b"Call-ID: bad\r\n", b""),
        good.replace(b"CSeq: 1 INVITE\r\n", b""),
        good.replace(b"INVITE sip", b"INV\x00TE sip"),
        bytes(range(256)) * 4,
        b"\r\n\r\n",
        b"SIP/2.0 200\r\n\r\n",
        b"",
        good.replace(b"m=audio 40000", b"m=audio 99999"),
        good.replace(b"m=audio 40000", b"m=audio 400\xb30"),  # '³' passes isdigit() (fuzz)
        good.replace(b"m=audio 40000", b"m=audio"),
        good.replace(b"c=IN IP4", b"c=IN"),
    ]
    for payload in bad:
        lab.lan(udp_out(5060, 5060, payload=payload)).only(WAN)
        lab.wan(udp_in(5060, 5060, payload=payload))
    assert lab.counters["internal_error"] == 0
    assert lab.wan(rtp_in(40000)).dropped
    tcp = TcpSignalling(lab)
    for payload in bad:
        tcp.send(payload)
    assert lab.counters["internal_error"] == 0


def test_header_folding_and_multiple_contacts():
    lab, _ = sip_lab()
    raw = request(
        "REGISTER",
        f"sip:{SERVER}",
        "fold",
        1,
        extra=(("Contact", f"<sip:a@{CLIENT}>,\r\n <sip:b@{CLIENT}:5060>"),),
    )
    sent = text(lab.lan(udp_out(5060, 5060, payload=raw)).only(WAN))
    assert CLIENT not in sent and sent.count(PUBLIC) >= 5
