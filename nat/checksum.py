"""Internet checksums (RFC 1071) and their incremental update (RFC 1624).

The one's-complement sum of 16-bit words is congruent to the whole buffer read as
one big integer modulo 0xFFFF (because 2**16 == 1 mod 0xFFFF), which lets CPython do
the summing in C: ``int.from_bytes(data) % 0xFFFF``.
"""

from __future__ import annotations

import struct

_U16 = struct.Struct("!H")


def ones_sum(data: bytes | bytearray | memoryview) -> int:
    """One's-complement 16-bit sum of ``data`` (odd lengths are padded with a zero byte)."""
    if len(data) & 1:
        data = bytes(data) + b"\0"
    value = int.from_bytes(data, "big")
    folded = value % 0xFFFF
    # A non-zero buffer never sums to one's-complement +0: it sums to -0 (0xFFFF).
    if folded == 0 and value:
        return 0xFFFF
    return folded


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The Internet checksum of ``data``: the complement of its one's-complement sum."""
    return ~ones_sum(data) & 0xFFFF


def is_valid(data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` (checksum field included) sums to one's-complement zero."""
    return ones_sum(data) == 0xFFFF


def words_delta(old: bytes, new: bytes) -> int:
    """The folded amount to add to a one's-complement sum when ``old`` becomes ``new``.

    Both must have the same even length and sit at an even offset in the checksummed data.
    Adding ``delta`` is RFC 1624's ``~m + m'`` for every changed word at once.
    """
    total = 0
    for i in range(0, len(old), 2):
        total += (~((old[i] << 8) | old[i + 1]) & 0xFFFF) + ((new[i] << 8) | new[i + 1])
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def negate(delta: int) -> int:
    """The delta that undoes ``delta`` (the reverse translation)."""
    return ~delta & 0xFFFF


def adjust(csum: int, delta: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), with ``delta`` = ~m + m' already folded."""
    total = (~csum & 0xFFFF) + delta
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def adjust_field(buf: bytearray, offset: int, delta: int) -> None:
    """Apply ``delta`` to the 16-bit checksum stored at ``buf[offset]``."""
    (csum,) = _U16.unpack_from(buf, offset)
    _U16.pack_into(buf, offset, adjust(csum, delta))


def adjust_udp_field(buf: bytearray, offset: int, delta: int) -> None:
    """Like :func:`adjust_field`, but keeps UDP's 'no checksum' zero and never writes one."""
    (csum,) = _U16.unpack_from(buf, offset)
    if csum == 0:
        return
    _U16.pack_into(buf, offset, adjust(csum, delta) or 0xFFFF)
