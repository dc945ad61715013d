"""The NAT's state objects. They are many (100,000s), so each keeps only ``__slots__``.

A :class:`Mapping` binds one internal endpoint to one external endpoint. It is also its
own first :class:`Session` (the remote endpoint it talks to), because most mappings only
ever have one; further remotes live in ``others``.
"""

from __future__ import annotations

from typing import Any

from nat import checksum

DYNAMIC = 0
STATIC = 1  # a port forward: never expires
EXPECTED = 2  # opened by a helper for a related flow
DMZ = 3
REMOVED = -1  # taken out of the table: whoever still holds it sees that


class Host:
    """A LAN host with its paired external address (RFC 4787 REQ-2) and mapping count."""

    __slots__ = ("count", "d_addr", "ext_ip", "int_ip")

    def __init__(self, int_ip: bytes, ext_ip: bytes):
        self.int_ip = int_ip
        self.ext_ip = ext_ip
        # Checksum delta for rewriting int_ip -> ext_ip; the reverse is its negation.
        self.d_addr = checksum.words_delta(int_ip, ext_ip)
        self.count = 0


class Session:
    """Traffic between a mapping and one remote endpoint: ``remote`` is address + port bytes."""

    __slots__ = ("expires", "extra", "remote", "state")

    def __init__(self, remote: bytes | None, expires: float, state: int):
        self.remote = remote
        self.expires = expires
        self.state = state
        self.extra: SessionExtra | None = None


class SessionExtra:
    """What only helper-attached sessions need: the helper, its state, TCP sequence fixes."""

    __slots__ = ("children", "helper", "helper_state", "seq_in", "seq_out")

    def __init__(self, helper: Any):
        self.helper = helper
        self.helper_state: dict[str, Any] = {}
        self.seq_out: list[int] | None = None  # [position, offset before, offset after]
        self.seq_in: list[int] | None = None
        self.children: list[Mapping] = []


class Mapping(Session):
    __slots__ = ("d_port", "due", "host", "in_key", "kind", "others", "out_key", "permits", "proto")

    def __init__(self, host: Host, proto: int, out_key: bytes, in_key: bytes, kind: int):
        super().__init__(None, 0.0, 0)
        self.host = host
        self.proto = proto
        self.out_key = out_key  # proto + internal address + internal port [+ remote part]
        self.in_key = in_key  # proto + external address + external port
        self.d_port = checksum.words_delta(out_key[5:7], in_key[5:7])
        self.kind = kind
        self.others: dict[bytes, Session] | None = None
        # Remotes a helper allowed in before any traffic: remote prefix -> (expiry, helper).
        self.permits: dict[bytes, tuple[float, Any]] | None = None
        self.due: float | None = None  # when the expiry wheel looks at this mapping next

    @property
    def internal_port(self) -> int:
        return int.from_bytes(self.out_key[5:7], "big")

    @property
    def external_port(self) -> int:
        return int.from_bytes(self.in_key[5:7], "big")

    def sessions(self) -> list[Session]:
        found = [self] if self.remote is not None else []
        if self.others:
            found.extend(self.others.values())
        return found

    def session_for(self, remote: bytes) -> Session | None:
        if self.remote == remote:
            return self
        others = self.others
        return others.get(remote) if others else None

    def add_session(self, remote: bytes, expires: float, state: int) -> Session:
        if self.remote is None:
            self.remote, self.expires, self.state, self.extra = remote, expires, state, None
            return self
        session = Session(remote, expires, state)
        if self.others is None:
            self.others = {}
        self.others[remote] = session
        return session

    def remove_session(self, session: Session) -> None:
        if session is not self:
            assert self.others is not None
            del self.others[session.remote]
            return
        # Promote another session into the inline slot, if any.
        if self.others:
            remote, other = next(iter(self.others.items()))
            del self.others[remote]
            self.remote, self.expires, self.state, self.extra = (
                other.remote,
                other.expires,
                other.state,
                other.extra,
            )
        else:
            self.remote, self.expires, self.state, self.extra = None, 0.0, 0, None
