"""nat/tcp_state.py: the transition table."""

from nat.ipv4 import ACK, FIN, RST, SYN
from nat.tcp_state import (
    CLOSED_RST,
    ESTABLISHED,
    FIN_BOTH,
    FIN_IN,
    FIN_OUT,
    IN,
    OUT,
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
    assert opening_state(OUT, SYN) == SYN_OUT
    assert opening_state(IN, SYN) == SYN_IN
    for flags in (SYN | ACK, ACK, FIN | ACK, RST, SYN | FIN, 0):
        assert opening_state(OUT, flags) is None
        assert opening_state(IN, flags) is None


def test_normal_open_and_close():
    state = walk(SYN_OUT, (IN, SYN | ACK), (OUT, ACK))
    assert state == ESTABLISHED
    assert walk(state, (OUT, FIN | ACK)) == FIN_OUT
    assert walk(state, (IN, FIN | ACK), (OUT, ACK)) == FIN_IN
    assert walk(state, (OUT, FIN | ACK), (IN, FIN | ACK)) == FIN_BOTH


def test_simultaneous_open_and_inbound_open():
    assert walk(SYN_OUT, (IN, SYN), (OUT, SYN | ACK), (IN, ACK)) == ESTABLISHED
    assert walk(SYN_IN, (OUT, SYN | ACK), (IN, ACK)) == ESTABLISHED


def test_data_before_the_handshake_completes_does_not_establish():
    assert walk(SYN_OUT, (OUT, ACK), (OUT, ACK)) == SYN_OUT


def test_reset_from_any_state_and_reopen_after_it():
    for state in (SYN_OUT, SYN_IN, SYN_BOTH, ESTABLISHED, FIN_OUT, FIN_IN, FIN_BOTH):
        assert walk(state, (IN, RST)) == CLOSED_RST
        assert walk(state, (OUT, RST | ACK)) == CLOSED_RST
    assert walk(CLOSED_RST, (OUT, SYN)) == SYN_OUT
    assert walk(CLOSED_RST, (IN, SYN)) == CLOSED_RST  # only the LAN side may reopen
