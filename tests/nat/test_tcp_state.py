"""nat/tcp_state.py: the transition table."""

from nat.direction import Direction
from nat.ipv4 import ACK, FIN, RST, SYN
from nat.tcp_state import (
    CLOSED_RST,
    ESTABLISHED,
    FIN_BOTH,
    FIN_IN,
    FIN_OUT,
    SYN_BOTH,
    SYN_IN,
    SYN_OUT,
    next_state,
    opening_state,
)


def walk(state, *segments):
    for direction, flags in segments:
        state = next_state(state, direction, flags)
    return state


def test_only_a_bare_syn_opens_a_session():
    assert opening_state(Direction.OUTBOUND, SYN) == SYN_OUT
    assert opening_state(Direction.INBOUND, SYN) == SYN_IN
    for flags in (SYN | ACK, ACK, FIN | ACK, RST, SYN | FIN, 0):
        assert opening_state(Direction.OUTBOUND, flags) is None
        assert opening_state(Direction.INBOUND, flags) is None


def test_normal_open_and_close():
    state = walk(SYN_OUT, (Direction.INBOUND, SYN | ACK), (Direction.OUTBOUND, ACK))
    assert state == ESTABLISHED
    assert walk(state, (Direction.OUTBOUND, FIN | ACK)) == FIN_OUT
    assert walk(state, (Direction.INBOUND, FIN | ACK), (Direction.OUTBOUND, ACK)) == FIN_IN
    assert walk(state, (Direction.OUTBOUND, FIN | ACK), (Direction.INBOUND, FIN | ACK)) == FIN_BOTH


def test_simultaneous_open_and_inbound_open():
    assert (
        walk(
            SYN_OUT,
            (Direction.INBOUND, SYN),
            (Direction.OUTBOUND, SYN | ACK),
            (Direction.INBOUND, ACK),
        )
        == ESTABLISHED
    )
    assert walk(SYN_IN, (Direction.OUTBOUND, SYN | ACK), (Direction.INBOUND, ACK)) == ESTABLISHED


def test_data_before_the_handshake_completes_does_not_establish():
    assert walk(SYN_OUT, (Direction.OUTBOUND, ACK), (Direction.OUTBOUND, ACK)) == SYN_OUT


def test_reset_from_any_state_and_reopen_after_it():
    for state in (SYN_OUT, SYN_IN, SYN_BOTH, ESTABLISHED, FIN_OUT, FIN_IN, FIN_BOTH):
        assert walk(state, (Direction.INBOUND, RST)) == CLOSED_RST
        assert walk(state, (Direction.OUTBOUND, RST | ACK)) == CLOSED_RST
    assert walk(CLOSED_RST, (Direction.OUTBOUND, SYN)) == SYN_OUT
    assert walk(CLOSED_RST, (Direction.INBOUND, SYN)) == CLOSED_RST  # only the LAN side may reopen
