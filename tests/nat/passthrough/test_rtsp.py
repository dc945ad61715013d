"""RTSP ALG through the engine: SETUP forms, replies, media, TEARDOWN, disabled, bad input."""

import re

import pytest
from playbook import CLIENT, CLIENT2, PUBLIC, SERVER, SERVER2, Lab, tcp_in, tcp_out, udp_in
from scapy.layers.inet import IP, TCP, UDP

from nat import NatConfig
from nat.direction import LAN, WAN
from nat.passthrough.monitor import VpnMonitor
from nat.passthrough.rtsp import RtspAlg, client_ports


def rtsp_lab(enabled=True, **settings):
    monitor = VpnMonitor()
    lab = Lab(NatConfig(helpers=(("rtsp", enabled),), **settings), helpers=[RtspAlg(monitor)])
    return lab, monitor


class Control:
    """One client's RTSP control connection with its TCP numbering."""

    def __init__(self, lab, client=CLIENT, sport=41000, port=554):
        self.lab, self.client, self.sport, self.port = lab, client, sport, port
        self.seq, self.server_seq, self.cseq = 1000, 9000, 0
        self.seq_out = 1000  # what the server sees
        syn = lab.lan(tcp_out(sport, port, "S", src=client, seq=self.seq - 1)).only(WAN)
        self.ext = syn[TCP].sport
        lab.wan(tcp_in(port, self.ext, "SA", seq=self.server_seq - 1, ack=self.seq)).only(LAN)
        lab.lan(tcp_out(sport, port, "A", src=client, seq=self.seq, ack=self.server_seq))

    def request(self, method, headers=()):
        self.cseq += 1
        lines = [f"{method} rtsp://{SERVER}/movie/track1 RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{name}: {value}" for name, value in headers]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        return self.send(raw)

    def send(self, raw):
        packet = tcp_out(
            self.sport, self.port, "PA", src=self.client, seq=self.seq, ack=self.server_seq,
            payload=raw,
        )  # fmt: skip
        self.seq += len(raw)
        result = self.lab.lan(packet)
        if result.transmitted:
            self.seq_out += len(result.only(WAN)[TCP].payload)
        return result

    def reply(self, status=200, headers=()):
        lines = [f"RTSP/1.0 {status} OK", f"CSeq: {self.cseq}"]
        lines += [f"{name}: {value}" for name, value in headers]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        packet = tcp_in(self.port, self.ext, "PA", seq=self.server_seq, ack=self.seq_out,
                        payload=raw)  # fmt: skip
        self.server_seq += len(raw)
        return self.lab.wan(packet)


def transport(packet):
    raw = bytes(packet[TCP].payload).decode()
    return re.search(r"^Transport: (.*)$", raw, re.MULTILINE).group(1).strip()


def media(ext_port, src=SERVER, sport=6970):
    return udp_in(sport, ext_port, src=src, payload=b"\x80\x60rtp")


@pytest.mark.parametrize(
    ("spec", "outside", "ports"),
    [
        ("5000-5001", "5000-5001", [(5000, 5000), (5001, 5001)]),
        ("5000", "5000", [(5000, 5000)]),
        ("5000/5010", "5000/5010", [(5000, 5000), (5010, 5010)]),
    ],
)
def test_setup_each_client_port_form_reply_and_media(spec, outside, ports):
    lab, monitor = rtsp_lab()
    control = Control(lab)
    out = control.request("SETUP", [("Transport", f"RTP/AVP;unicast;client_port={spec}")])
    assert transport(out.only(WAN)) == f"RTP/AVP;unicast;client_port={outside}"
    back = control.reply(
        headers=[
            ("Session", "12345678;timeout=60"),
            ("Transport", f"RTP/AVP;unicast;client_port={outside};server_port=6970-6971"),
        ]
    ).only(LAN)
    assert transport(back) == f"RTP/AVP;unicast;client_port={spec};server_port=6970-6971"
    assert back[TCP].ack == control.seq
    for external, internal in ports:
        got = lab.wan(media(external)).only(LAN)
        assert (got[IP].dst, got[UDP].dport) == (CLIENT, internal)
    assert lab.wan(media(ports[0][0], src=SERVER2)).dropped  # the server's address only
    assert monitor.active and next(iter(monitor.active.values())).ids == {"session": "12345678"}
    result = control.request("TEARDOWN", [("Session", "12345678")])
    result.only(WAN)
    assert any(log.event == "vpn_session_end" for log in result.logs)
    assert lab.wan(media(ports[0][0], sport=6980)).dropped


def test_media_from_the_source_the_reply_names_is_admitted_and_from_nobody_else():
    """A server whose media comes from a media server beside it says so in its reply
    (Transport source=, RFC 2326 12.39): that address gets in too; others still do not,
    nor does a source= naming a LAN address."""
    for source, admitted in ((SERVER2, True), ("192.168.1.77", False), (None, False)):
        lab, _ = rtsp_lab()
        control = Control(lab)
        out = control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
        outside = transport(out.only(WAN)).split("client_port=")[1]
        named = f";source={source}" if source else ""
        reply = f"RTP/AVP;unicast;client_port={outside};server_port=6970-6971{named}"
        control.reply(headers=[("Session", "777"), ("Transport", reply)])
        rtp = int(outside.split("-")[0])
        from_media_server = lab.wan(media(rtp, src=SERVER2))
        if admitted:
            got = from_media_server.only(LAN)
            assert (got[IP].dst, got[UDP].dport) == (CLIENT, 5000)
        else:
            assert from_media_server.dropped
        assert lab.wan(media(rtp + 1, sport=6971)).only(LAN)  # the server itself, always
        assert lab.wan(media(rtp, src="203.0.113.99")).dropped  # anyone else, never


def test_destination_is_stripped_unless_it_is_our_address():
    lab, _ = rtsp_lab()
    control = Control(lab)
    spec = "RTP/AVP;unicast;destination=192.0.2.99;client_port=5000-5001;mode=play"
    out = control.request("SETUP", [("Transport", spec)]).only(WAN)
    assert transport(out) == "RTP/AVP;unicast;client_port=5000-5001;mode=play"
    spec = f"RTP/AVP;unicast;destination={PUBLIC};client_port=5002-5003"
    out = control.request("SETUP", [("Transport", spec)]).only(WAN)
    assert f"destination={PUBLIC}" in transport(out)
    spec = f"RTP/AVP;unicast;destination={CLIENT};client_port=5004-5005"
    assert "destination" not in transport(control.request("SETUP", [("Transport", spec)]).only(WAN))


def test_teardown_without_session_removes_everything_of_the_connection():
    lab, _ = rtsp_lab()
    control = Control(lab)
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    control.reply(headers=[("Session", "A"), ("Transport", "RTP/AVP;client_port=5000-5001")])
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5002-5003")])
    control.reply(headers=[("Session", "B"), ("Transport", "RTP/AVP;client_port=5002-5003")])
    control.request("TEARDOWN")
    assert lab.wan(media(5000)).dropped and lab.wan(media(5002)).dropped


def test_teardown_of_one_session_keeps_the_other():
    lab, _ = rtsp_lab()
    control = Control(lab)
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    control.reply(headers=[("Session", "A")])
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5002-5003")])
    control.reply(headers=[("Session", "B")])
    control.request("TEARDOWN", [("Session", "A")])
    assert lab.wan(media(5000)).dropped
    assert lab.wan(media(5002)).only(LAN)[UDP].dport == 5002


def test_error_reply_removes_the_setup_and_counts_as_failure():
    lab, monitor = rtsp_lab()
    control = Control(lab)
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    control.reply(status=461)
    assert lab.wan(media(5000)).dropped
    assert not monitor.active


def test_two_clients_same_ports_same_server():
    lab, _ = rtsp_lab()
    one, two = Control(lab, CLIENT), Control(lab, CLIENT2)
    spec = "RTP/AVP;unicast;client_port=5000-5001"
    assert transport(one.request("SETUP", [("Transport", spec)]).only(WAN)).endswith("5000-5001")
    outside = transport(two.request("SETUP", [("Transport", spec)]).only(WAN))
    low, high = map(int, re.search(r"client_port=(\d+)-(\d+)", outside).groups())
    assert high == low + 1 and low % 2 == 0 and low != 5000
    back = two.reply(
        headers=[("Session", "S2"), ("Transport", f"RTP/AVP;client_port={low}-{high}")]
    )
    assert transport(back.only(LAN)) == "RTP/AVP;client_port=5000-5001"
    first, second = lab.wan(media(5000)).only(LAN), lab.wan(media(low)).only(LAN)
    assert (first[IP].dst, first[UDP].dport) == (CLIENT, 5000)
    assert (second[IP].dst, second[UDP].dport) == (CLIENT2, 5000)
    assert lab.wan(media(high, sport=6971)).only(LAN)[UDP].dport == 5001


def test_expectations_time_out_after_300_s():
    lab, _ = rtsp_lab()
    control = Control(lab)
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    lab.advance(299)
    assert lab.wan(media(5001)).only(LAN)
    lab.advance(2)
    assert lab.wan(media(5000)).dropped


def test_at_most_eight_outstanding_setups():
    lab, _ = rtsp_lab()
    control = Control(lab)
    for index in range(9):
        port = 5000 + 2 * index
        out = control.request("SETUP", [("Transport", f"RTP/AVP;client_port={port}-{port + 1}")])
        out.only(WAN)
    assert lab.wan(media(5014)).only(LAN)
    assert lab.wan(media(5016)).dropped
    assert any(log.event == "vpn_session_refused" for log in out.logs)


def test_control_connection_end_removes_expectations():
    lab, monitor = rtsp_lab()
    control = Control(lab)
    control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    control.reply(headers=[("Session", "A")])
    lab.wan(tcp_in(554, control.ext, "R", seq=control.server_seq, ack=0))
    lab.advance(241)
    assert lab.wan(media(5000)).dropped
    assert not monitor.active


def test_interleaved_frames_and_length_change_keep_tcp_numbering_right():
    lab, _ = rtsp_lab()
    control = Control(lab)
    frame = b"$\x00\x00\x04abcd"
    setup = (
        b"SETUP rtsp://x/t RTSP/1.0\r\nCSeq: 1\r\n"
        b"Transport: RTP/AVP;destination=192.0.2.1;client_port=7000\r\n\r\n"
    )
    raw = frame + setup + frame
    out = control.send(raw).only(WAN)
    payload = bytes(out[TCP].payload)
    assert payload.startswith(frame) and payload.endswith(frame)
    assert b"destination" not in payload and b"client_port=7000" in payload
    growth = len(payload) - len(raw)
    assert growth < 0
    nxt = control.send(b"OPTIONS rtsp://x RTSP/1.0\r\nCSeq: 2\r\n\r\n").only(WAN)
    assert nxt[TCP].seq == 1000 + len(raw) + growth
    back = control.reply().only(LAN)
    assert back[TCP].ack == control.seq
    assert lab.wan(media(7000)).only(LAN)[UDP].dport == 7000


def test_disabled_rtsp_passes_unrewritten_and_opens_nothing():
    lab, monitor = rtsp_lab(enabled=False)
    control = Control(lab)
    spec = "RTP/AVP;unicast;destination=192.0.2.99;client_port=5000-5001"
    out = control.request("SETUP", [("Transport", spec)]).only(WAN)
    assert transport(out) == spec
    control.reply(headers=[("Session", "A")]).only(LAN)
    assert lab.wan(media(5000)).drops == ["no_mapping"]
    assert not monitor.active


def test_before_and_after_toggling():
    lab, _ = rtsp_lab()
    control = Control(lab)
    control.request("SETUP", [("Transport", "RTP/AVP;client_port=5000-5001")])
    control.reply(headers=[("Session", "A")])
    lab.configure(NatConfig(helpers=(("rtsp", False),)))
    assert lab.wan(media(5000)).dropped  # torn down with the control connection
    later = Control(lab, sport=41001)
    out = later.request(
        "SETUP", [("Transport", "RTP/AVP;client_port=6000-6001;destination=1.2.3.4")]
    )
    assert "destination" in transport(out.only(WAN))
    assert lab.wan(media(6000)).dropped
    lab.configure(NatConfig(helpers=(("rtsp", True),)))
    again = Control(lab, sport=41005)
    again.request("SETUP", [("Transport", "RTP/AVP;client_port=6002-6003")]).only(WAN)
    assert lab.wan(media(6002)).only(LAN)[UDP].dport == 6002


def test_malformed_payloads_never_crash_and_open_nothing():
    lab, _ = rtsp_lab()
    control = Control(lab)
    bad = [
        b"SETUP rtsp://x RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;client_port=99999-1\r\n\r\n",
        b"SETUP rtsp://x RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;client_port=a-b\r\n\r\n",
        b"SETUP rtsp://x RTSP/1.0\r\nTransport: RTP/AVP;client_port=5000-5001\r\n\r\n",
        b"SETUP rtsp://x RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 99999999\r\n\r\n",
        b"SETUP rtsp://x RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP;client_port=5000",
        b"$\x00\xff\xff" + b"x" * 20,
        bytes(range(256)) * 3,
        b"\xff" * 10 + b"\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 99\r\nTransport: client_port=1-2\r\n\r\n",
    ]
    for payload in bad:
        assert control.send(payload).only(WAN)
    assert lab.counters["internal_error"] == 0
    assert lab.wan(media(5000)).dropped


def test_client_port_forms():
    assert client_ports("5000") == [5000]
    assert client_ports("5000-5001") == [5000, 5001]
    assert client_ports("5000/5010") == [5000, 5010]
    assert client_ports("0") is None and client_ports("70000") is None
    assert client_ports("5000-") is None and client_ports("x") is None


def test_the_alg_serves_the_ports_it_is_given_instead_of_554():
    # gst-rtsp-server, mediamtx and many cameras listen on 8554: with the ALG on 554 only,
    # nothing opens for their media and a NAT that filters drops it.
    lab, monitor = rtsp_lab(profile="symmetric", helper_ports=((8554, "rtsp"),))
    control = Control(lab, port=8554)
    out = control.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    outside = transport(out.only(WAN)).rsplit("=", 1)[1]
    control.reply(
        headers=[
            ("Session", "1"),
            ("Transport", f"RTP/AVP;unicast;client_port={outside};server_port=6970-6971"),
        ]
    )
    got = lab.wan(media(int(outside.split("-")[0]))).only(LAN)
    assert (got[IP].dst, got[UDP].dport) == (CLIENT, 5000) and monitor.active
    on_554 = Control(lab, sport=41002)  # the given ports replace 554: nothing opens there
    on_554.request("SETUP", [("Transport", "RTP/AVP;unicast;client_port=5002-5003")])
    on_554.reply(headers=[("Session", "2"), ("Transport", "RTP/AVP;unicast;client_port=5002-5003")])
    assert lab.wan(media(5002)).dropped and len(monitor.active) == 1
