"""nat/tcp_state.py: the transition table."""

from nat.direction import INBOUND, OUTBOUND
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
    assert opening_state(OUTBOUND, SYN) == SYN_OUT
    assert opening_state(INBOUND, SYN) == SYN_IN
    for flags in (SYN | ACK, ACK, FIN | ACK, RST, SYN | FIN, 0):
        assert opening_state(OUTBOUND, flags) is None
        assert opening_state(INBOUND, flags) is None


def test_normal_open_and_close():
    state = walk(SYN_OUT, (INBOUND, SYN | ACK), (OUTBOUND, ACK))
    assert state == ESTABLISHED
    assert walk(state, (OUTBOUND, FIN | ACK)) == FIN_OUT
    assert walk(state, (INBOUND, FIN | ACK), (OUTBOUND, ACK)) == FIN_IN
    assert walk(state, (OUTBOUND, FIN | ACK), (INBOUND, FIN | ACK)) == FIN_BOTH


def test_simultaneous_open_and_inbound_open():
    assert (
        walk(
            SYN_OUT,
            (INBOUND, SYN),
            (OUTBOUND, SYN | ACK),
            (INBOUND, ACK),
        )
        == ESTABLISHED
    )
    assert walk(SYN_IN, (OUTBOUND, SYN | ACK), (INBOUND, ACK)) == ESTABLISHED


def test_data_before_the_handshake_completes_does_not_establish():
    assert walk(SYN_OUT, (OUTBOUND, ACK), (OUTBOUND, ACK)) == SYN_OUT


def test_reset_from_any_state_and_reopen_after_it():
    for state in (SYN_OUT, SYN_IN, SYN_BOTH, ESTABLISHED, FIN_OUT, FIN_IN, FIN_BOTH):
        assert walk(state, (INBOUND, RST)) == CLOSED_RST
        assert walk(state, (OUTBOUND, RST | ACK)) == CLOSED_RST
    assert walk(CLOSED_RST, (OUTBOUND, SYN)) == SYN_OUT
    assert walk(CLOSED_RST, (INBOUND, SYN)) == CLOSED_RST  # only the LAN side may reopen
