"""nat/checksum.py against a naive RFC 1071 sum, and RFC 1624 incremental updates."""

import struct

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nat import checksum


def naive_ones_sum(data: bytes) -> int:
    """RFC 1071 section 4.1, word by word with end-around carry."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


def naive_checksum(data: bytes) -> int:
    return ~naive_ones_sum(data) & 0xFFFF


def even_bytes(min_size=2, max_size=200):
    return st.lists(st.integers(0, 0xFFFF), min_size=min_size // 2, max_size=max_size // 2).map(
        lambda words: struct.pack(f"!{len(words)}H", *words)
    )


# -- ones_sum / checksum --------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_ones_sum_matches_rfc1071(data):
    assert checksum.ones_sum(data) == naive_ones_sum(data)


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_checksum_matches_rfc1071(data):
    assert checksum.checksum(data) == naive_checksum(data)


@given(st.binary(max_size=100))
def test_ones_sum_accepts_bytearray_and_memoryview(data):
    expected = naive_ones_sum(data)
    assert checksum.ones_sum(bytearray(data)) == expected
    assert checksum.ones_sum(memoryview(data)) == expected
    assert checksum.checksum(memoryview(bytearray(data))) == naive_checksum(data)


def test_ones_sum_edge_cases():
    assert checksum.ones_sum(b"") == 0
    assert checksum.ones_sum(b"\0\0\0") == 0
    assert checksum.ones_sum(b"\xff\xff") == 0xFFFF  # -0 stays -0
    assert checksum.ones_sum(b"\xff\xff\xff\xff") == 0xFFFF
    assert checksum.ones_sum(b"\x80\x00\x80\x00") == 0x0001  # end-around carry
    assert checksum.ones_sum(b"\x01") == 0x0100  # an odd byte is the high half of a word


def test_checksum_of_the_rfc1071_example():
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert checksum.ones_sum(data) == 0xDDF2
    assert checksum.checksum(data) == 0x220D


def test_checksum_of_a_known_ipv4_header():
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert checksum.checksum(header) == 0xB861


# -- is_valid -------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(even_bytes(min_size=2), st.data())
def test_is_valid_accepts_data_with_its_checksum(data, draw):
    assume(any(data))
    csum = checksum.checksum(data)
    at = draw.draw(st.integers(0, len(data) // 2)) * 2
    whole = data[:at] + struct.pack("!H", csum) + data[at:]
    assert checksum.is_valid(whole)
    # Any change to a single byte is caught.
    pos = draw.draw(st.integers(0, len(whole) - 1))
    flip = draw.draw(st.integers(1, 255))
    broken = bytearray(whole)
    broken[pos] ^= flip
    assert not checksum.is_valid(broken)


def test_is_valid_rejects_all_zero_data():
    assert not checksum.is_valid(b"\0" * 20)


# -- incremental updates (RFC 1624) ---------------------------------------------------------------


@settings(max_examples=400)
@given(even_bytes(min_size=4, max_size=120), st.data())
def test_words_delta_and_adjust_equal_a_full_recompute(data, draw):
    words = len(data) // 2
    changed = bytearray(data)
    positions = draw.draw(st.lists(st.integers(0, words - 1), min_size=1, max_size=words))
    for pos in positions:
        changed[2 * pos : 2 * pos + 2] = struct.pack("!H", draw.draw(st.integers(0, 0xFFFF)))
    # The ambiguity of one's-complement zero only arises for an all-zero buffer.
    assume(any(data) and any(changed))
    first = min(positions) * 2
    last = max(positions) * 2 + 2
    delta = checksum.words_delta(data[first:last], bytes(changed[first:last]))
    assert 0 <= delta <= 0xFFFF
    assert checksum.adjust(checksum.checksum(data), delta) == checksum.checksum(bytes(changed))


@settings(max_examples=300)
@given(even_bytes(min_size=4, max_size=80), st.data())
def test_adjust_field_keeps_an_embedded_checksum_valid(data, draw):
    words = len(data) // 2
    at = draw.draw(st.integers(0, words - 1)) * 2
    buf = bytearray(data)
    buf[at : at + 2] = b"\0\0"
    assume(any(buf))
    struct.pack_into("!H", buf, at, checksum.checksum(buf))
    assert checksum.is_valid(buf)
    pos = draw.draw(st.integers(0, words - 1)) * 2
    assume(pos != at)
    new = struct.pack("!H", draw.draw(st.integers(0, 0xFFFF)))
    delta = checksum.words_delta(bytes(buf[pos : pos + 2]), new)
    buf[pos : pos + 2] = new
    # Degenerate: with every other word zero, one's-complement zero has two spellings.
    assume(any(buf[:at] + buf[at + 2 :]))
    checksum.adjust_field(buf, at, delta)
    assert checksum.is_valid(buf)
    recomputed = bytearray(buf)
    recomputed[at : at + 2] = b"\0\0"
    assert buf[at : at + 2] == struct.pack("!H", checksum.checksum(recomputed))


@given(even_bytes(min_size=2, max_size=40), even_bytes(min_size=2, max_size=40))
def test_words_delta_then_negate_undoes_the_change(old, new):
    size = min(len(old), len(new))
    old, new = old[:size], new[:size]
    assume(any(old))
    csum = checksum.checksum(old)
    delta = checksum.words_delta(old, new)
    back = checksum.adjust(checksum.adjust(csum, delta), checksum.negate(delta))
    # Equal as one's-complement numbers (0 and 0xFFFF are both zero).
    assert back % 0xFFFF == csum % 0xFFFF


def test_words_delta_of_no_change_is_negative_zero():
    assert checksum.words_delta(b"\x12\x34\x56\x78", b"\x12\x34\x56\x78") == 0xFFFF
    assert checksum.adjust(0x1234, 0xFFFF) == 0x1234


# -- UDP's zero -----------------------------------------------------------------------------------


@given(st.integers(0, 0xFFFF))
def test_adjust_udp_field_keeps_zero(delta):
    buf = bytearray(b"\xaa\xbb\x00\x00\xcc\xdd")
    checksum.adjust_udp_field(buf, 2, delta)
    assert buf == bytearray(b"\xaa\xbb\x00\x00\xcc\xdd")


@settings(max_examples=400)
@given(st.integers(1, 0xFFFF), st.integers(0, 0xFFFF))
def test_adjust_udp_field_never_writes_zero(csum, delta):
    buf = bytearray(struct.pack("!HHH", 0x1111, csum, 0x2222))
    checksum.adjust_udp_field(buf, 2, delta)
    (written,) = struct.unpack_from("!H", buf, 2)
    assert written != 0
    expected = checksum.adjust(csum, delta)
    assert written == (expected or 0xFFFF)
    assert buf[:2] == b"\x11\x11" and buf[4:] == b"\x22\x22"


def test_adjust_udp_field_writes_ffff_where_the_sum_gives_zero():
    assert checksum.adjust(0x0001, 0x0001) == 0  # the case that needs the substitution
    buf = bytearray(b"\x00\x01")
    checksum.adjust_udp_field(buf, 0, 0x0001)
    assert buf == bytearray(b"\xff\xff")
