"""nat/fragments.py: the fragment tracker's memory and limits."""

from nat import fragments
from nat.fragments import FragmentTracker


def header(ident, src=b"\xc0\xa8\x01\x0a", dst=b"\xc6\x33\x64\x0a", proto=17):
    packet = bytearray(20)
    packet[4:6] = ident.to_bytes(2, "big")
    packet[9] = proto
    packet[12:16], packet[16:20] = src, dst
    return bytes(packet)


def test_key_tells_datagrams_and_sides_apart():
    a, b = header(1), header(2)
    assert FragmentTracker.key("lan", a) != FragmentTracker.key("lan", b)
    assert FragmentTracker.key("lan", a) != FragmentTracker.key("wan", a)
    assert FragmentTracker.key("lan", a) != FragmentTracker.key("lan", header(1, proto=6))


def test_translation_is_remembered_until_it_expires():
    tracker = FragmentTracker(lifetime=30)
    key = FragmentTracker.key("lan", header(7))
    tracker.remember(key, b"\x01" * 4, b"\x02" * 4, "wan", now=100)
    assert tracker.lookup(key, 129).side == "wan"
    assert tracker.lookup(key, 130) is None


def test_waiting_fragments_are_released_once_and_bounded():
    tracker = FragmentTracker(lifetime=30)
    key = FragmentTracker.key("lan", header(9))
    for i in range(fragments.MAX_WAITING_PER_DATAGRAM):
        assert tracker.wait(key, "lan", bytes([i]), now=0)
    assert not tracker.wait(key, "lan", b"one too many", now=0)
    released = tracker.release(key)
    assert len(released) == fragments.MAX_WAITING_PER_DATAGRAM
    assert tracker.release(key) == [] and tracker.waiting == 0


def test_waiting_fragments_expire():
    tracker = FragmentTracker(lifetime=30)
    tracker.wait(b"k1", "lan", b"x", now=0)
    tracker.wait(b"k2", "lan", b"y", now=20)
    assert tracker.expire(31) == 1
    assert tracker.waiting == 1
