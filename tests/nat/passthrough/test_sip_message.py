"""SIP/SDP text handling on its own: framing, parsing, endpoint rewriting, SDP."""

from nat.passthrough.sip_message import (
    media_lines,
    parse,
    replace_endpoint,
    rewrite_sdp,
    rewrite_via,
    split_stream,
)

INSIDE = ("192.168.1.10", 5060)
OUTSIDE = ("203.0.113.1", 6000)

MESSAGE = b"OPTIONS sip:b@x SIP/2.0\r\ni: abc\r\nCSeq: 1 OPTIONS\r\nl: 4\r\n\r\nbody"


def test_endpoint_rewriting_matches_address_and_port_exactly():
    assert replace_endpoint("sip:a@192.168.1.10:5060", INSIDE, OUTSIDE) == "sip:a@203.0.113.1:6000"
    assert replace_endpoint("sip:a@192.168.1.10", INSIDE, OUTSIDE) == "sip:a@203.0.113.1:6000"
    assert replace_endpoint("sip:a@192.168.1.10:5070", INSIDE, OUTSIDE) == "sip:a@192.168.1.10:5070"
    assert replace_endpoint("sip:a@192.168.1.100", INSIDE, OUTSIDE) == "sip:a@192.168.1.100"
    assert replace_endpoint("sip:a@1192.168.1.10", INSIDE, OUTSIDE) == "sip:a@1192.168.1.10"
    back = replace_endpoint("sip:a@203.0.113.1:6000", OUTSIDE, INSIDE)
    assert back == "sip:a@192.168.1.10:5060"


def test_via_received_and_rport():
    via = "SIP/2.0/UDP 203.0.113.1:6000;rport=6000;received=203.0.113.1;branch=z9, SIP/2.0/UDP p"
    assert rewrite_via(via, OUTSIDE, INSIDE) == (
        "SIP/2.0/UDP 192.168.1.10:5060;rport=5060;received=192.168.1.10;branch=z9, SIP/2.0/UDP p"
    )
    other = "SIP/2.0/UDP 198.51.100.1;rport=6000;branch=z9"
    assert rewrite_via(other, OUTSIDE, INSIDE) == other  # not ours: rport untouched


def test_parse_compact_headers_and_content_length():
    message = parse(MESSAGE)
    assert message is not None
    assert (message.call_id, message.cseq, message.body) == ("abc", (1, "OPTIONS"), "body")
    assert message.to_bytes() == MESSAGE
    message.body = "longer body"
    assert b"l: 11\r\n" in message.to_bytes()


def test_parse_refuses_what_is_not_sip():
    assert parse(MESSAGE.replace(b"l: 4", b"l: 40")) is None
    assert parse(MESSAGE.replace(b"i: abc\r\n", b"")) is None
    assert parse(b"GET / HTTP/1.1\r\nCSeq: 1 GET\r\ni: x\r\n\r\n") is None
    assert parse(b"\x00\xff" * 50) is None


def test_stream_framing_keeps_partial_messages():
    pieces, rest = split_stream(b"\r\n\r\n" + MESSAGE + MESSAGE[:30])
    assert pieces == [b"\r\n\r\n", MESSAGE] and rest == MESSAGE[:30]
    pieces, rest = split_stream(MESSAGE.replace(b"l: 4\r\n", b""))
    assert pieces == [] and rest  # no Content-Length on a stream: cannot be framed


def test_sdp_rewrite_leaves_ice_candidates_and_other_hosts_alone():
    body = (
        "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\n"
        "m=audio 40001 RTP/AVP 0\r\na=rtcp:40001\r\n"
        "a=candidate:1 1 UDP 1 192.168.1.10 40000 typ host\r\n"
        "m=video 40002 RTP/AVP 96\r\nc=IN IP4 10.0.0.5\r\n"
    )
    seen = []

    def open_media(media):
        seen.append(media.port)
        return 50000, 50001

    out = rewrite_sdp(body, "192.168.1.10", "203.0.113.1", open_media)
    assert seen == [40001]  # the video stream is another host's
    assert "m=audio 50001 RTP/AVP 0" in out and "a=rtcp:50001" in out
    assert "c=IN IP4 203.0.113.1" in out and "o=- 1 1 IN IP4 203.0.113.1" in out
    assert "a=candidate:1 1 UDP 1 192.168.1.10 40000 typ host" in out
    assert "m=video 40002" in out and "c=IN IP4 10.0.0.5" in out


def test_a_media_port_with_a_non_ascii_digit_is_not_a_port():
    # Found by fuzzing (tests/fuzz, target sip): "³" passes str.isdigit(), int() raises.
    lines = [
        "v=0",
        "c=IN IP4 192.168.1.10",
        "m=audio 400\xb30 RTP/AVP 0",
        "m=audio 40002 RTP/AVP 0",
    ]
    assert [m.port for m in media_lines(lines)] == [40002]


def test_a_media_line_split_by_a_stray_lf_is_rewritten_not_crashed_on():
    # Found by make bench's fuzzing (target sip): lines end in CRLF, and "m=audio 40000\n..."
    # has its tokens apart by LF only; media_lines read it, the port rewrite raised.
    body = (
        "v=0\r\nc=IN IP4 192.168.1.10\r\nm=audio 40000\nRTP/AVP 0\r\nm=video 40002/2 RTP/AVP 96\r\n"
    )
    out = rewrite_sdp(body, "192.168.1.10", "203.0.113.1", lambda m: (m.port + 10000, 0))
    assert "m=audio 50000\nRTP/AVP 0\r\n" in out
    assert "m=video 50002/2 RTP/AVP 96\r\n" in out  # the /<count> suffix stays
    assert "c=IN IP4 203.0.113.1" in out
