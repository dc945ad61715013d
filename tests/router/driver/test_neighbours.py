"""ARP resolution for the datapath's next hops."""

from router.driver.neighbours import MAX_TRIES, Neighbours

MAC = bytes.fromhex("020000000001")
PEER = bytes([192, 168, 1, 10])


def _table():
    frames = []
    table = Neighbours(MAC, frames.append)
    table.address = bytes([192, 168, 1, 1])
    return table, frames


def test_a_miss_sends_one_request_and_holds_packets_until_the_reply():
    table, frames = _table()
    assert table.lookup(PEER, 0.0) is None
    table.hold(PEER, "p1", 0.0)
    table.hold(PEER, "p2", 0.1)
    assert len(frames) == 1 and frames[0][:6] == b"\xff" * 6 and frames[0][-4:] == PEER
    reply = bytes(6) + b"\xaa" * 6 + b"\x08\x06" + bytes.fromhex("0001080006040002")
    reply += b"\xaa" * 6 + PEER + MAC + table.address
    assert table.on_arp(reply, 0.2) == [(b"\xaa" * 6, "p1"), (b"\xaa" * 6, "p2")]
    assert table.lookup(PEER, 0.3) == b"\xaa" * 6


def test_unanswered_requests_are_retried_then_their_packets_dropped():
    table, frames = _table()
    table.hold(PEER, "p", 0.0)
    for second in range(1, MAX_TRIES + 2):
        table.tick(float(second))
    assert len(frames) == MAX_TRIES
    assert table.unresolved_drops == 1 and table.lookup(PEER, 10.0) is None


def test_old_entries_are_reconfirmed_then_forgotten():
    table, frames = _table()
    table.learn(PEER, b"\xaa" * 6, 0.0)
    assert table.lookup(PEER, 70.0) == b"\xaa" * 6 and len(frames) == 1
    assert table.lookup(PEER, 200.0) is None
