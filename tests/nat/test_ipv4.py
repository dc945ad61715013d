"""nat/ipv4.py: the packets the router builds, fragmentation and checksum helpers."""

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from playbook import CLIENT, PUBLIC, ROUTER_LAN, SERVER, checksums_ok
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror

from nat import checksum, ipv4


def udp_packet(payload=b"hello", src=CLIENT, dst=SERVER, **ip) -> bytes:
    return bytes(IP(src=src, dst=dst, **ip) / UDP(sport=5000, dport=53) / payload)


# -- basics ---------------------------------------------------------------------------------------


def test_addr_and_text_round_trip():
    assert ipv4.addr("192.168.1.10") == bytes([192, 168, 1, 10])
    assert ipv4.text(bytes([203, 0, 113, 1])) == "203.0.113.1"
    assert ipv4.text(bytearray(ipv4.addr(SERVER))) == SERVER


def test_header_length_and_l4_checksum_offset():
    assert ipv4.header_length(bytes([0x45])) == 20
    assert ipv4.header_length(bytes([0x4F])) == 60
    assert ipv4.l4_checksum_offset(ipv4.TCP, 20) == 36
    assert ipv4.l4_checksum_offset(ipv4.UDP, 24) == 30
    assert ipv4.l4_checksum_offset(ipv4.ICMP, 20) == 22
    assert ipv4.l4_checksum_offset(ipv4.GRE, 20) is None


def test_build_header_is_a_valid_ipv4_header():
    header = ipv4.build_header(
        ipv4.addr(PUBLIC), ipv4.addr(SERVER), ipv4.UDP, 12, ident=0x4242, ttl=17
    )
    assert len(header) == 20
    assert checksum.is_valid(header)
    parsed = IP(bytes(header) + b"\0" * 12)
    assert (parsed.src, parsed.dst, parsed.proto, parsed.len) == (PUBLIC, SERVER, 17, 32)
    assert (parsed.id, parsed.ttl, parsed.ihl) == (0x4242, 17, 5)


# -- build_icmp_error -----------------------------------------------------------------------------


def test_build_icmp_error_quotes_the_original():
    original = udp_packet(b"x" * 40)
    raw = ipv4.build_icmp_error(
        ipv4.addr(ROUTER_LAN), ipv4.addr(CLIENT), ipv4.ICMP_UNREACH, ipv4.UNREACH_PORT, original
    )
    assert checksums_ok(raw)
    parsed = IP(raw)
    assert (parsed.src, parsed.dst, parsed.proto, parsed.ttl) == (ROUTER_LAN, CLIENT, 1, 64)
    assert (parsed[ICMP].type, parsed[ICMP].code) == (3, 3)
    assert parsed.len == len(raw) == 20 + 8 + len(original)
    assert raw[28:] == original
    assert parsed[IPerror].src == CLIENT and parsed[UDPerror].sport == 5000
    assert checksum.is_valid(raw[:20]) and checksum.is_valid(raw[20:])


def test_build_icmp_error_carries_the_next_hop_mtu():
    original = udp_packet(b"y" * 100, flags="DF")
    raw = ipv4.build_icmp_error(
        ipv4.addr(PUBLIC),
        ipv4.addr(SERVER),
        ipv4.ICMP_UNREACH,
        ipv4.UNREACH_NEEDFRAG,
        original,
        rest=1400,
    )
    parsed = IP(raw)
    assert (parsed[ICMP].type, parsed[ICMP].code) == (3, 4)
    assert parsed[ICMP].nexthopmtu == 1400
    assert raw[24:28] == struct.pack("!HH", 0, 1400)
    assert checksums_ok(raw)


@settings(max_examples=50)
@given(st.integers(0, 0xFFFFFFFF))
def test_build_icmp_error_rest_word_is_stored_big_endian(rest):
    raw = ipv4.build_icmp_error(
        ipv4.addr(PUBLIC), ipv4.addr(SERVER), 12, 0, udp_packet(), rest=rest
    )
    assert raw[24:28] == rest.to_bytes(4, "big")
    assert checksum.is_valid(raw[20:])


@settings(max_examples=60)
@given(st.integers(0, 1400))
def test_build_icmp_error_is_capped_at_576_bytes(size):
    original = udp_packet(bytes(range(256)) * 6)[: 28 + size] if size else udp_packet(b"")
    raw = ipv4.build_icmp_error(
        ipv4.addr(ROUTER_LAN), ipv4.addr(CLIENT), ipv4.ICMP_TIME_EXCEEDED, 0, original
    )
    assert len(raw) <= ipv4.ICMP_ERROR_MAX == 576
    quoted = raw[28:]
    assert quoted == original[: len(quoted)]
    assert len(quoted) == min(len(original), 576 - 28)
    assert struct.unpack_from("!H", raw, 2)[0] == len(raw)
    assert checksum.is_valid(raw[:20]) and checksum.is_valid(raw[20:])


def test_build_icmp_error_of_a_large_packet_is_exactly_576_bytes():
    original = udp_packet(b"z" * 1400)
    raw = ipv4.build_icmp_error(ipv4.addr(ROUTER_LAN), ipv4.addr(CLIENT), 11, 0, original)
    assert len(raw) == 576
    assert raw[28:] == original[:548]
    assert checksums_ok(raw)


# -- fragment -------------------------------------------------------------------------------------


def parse_fragment(piece: bytes):
    ihl = ipv4.header_length(piece)
    (flags_frag,) = struct.unpack_from("!H", piece, ipv4.FLAGS_FRAG)
    return ihl, flags_frag & ipv4.FRAG_OFFSET_MASK, bool(flags_frag & ipv4.FLAG_MF)


def check_fragments(packet: bytes, pieces, mtu: int, base: int = 0, last_mf: bool = False):
    ihl = ipv4.header_length(packet)
    payload = packet[ihl:]
    assert pieces
    rebuilt = bytearray(len(payload))
    covered = 0
    for i, piece in enumerate(pieces):
        piece = bytes(piece)
        assert len(piece) <= mtu
        p_ihl, offset, more = parse_fragment(piece)
        assert p_ihl == ihl
        assert struct.unpack_from("!H", piece, ipv4.TOTAL_LENGTH)[0] == len(piece)
        assert checksum.is_valid(piece[:ihl])
        # Everything but length, flags/offset and checksum is copied from the original.
        assert piece[:2] == packet[:2] and piece[4:6] == packet[4:6]
        assert piece[8:10] == packet[8:10] and piece[12:ihl] == packet[12:ihl]
        data = piece[ihl:]
        start = (offset - base) * 8
        assert start >= 0
        rebuilt[start : start + len(data)] = data
        covered += len(data)
        if i < len(pieces) - 1:
            assert more, "every fragment but the last has MF set"
            assert len(data) % 8 == 0, "non-final fragments carry multiples of 8 bytes"
        else:
            assert more == last_mf
    assert covered == len(payload)
    assert bytes(rebuilt) == payload
    offsets = [parse_fragment(bytes(p))[1] for p in pieces]
    assert offsets == sorted(offsets) and offsets[0] == base


@settings(max_examples=150)
@given(st.integers(1, 4000), st.integers(68, 1500), st.binary(min_size=0, max_size=16))
def test_fragment_pieces_fit_the_mtu_and_reassemble(size, mtu, seed):
    payload = (seed or b"\x5a") * (size // max(len(seed), 1) + 1)
    packet = udp_packet(payload[:size], ttl=33, id=0x7777)
    pieces = ipv4.fragment(packet, mtu)
    check_fragments(packet, pieces, mtu)


def test_fragment_leaves_a_packet_that_fits_the_mtu_whole():
    # 757 - 20 = 737 is not a multiple of 8, but the packet fits: nothing to split.
    packet = udp_packet(b"Z" * 729)
    assert len(packet) == 757
    pieces = ipv4.fragment(packet, 757)
    assert [bytes(p) for p in pieces] == [packet]


def test_fragment_uses_no_more_pieces_than_needed():
    # Non-final pieces carry 552 bytes (556 rounded down to 8); the last may carry 556.
    packet = udp_packet(b"W" * (552 + 556 - 8))
    pieces = ipv4.fragment(packet, 576)
    check_fragments(packet, pieces, 576)
    assert len(pieces) == 2, [len(p) for p in pieces]


def test_fragment_reassembled_by_scapy_gives_the_original_datagram():
    from scapy.layers.inet import defragment

    packet = udp_packet(bytes(range(256)) * 10, id=0x1234)
    pieces = [IP(bytes(p)) for p in ipv4.fragment(packet, 576)]
    assert len(pieces) == 5
    whole = defragment(pieces)[0]
    assert bytes(whole[UDP]) == bytes(IP(packet)[UDP])


def test_fragment_keeps_ip_options_in_every_piece():
    packet = bytes(
        IP(src=CLIENT, dst=SERVER, options=b"\x01\x01\x01\x00")
        / UDP(sport=1, dport=2)
        / (b"o" * 1000)
    )
    assert ipv4.header_length(packet) == 24
    pieces = ipv4.fragment(packet, 300)
    check_fragments(packet, pieces, 300)


@settings(max_examples=100)
@given(st.integers(1, 2000), st.integers(68, 1500), st.integers(0, 1000), st.booleans())
def test_refragmenting_a_fragment_keeps_its_offset_and_last_mf(size, mtu, base, more):
    packet = bytearray(udp_packet(b"r" * size, id=0x4321))
    struct.pack_into("!H", packet, ipv4.FLAGS_FRAG, (ipv4.FLAG_MF if more else 0) | base)
    struct.pack_into("!H", packet, ipv4.HEADER_CSUM, 0)
    struct.pack_into("!H", packet, ipv4.HEADER_CSUM, checksum.checksum(packet[:20]))
    pieces = ipv4.fragment(packet, mtu)
    check_fragments(bytes(packet), pieces, mtu, base=base, last_mf=more)


def test_fragment_refuses_an_mtu_smaller_than_the_header():
    import pytest

    with pytest.raises(ValueError):
        ipv4.fragment(udp_packet(b"x" * 100), 27)


# -- transport_checksum ---------------------------------------------------------------------------


def scrambled(raw: bytes, offset: int) -> bytearray:
    buf = bytearray(raw)
    buf[offset : offset + 2] = b"\xde\xad"
    return buf


@settings(max_examples=100)
@given(st.binary(max_size=300), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_transport_checksum_recomputes_udp_tcp_and_icmp(payload, port, ident):
    cases = [
        (IP(src=CLIENT, dst=SERVER) / UDP(sport=port, dport=53) / payload, ipv4.UDP, 26),
        (IP(src=PUBLIC, dst=SERVER) / TCP(sport=port, dport=80, flags="PA") / payload, 6, 36),
        (IP(src=SERVER, dst=PUBLIC) / ICMP(type=8, id=ident) / payload, ipv4.ICMP, 22),
    ]
    for packet, proto, offset in cases:
        raw = bytes(packet)
        buf = scrambled(raw, offset)
        ipv4.transport_checksum(buf, 20, proto)
        assert checksums_ok(bytes(buf))
        if proto != ipv4.UDP or raw[offset : offset + 2] != b"\0\0":
            assert bytes(buf) == raw  # scapy computed the same value


def test_transport_checksum_with_ip_options():
    raw = bytes(
        IP(src=CLIENT, dst=SERVER, options=b"\x01\x01\x01\x00") / UDP(sport=7, dport=9) / b"abc"
    )
    buf = scrambled(raw, 24 + 6)
    ipv4.transport_checksum(buf, 24, ipv4.UDP)
    assert bytes(buf) == raw


def test_transport_checksum_writes_ffff_for_a_udp_sum_of_zero():
    base = bytearray(udp_packet(b"\0\0"))
    pseudo = bytes(base[12:20]) + bytes([0, 17]) + (len(base) - 20).to_bytes(2, "big")
    base[26:28] = b"\0\0"
    partial = checksum.ones_sum(pseudo + bytes(base[20:]))
    word = (0xFFFF - partial) % 0xFFFF  # makes the sum 0xFFFF: the checksum would be 0
    base[28:30] = word.to_bytes(2, "big")
    assert checksum.checksum(pseudo + bytes(base[20:])) == 0
    ipv4.transport_checksum(base, 20, ipv4.UDP)
    assert base[26:28] == b"\xff\xff"
    assert checksum.is_valid(pseudo + bytes(base[20:]))


def test_transport_checksum_leaves_a_truncated_segment_alone():
    raw = bytearray(udp_packet(b"")[:24])  # only the ports: no room for the checksum
    before = bytes(raw)
    ipv4.transport_checksum(raw, 20, ipv4.UDP)
    assert bytes(raw) == before
    ipv4.transport_checksum(raw, 20, ipv4.GRE)
    assert bytes(raw) == before


# -- set_total_length -----------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_set_total_length_fixes_length_and_header_checksum(extra):
    buf = bytearray(udp_packet(b"abc")) + extra
    ipv4.set_total_length(buf, 20)
    assert struct.unpack_from("!H", buf, 2)[0] == len(buf)
    assert checksum.is_valid(buf[:20])
    assert IP(bytes(buf)).len == len(buf)


def test_set_total_length_with_options():
    buf = bytearray(
        bytes(
            IP(src=CLIENT, dst=SERVER, options=b"\x01\x01\x01\x00") / UDP(sport=1, dport=2) / b"x"
        )
    )
    buf += b"more"
    ipv4.set_total_length(buf, 24)
    assert checksum.is_valid(buf[:24])
    assert struct.unpack_from("!H", buf, 2)[0] == len(buf)
