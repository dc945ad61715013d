"""The PPP stand-in's framing and LCP, without a VPN around it."""

import struct

from natbox.peers import pppstub as P


def test_fcs_matches_rfc_1662s_good_final_value():
    # RFC 1662 C.2: the FCS computed over the data and its own (LSB first) FCS is 0xf0b8
    # before the final complement, so 0x0f47 after it.
    data = b"\xff\x03\xc0\x21\x01\x01\x00\x04"
    fcs = P.fcs16(data)
    assert P.fcs16(data + struct.pack("<H", fcs)) == 0xF0B8 ^ 0xFFFF


def test_frames_escape_control_characters_and_come_back_whole():
    payload = bytes([0x01, 0x7E, 0x7D, 0x11, 0x20, 0x00])
    framed = P.frame(P.LCP, payload)
    assert framed[0] == framed[-1] == P.FLAG
    assert P.FLAG not in framed[1:-1] and 0x11 not in framed[1:-1]
    deframer = P.Deframer()
    assert deframer.feed(framed[:5]) == []  # a frame split across reads
    assert deframer.feed(framed[5:] + P.frame(P.LCP, b"\x09\x01\x00\x04")) == [
        (P.LCP, payload), (P.LCP, b"\x09\x01\x00\x04")]  # fmt: skip


def test_a_damaged_frame_is_counted_not_delivered():
    framed = bytearray(P.frame(P.LCP, b"\x01\x01\x00\x04"))
    framed[6] ^= 0x01
    deframer = P.Deframer()
    assert deframer.feed(bytes(framed)) == [] and deframer.bad == 1


def _exchange(a: P.Lcp, b: P.Lcp, rounds: int) -> None:
    da, db = P.Deframer(), P.Deframer()
    for _ in range(rounds):
        to_b = b"".join(a.tick())
        to_a = b"".join(b.tick())
        while to_a or to_b:
            replies_b = b"".join(out for f in db.feed(to_b) for out in b.receive(*f))
            replies_a = b"".join(out for f in da.feed(to_a) for out in a.receive(*f))
            to_a, to_b = replies_b, replies_a


def test_two_stand_ins_open_lcp_and_echo_both_ways():
    a, b = P.Lcp(0x1111), P.Lcp(0x2222)
    _exchange(a, b, 3)
    assert a.opened and b.opened
    assert a.received["echo-reply"] >= 1 and b.received["echo-reply"] >= 1
    assert a.received["echo-request"] >= 1 and b.received["echo-request"] >= 1


def test_a_silent_peer_never_opens():
    a = P.Lcp(0x1111)
    for _ in range(3):
        a.tick()
    assert not a.opened and a.sent["configure-request"] == 3 and not a.received
