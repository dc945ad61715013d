"""nat/seq_adjust.py: sequence correction after payload length changes."""

import struct

from nat import seq_adjust


def segment(seq, ack, flags=0x10):
    buf = bytearray(20 + 20)
    struct.pack_into("!II", buf, 24, seq, ack)
    buf[20 + 13] = flags
    return buf


def seq_ack(buf):
    return struct.unpack_from("!II", buf, 24)


def test_nothing_recorded_changes_nothing():
    buf = segment(100, 200)
    assert seq_adjust.correct(buf, 20, None, None) is False
    assert seq_ack(buf) == (100, 200)


def test_later_segments_shift_and_acks_shift_back():
    way = seq_adjust.record(None, 1000, -3)  # the segment at seq 1000 lost 3 bytes
    later = segment(1020, 0)
    seq_adjust.correct(later, 20, way, None)
    assert seq_ack(later)[0] == 1017
    same = segment(1000, 0)
    seq_adjust.correct(same, 20, way, None)
    assert seq_ack(same)[0] == 1000  # the rewritten segment itself starts where it did
    reply = segment(5000, 1017)
    seq_adjust.correct(reply, 20, None, way)
    assert seq_ack(reply) == (5000, 1020)


def test_two_changes_accumulate_and_retransmissions_keep_the_old_offset():
    way = seq_adjust.record(None, 1000, 2)
    way = seq_adjust.record(way, 2000, 5)
    assert way == [2000, 2, 7]
    assert seq_adjust.record(way, 1500, 9) == way  # a retransmission changes nothing
    buf = segment(1500, 0)
    seq_adjust.correct(buf, 20, way, None)
    assert seq_ack(buf)[0] == 1502


def test_wraps_around_the_sequence_space():
    way = seq_adjust.record(None, 0xFFFFFFF0, 4)
    buf = segment(0x10, 0)
    seq_adjust.correct(buf, 20, way, None)
    assert seq_ack(buf)[0] == 0x14


def test_ack_is_left_alone_without_the_ack_flag():
    way = seq_adjust.record(None, 1000, 3)
    buf = segment(1, 7777, flags=0x02)
    seq_adjust.correct(buf, 20, None, way)
    assert seq_ack(buf) == (1, 7777)
