"""TCP sequence-number correction after a helper changed a payload's length.

The same scheme as Linux's nf_conntrack_seqadj: per direction, the position of the last
length change and the offsets before and after it. Sequence numbers compare modulo 2**32.
"""

from __future__ import annotations

import struct

_U32 = struct.Struct("!I")


def _after(a: int, b: int) -> bool:
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def _offset(way: list[int] | None, seq: int) -> int:
    if way is None:
        return 0
    position, before, after = way
    return after if _after(seq, position) else before


def correct(
    buf: bytearray, ihl: int, this_way: list[int] | None, other_way: list[int] | None
) -> bool:
    """Shift this packet's seq by this direction's changes and its ack by the other's.
    Returns whether anything changed (the caller then recomputes the checksum)."""
    if this_way is None and other_way is None:
        return False
    seq, ack = struct.unpack_from("!II", buf, ihl + 4)
    new_seq = (seq + _offset(this_way, seq)) & 0xFFFFFFFF
    ack_base = (ack - (other_way[1] if other_way else 0)) & 0xFFFFFFFF
    new_ack = (ack - _offset(other_way, ack_base)) & 0xFFFFFFFF
    _U32.pack_into(buf, ihl + 4, new_seq)
    if buf[ihl + 13] & 0x10:
        _U32.pack_into(buf, ihl + 8, new_ack)
    return new_seq != seq or new_ack != ack


def record(way: list[int] | None, original_seq: int, length_change: int) -> list[int]:
    """Note a length change made in the packet whose (uncorrected) seq is ``original_seq``."""
    if way is None:
        return [original_seq, 0, length_change]
    position, before, after = way
    if before == after or _after(original_seq, position):
        return [original_seq, after, after + length_change]
    return way
