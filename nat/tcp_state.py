"""TCP connection tracking for a NAT (RFC 5382 REQ-2/5, RFC 7857), kept as one table.

A NAT sees segments flowing both ways; it only needs to know whether a connection is
opening, established, closing or reset, to pick the idle timeout. Everything that moves
the state lives in TRANSITIONS; anything not listed leaves the state unchanged.
"""

from __future__ import annotations

from nat.direction import INBOUND, OUTBOUND, Direction
from nat.ipv4 import ACK, FIN, RST, SYN

# States (small ints: they sit in every TCP session).
SYN_OUT = 1  # SYN seen from the LAN side only
SYN_IN = 2  # SYN seen from the WAN side only (port forward, DMZ, simultaneous open)
SYN_BOTH = 3  # SYNs seen both ways (normal handshake or simultaneous open)
ESTABLISHED = 4
FIN_OUT = 5
FIN_IN = 6
FIN_BOTH = 7
CLOSED_RST = 8

NAMES = {
    SYN_OUT: "syn-sent",
    SYN_IN: "syn-received",
    SYN_BOTH: "syn-both",
    ESTABLISHED: "established",
    FIN_OUT: "fin-out",
    FIN_IN: "fin-in",
    FIN_BOTH: "closing",
    CLOSED_RST: "reset",
}

# (state, direction, segment kind) -> next state
_SYN, _FIN, _RST, _ACK = "syn", "fin", "rst", "ack"
TRANSITIONS: dict[tuple[int, Direction, str], int] = {
    (SYN_OUT, OUTBOUND, _SYN): SYN_OUT,  # retransmission
    # SYN-ACK, or the peer's SYN in a simultaneous open:
    (SYN_OUT, INBOUND, _SYN): SYN_BOTH,
    (SYN_IN, INBOUND, _SYN): SYN_IN,
    (SYN_IN, OUTBOUND, _SYN): SYN_BOTH,
    (SYN_BOTH, OUTBOUND, _ACK): ESTABLISHED,
    (SYN_BOTH, INBOUND, _ACK): ESTABLISHED,
    (ESTABLISHED, OUTBOUND, _FIN): FIN_OUT,
    (ESTABLISHED, INBOUND, _FIN): FIN_IN,
    (SYN_BOTH, OUTBOUND, _FIN): FIN_OUT,
    (SYN_BOTH, INBOUND, _FIN): FIN_IN,
    (FIN_OUT, INBOUND, _FIN): FIN_BOTH,
    (FIN_IN, OUTBOUND, _FIN): FIN_BOTH,
}
# A RST ends the connection from any state (RFC 7857 keeps the session 4 minutes after it).
for _state in NAMES:
    for _direction in Direction:
        TRANSITIONS[(_state, _direction, _RST)] = CLOSED_RST
# Once the reset is seen, a new SYN from the LAN may reopen the same 5-tuple.
TRANSITIONS[(CLOSED_RST, OUTBOUND, _SYN)] = SYN_OUT
TRANSITIONS[(CLOSED_RST, OUTBOUND, _RST)] = CLOSED_RST


def segment_kind(flags: int) -> str:
    if flags & RST:
        return _RST
    if flags & SYN:
        return _SYN
    if flags & FIN:
        return _FIN
    return _ACK if flags & ACK else ""


def next_state(state: int, direction: Direction, flags: int) -> int:
    return TRANSITIONS.get((state, direction, segment_kind(flags)), state)


def opening_state(direction: Direction, flags: int) -> int | None:
    """The state of a new session opened by this segment, or None if it may not open one."""
    if flags & (SYN | ACK | RST | FIN) == SYN:
        return SYN_OUT if direction == OUTBOUND else SYN_IN
    return None
