"""The NAT table: mappings, their keys, port pools, hosts, expiry.

The engine decides what packets mean; this module keeps the state consistent. Keys are
bytes, built the same way everywhere:

* outbound key: protocol + internal address + internal port, followed by the remote
  address (address-dependent mapping) or address and port (address-and-port-dependent);
* inbound key: protocol + external address + external port (also marks the port taken);
* static key: the outbound key's first 7 bytes, for port forwards and helper expectations,
  which serve an internal endpoint whatever the mapping behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nat import counters, ipv4
from nat.config import Behaviour, NatConfig
from nat.mapping import (
    DMZ,
    DYNAMIC,
    EXPECTED,
    REMOVED,
    STATIC,
    Host,
    Mapping,
    Session,
    SessionExtra,
)
from nat.ports import PortAllocator, PortSpace
from nat.tcp_state import CLOSED_RST, ESTABLISHED, NAMES
from nat.timers import ExpiryWheel

PREFIX = tuple(bytes([p]) for p in range(256))
PROTO_NAMES = {ipv4.TCP: "tcp", ipv4.UDP: "udp", ipv4.ICMP: "icmp"}


# Called for every helper-attached session that ends, before its children go.
SessionEnded = Callable[[Mapping, Session], None]


def _nobody_listens(mapping: Mapping, session: Session) -> None:
    pass


class NatTable:
    def __init__(self, config: NatConfig, session_ended: SessionEnded = _nobody_listens):
        self.config = config
        self.mapping_mode = config.mapping
        self.filtering = config.filtering
        self.ext_addresses = [ipv4.addr(a) for a in config.wan_addresses]
        self.allocator = PortAllocator(
            config.port_allocation,
            config.port_range,
            config.low_port_range,
            config.port_parity,
            config.random_seed,
        )
        self.hosts: dict[bytes, Host] = {}
        self.out: dict[bytes, Mapping] = {}
        self.inn: dict[bytes, Mapping] = {}
        self.static_out: dict[bytes, Mapping] = {}
        # Mapping behaviours other than endpoint-independent: each internal UDP endpoint's
        # ordinary mappings (one per remote), by static key, for expect(take_over=True).
        self.ordinary_udp: dict[bytes, list[Mapping]] = {}
        self.spaces: dict[tuple[bytes, int], PortSpace] = {}
        self.wheel: ExpiryWheel[Mapping] = ExpiryWheel()
        self.forwards: dict[tuple, list[Mapping]] = {}
        self.count = 0
        self._session_ended = session_ended
        self.set_timeouts(config)

    def set_timeouts(self, config: NatConfig) -> None:
        t = config.timeouts
        self.config = config
        self.tcp_established = t.tcp_established
        self.tcp_transitory = t.tcp_transitory
        self.tcp_rst = t.tcp_rst
        self.udp_timeout = t.udp
        self.icmp_timeout = t.icmp
        for space in self.spaces.values():
            space.reuse_delay = t.port_reuse_delay

    def timeout(self, proto: int, state: int) -> float:
        if proto == ipv4.TCP:
            if state == ESTABLISHED:
                return self.tcp_established
            return self.tcp_rst if state == CLOSED_RST else self.tcp_transitory
        if proto == ipv4.UDP:
            return self.udp_timeout
        return self.icmp_timeout

    # -- keys -------------------------------------------------------------------------------

    def out_key(self, proto: int, int_ip: bytes, int_port: bytes, remote: bytes) -> bytes:
        key = PREFIX[proto] + int_ip + int_port
        if proto == ipv4.ICMP or self.mapping_mode is Behaviour.ENDPOINT_INDEPENDENT:
            return key  # RFC 5508: ICMP query mappings are always endpoint-independent
        if self.mapping_mode is Behaviour.ADDRESS_DEPENDENT:
            return key + remote[:4]
        return key + remote

    def find_outbound(
        self, proto: int, int_ip: bytes, int_port: bytes, remote: bytes
    ) -> Mapping | None:
        return self.out.get(self.out_key(proto, int_ip, int_port, remote)) or self.static_out.get(
            PREFIX[proto] + int_ip + int_port
        )

    # -- hosts and ports ----------------------------------------------------------------------

    def host_for(self, int_ip: bytes) -> Host:
        host = self.hosts.get(int_ip)
        if host is None:
            host = self.hosts[int_ip] = Host(int_ip, self._least_used_address())
        return host

    def external_address_for(self, int_ip: bytes) -> bytes:
        host = self.hosts.get(int_ip)
        return host.ext_ip if host is not None else self._least_used_address()

    def _least_used_address(self) -> bytes:
        # Paired pooling (RFC 4787 REQ-2): a host keeps one external address while it has
        # mappings; a new host gets the least used one, first listed on a tie (deterministic).
        if len(self.ext_addresses) == 1:
            return self.ext_addresses[0]
        usage = dict.fromkeys(self.ext_addresses, 0)
        for other in self.hosts.values():
            usage[other.ext_ip] = usage.get(other.ext_ip, 0) + 1
        return min(self.ext_addresses, key=lambda a: usage[a])

    def reserve_port(self, proto: int, ext_ip: bytes, port: int, now: float) -> bool:
        """A helper takes an external port for itself (no mapping behind it)."""
        space = self.space(ext_ip, proto)
        space.thaw(now)
        if not space.is_free(port):
            return False
        space.take(port)
        return True

    def release_port(self, proto: int, ext_ip: bytes, port: int, now: float) -> None:
        # Freed at once: the helper that held it demultiplexed by its own keys (SPIs), so no
        # stale flow can land on whoever takes it next.
        self.space(ext_ip, proto).free(port)

    def space(self, ext_ip: bytes, proto: int) -> PortSpace:
        space = self.spaces.get((ext_ip, proto))
        if space is None:
            space = PortSpace(self.config.timeouts.port_reuse_delay)
            self.spaces[(ext_ip, proto)] = space
        return space

    # -- mappings -------------------------------------------------------------------------------

    def create(
        self,
        proto: int,
        int_ip: bytes,
        int_port: bytes,
        out_key: bytes,
        kind: int,
        now: float,
        ext_port: int | None = None,
    ) -> Mapping | str:
        """A new mapping, or the drop reason when no port or quota is left."""
        if self.count >= self.config.max_mappings:
            return counters.PORTS_EXHAUSTED
        host = self.host_for(int_ip)
        if host.count >= self.config.per_host_quota and kind != STATIC:
            return counters.HOST_QUOTA
        space = self.space(host.ext_ip, proto)
        if ext_port is None:
            space.thaw(now)
            port = space.reclaim(out_key)
            if port is None:
                port = self.allocator.allocate(space, int.from_bytes(int_port, "big"), now)
        else:
            space.thaw(now)
            port = ext_port if space.is_free(ext_port) else None
        if port is None:
            if host.count == 0:
                del self.hosts[int_ip]
            return counters.PORTS_EXHAUSTED
        space.take(port)
        in_key = PREFIX[proto] + host.ext_ip + port.to_bytes(2, "big")
        mapping = Mapping(host, proto, out_key, in_key, kind)
        host.count += 1
        self.count += 1
        self.inn[in_key] = mapping
        if kind in (STATIC, EXPECTED):
            self.static_out[out_key[:7]] = mapping
            if out_key == self.out_key(proto, int_ip, int_port, b"") and proto != ipv4.ICMP:
                self.out.setdefault(out_key, mapping)
        else:
            self.out[out_key] = mapping
            if proto == ipv4.UDP and self.mapping_mode is not Behaviour.ENDPOINT_INDEPENDENT:
                self.ordinary_udp.setdefault(out_key[:7], []).append(mapping)
        return mapping

    def remove(self, mapping: Mapping, now: float) -> None:
        if mapping.kind == REMOVED:
            return
        for session in mapping.sessions():
            self._end_session(mapping, session, now)
        if self.out.get(mapping.out_key) is mapping:
            del self.out[mapping.out_key]
        if self.static_out.get(mapping.out_key[:7]) is mapping:
            del self.static_out[mapping.out_key[:7]]
        if mapping.proto == ipv4.UDP:  # as create() indexed it: any kind but STATIC/EXPECTED
            siblings = self.ordinary_udp.get(mapping.out_key[:7])
            if siblings is not None and mapping in siblings:
                siblings.remove(mapping)
                if not siblings:
                    del self.ordinary_udp[mapping.out_key[:7]]
        del self.inn[mapping.in_key]
        host = mapping.host
        self.space(host.ext_ip, mapping.proto).release(mapping.external_port, now, mapping.out_key)
        host.count -= 1
        self.count -= 1
        if host.count == 0 and self.hosts.get(host.int_ip) is host:
            del self.hosts[host.int_ip]
        mapping.kind = REMOVED

    def end_session(self, mapping: Mapping, session: Session, now: float) -> None:
        self._end_session(mapping, session, now)
        mapping.remove_session(session)

    def end_sessions(self, mapping: Mapping, doomed: Callable[[Session], bool], now: float) -> int:
        """End the sessions ``doomed`` picks; returns how many ended."""
        ended = 0
        # The others first: ending the inline session promotes one of the others into it.
        if mapping.others:
            for session in [s for s in mapping.others.values() if doomed(s)]:
                self.end_session(mapping, session, now)
                ended += 1
        while mapping.remote is not None and doomed(mapping):
            self.end_session(mapping, mapping, now)
            ended += 1
        return ended

    def _end_session(self, mapping: Mapping, session: Session, now: float) -> None:
        extra = session.extra
        if extra is not None:
            self._session_ended(mapping, session)
            for child in extra.children:
                self.remove(child, now)
            extra.children.clear()

    def alive(self, mapping: Mapping, now: float) -> bool:
        if mapping.kind == STATIC:
            return True
        if any(s.expires > now for s in mapping.sessions()):
            return True
        return mapping.permits is not None and any(
            until > now for until, _ in mapping.permits.values()
        )

    def schedule(self, mapping: Mapping, at: float) -> None:
        """Make sure the mapping is looked at no later than ``at``."""
        due = mapping.due
        if due is not None and due <= at:
            return  # an earlier check is already filed; it will see this deadline too
        mapping.due = at
        self.wheel.schedule(mapping, at)

    def sweep(self, now: float) -> None:
        """Expire what is due; reschedule what was refreshed since it was filed."""
        for second, mapping in self.wheel.pop_due(now):
            if mapping.kind == REMOVED or mapping.due is None or math.ceil(mapping.due) != second:
                continue  # removed, or filed again for another second since
            mapping.due = None
            self.end_sessions(mapping, lambda s: s.expires <= now, now)
            if mapping.permits:
                for prefix in [p for p, (until, _) in mapping.permits.items() if until <= now]:
                    del mapping.permits[prefix]
            deadlines = [s.expires for s in mapping.sessions()]
            if mapping.permits:
                deadlines.extend(until for until, _ in mapping.permits.values())
            if deadlines:
                self.schedule(mapping, min(deadlines))
            elif mapping.kind != STATIC:
                self.remove(mapping, now)

    def flush(self, now: float, keep_static: bool = False) -> int:
        """Remove every mapping (or every non-static one); returns how many went."""
        doomed = [m for m in self.inn.values() if not (keep_static and m.kind == STATIC)]
        for mapping in doomed:
            self.remove(mapping, now)
        if not keep_static:
            self.forwards.clear()
        return len(doomed)

    # -- port forwards and expectations --------------------------------------------------------

    def install_forwards(self, config: NatConfig, now: float) -> None:
        """Make the static mappings match ``config.port_forwards``, keeping unchanged ones."""
        wanted = {}
        for fw in config.port_forwards:
            wanted[(fw.proto, fw.ext_port, fw.ext_port_end, fw.host, fw.host_port)] = fw
        for key in [k for k in self.forwards if k not in wanted]:
            for mapping in self.forwards.pop(key):
                self.remove(mapping, now)
        for key, fw in wanted.items():
            if key in self.forwards:
                continue
            proto = ipv4.TCP if fw.proto == "tcp" else ipv4.UDP
            int_ip = ipv4.addr(fw.host)
            created = []
            for offset, port in enumerate(fw.ports()):
                int_port = (fw.host_port + offset).to_bytes(2, "big")
                self._evict_port(proto, int_ip, port, now)
                mapping = self.create(
                    proto,
                    int_ip,
                    int_port,
                    PREFIX[proto] + int_ip + int_port,
                    STATIC,
                    now,
                    ext_port=port,
                )
                if isinstance(mapping, Mapping):
                    created.append(mapping)
            self.forwards[key] = created

    def _evict_port(self, proto: int, int_ip: bytes, port: int, now: float) -> None:
        # A forward claims its port even from a dynamic mapping that happened to hold it.
        ext_ip = self.external_address_for(int_ip)
        holder = self.inn.get(PREFIX[proto] + ext_ip + port.to_bytes(2, "big"))
        if holder is not None:
            self.remove(holder, now)
        space = self.space(ext_ip, proto)
        if holder is None and not space.is_free(port):
            space.free(port)  # a cooling port: the forward takes it at once

    def create_dmz(
        self, proto: int, ext_ip: bytes, port: bytes, dmz_ip: bytes, remote: bytes, now: float
    ) -> Mapping | str:
        host = self.host_for(dmz_ip)
        if host.ext_ip != ext_ip:
            return counters.NO_MAPPING
        return self.create(
            proto,
            dmz_ip,
            port,
            self.out_key(proto, dmz_ip, port, remote),
            DMZ,
            now,
            ext_port=int.from_bytes(port, "big"),
        )

    def expect(
        self,
        parent: Session | None,
        proto: int,
        internal: tuple[bytes, int],
        remote_ip: bytes,
        remote_port: int | None,
        until: float,
        helper: Any,
        ext_port: int | None,
        now: float,
        take_over: bool = False,
    ) -> int | None:
        """An expected mapping for ``internal`` that ``remote`` may reach until ``until``; it
        goes with the ``parent`` session when that ends. Returns the external port.
        ``take_over``: the endpoint's packets leave from this port from now on, whatever the
        mapping behaviour: a port a helper announced (SDP, SETUP) is the one the endpoint
        must be seen from, so its ordinary mappings (to one remote each, made by packets it
        sent before the announcement) are removed."""
        int_ip, int_port_number = internal
        int_port = int_port_number.to_bytes(2, "big")
        static_key = PREFIX[proto] + int_ip + int_port
        mapping = self.static_out.get(static_key)
        if mapping is None and self.mapping_mode is Behaviour.ENDPOINT_INDEPENDENT:
            mapping = self.out.get(static_key)
        if take_over and mapping is None:
            for ordinary in list(self.ordinary_udp.get(static_key, ())):
                self.remove(ordinary, now)
        if mapping is None:
            created = self.create(proto, int_ip, int_port, static_key, EXPECTED, now, ext_port)
            if created == counters.PORTS_EXHAUSTED and ext_port is not None:
                created = self.create(proto, int_ip, int_port, static_key, EXPECTED, now)
            if not isinstance(created, Mapping):
                return None
            mapping = created
        self.permit(mapping, remote_ip, remote_port, until, helper)
        if parent is not None and parent.extra is not None:
            parent.extra.children.append(mapping)
        return mapping.external_port

    def permit(
        self,
        mapping: Mapping,
        remote_ip: bytes,
        remote_port: int | None,
        until: float,
        helper: Any,
    ) -> None:
        if mapping.permits is None:
            mapping.permits = {}
        prefix = remote_ip + (remote_port.to_bytes(2, "big") if remote_port is not None else b"")
        mapping.permits[prefix] = (until, helper)
        self.schedule(mapping, until)

    def permit_for(self, mapping: Mapping, remote: bytes, now: float) -> tuple[bool, Any]:
        """Whether a helper's expectation admits ``remote``, and the helper to attach."""
        permits = mapping.permits
        if permits:
            for prefix, (until, helper) in permits.items():
                if until > now and remote.startswith(prefix):
                    return True, helper
        return False, None

    def remove_expected(self, proto: int, ext_ip: bytes, ext_port: int, now: float) -> None:
        mapping = self.inn.get(PREFIX[proto] + ext_ip + ext_port.to_bytes(2, "big"))
        if mapping is not None and mapping.kind == EXPECTED:
            self.remove(mapping, now)
        elif mapping is not None:
            mapping.permits = None

    def attach(self, session: Session, helper: Any) -> SessionExtra:
        session.extra = SessionExtra(helper)
        return session.extra

    # -- for the UI ---------------------------------------------------------------------------

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        rows = []
        kinds = {DYNAMIC: "dynamic", STATIC: "forward", EXPECTED: "expected", DMZ: "dmz"}
        for mapping in self.inn.values():
            sessions = []
            for s in mapping.sessions():
                if s.expires <= now:
                    continue
                remote = s.remote or b""
                sessions.append(
                    {
                        "remote": ipv4.text(remote[:4])
                        + (f":{int.from_bytes(remote[4:6], 'big')}" if len(remote) == 6 else ""),
                        "state": NAMES.get(s.state, "active")
                        if mapping.proto == ipv4.TCP
                        else "active",
                        "expires_in": round(s.expires - now, 1),
                        "helper": s.extra.helper.name if s.extra else None,
                    }
                )
            rows.append(
                {
                    "proto": PROTO_NAMES.get(mapping.proto, str(mapping.proto)),
                    "internal": f"{ipv4.text(mapping.host.int_ip)}:{mapping.internal_port}",
                    "external": f"{ipv4.text(mapping.host.ext_ip)}:{mapping.external_port}",
                    "kind": kinds[mapping.kind],
                    "sessions": sessions,
                }
            )
        rows.sort(key=lambda r: (r["proto"], r["external"]))
        return rows
