"""NAT engines for the fuzz targets: every helper on, and the flows a target speaks on open.

A fresh engine is a replay of recorded priming packets (a handshake per TCP port, a datagram
per UDP port): 0.3 ms, three times what the fuzzed packets cost. So a :class:`Session` keeps
one engine for ``REUSE`` executions (state carried over is more to fuzz, too), and a crash on
it is replayed on a fresh engine so that what is reported replays from its input alone.
``FUZZ_FRESH=1`` gives every execution a fresh engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from fuzz import packets as P
from nat import Engine, NatConfig, Transmit
from nat.direction import LAN, WAN
from nat.passthrough import default_helpers

SSTP_SERVER = "vpn.example.com"
HELPERS = tuple((helper.name, True) for helper in default_helpers())
CONFIG = NatConfig(per_host_quota=64, helpers=HELPERS, sstp_servers=(SSTP_SERVER,))
START = 1000.0
REUSE = 200  # executions per engine
LATER = 3700.0  # past every helper's and mapping's timeout: the timers walk all state


class Crash(AssertionError):
    """The code under fuzz did something no input may make it do."""


@dataclass(frozen=True)
class Flow:
    """A flow open through the NAT: the client's and server's ports, the external port."""

    proto: str  # "tcp" or "udp"
    client_port: int
    server_port: int
    external_port: int


def new_engine() -> Engine:
    return Engine(CONFIG, helpers=default_helpers())


def check(engine: Engine, actions: list) -> list:
    """A crash when the engine contained an exception (it counts them as internal_error)."""
    if engine.counters["internal_error"]:
        raise Crash(f"engine internal_error: {actions}")
    return actions


def _external_port(actions: list) -> int:
    sent = [a for a in actions if isinstance(a, Transmit) and a.side == WAN]
    if not sent:
        raise RuntimeError(f"priming packet not forwarded: {actions}")
    data = bytes(sent[0].data)
    ihl = (data[0] & 0x0F) * 4
    return int.from_bytes(data[ihl : ihl + 2], "big")


class Primed:
    """Records how to open ``flows`` once, then hands out fresh engines with them open."""

    def __init__(self, tcp_ports=(), udp_ports=(), udp_first: dict[int, bytes] | None = None):
        self.recording: list[tuple[str, bytes]] = []
        self.flows: dict[tuple[str, int], Flow] = {}
        engine = new_engine()
        for port in tcp_ports:
            self.flows["tcp", port] = self._tcp_handshake(engine, port)
        for port in udp_ports:
            first = (udp_first or {}).get(port, b"hello")
            # IKE is only IKE between the standard ports: its clients use port 500 too.
            client_port = port if port in (500, 4500, 1701) else P.CLIENT_PORT
            packet = P.udp(P.CLIENT, P.SERVER, client_port, port, first)
            external = _external_port(self._send(engine, LAN, packet))
            self.flows["udp", port] = Flow("udp", client_port, port, external)

    def _send(self, engine: Engine, side: str, packet: bytes) -> list:
        self.recording.append((side, packet))
        return check(engine, engine.receive(side, packet, START))

    def _tcp_handshake(self, engine: Engine, port: int) -> Flow:
        cport = P.CLIENT_PORT + len(self.flows)
        syn = P.tcp(P.CLIENT, P.SERVER, cport, port, P.SYN, P.CLIENT_ISN - 1, 0)
        external = _external_port(self._send(engine, LAN, syn))
        self._send(
            engine,
            WAN,
            P.tcp(P.SERVER, P.PUBLIC, port, external, P.SYN_ACK, P.SERVER_ISN - 1, P.CLIENT_ISN),
        )
        ack = P.tcp(P.CLIENT, P.SERVER, cport, port, P.ACK, P.CLIENT_ISN, P.SERVER_ISN)
        self._send(engine, LAN, ack)
        return Flow("tcp", cport, port, external)

    def engine(self) -> Engine:
        engine = new_engine()
        for side, packet in self.recording:
            engine.receive(side, packet, START)
        check(engine, [])
        return engine


class Conversation:
    """Payloads sent both ways on one flow, TCP numbering kept."""

    def __init__(self, engine: Engine, flow: Flow):
        self.engine, self.flow = engine, flow
        self.now = engine.now or START
        self.client_seq, self.server_seq = P.CLIENT_ISN, P.SERVER_ISN

    def send(self, from_wan: bool, payload: bytes) -> list:
        flow, self.now = self.flow, self.now + 0.01
        if flow.proto == "udp":
            if from_wan:
                side = WAN
                packet = P.udp(P.SERVER, P.PUBLIC, flow.server_port, flow.external_port, payload)
            else:
                side = LAN
                packet = P.udp(P.CLIENT, P.SERVER, flow.client_port, flow.server_port, payload)
        elif from_wan:
            side = WAN
            packet = P.tcp(
                P.SERVER, P.PUBLIC, flow.server_port, flow.external_port, P.PUSH_ACK,
                self.server_seq, self.client_seq, payload,
            )  # fmt: skip
            self.server_seq += len(payload)
        else:
            side = LAN
            packet = P.tcp(
                P.CLIENT, P.SERVER, flow.client_port, flow.server_port, P.PUSH_ACK,
                self.client_seq, self.server_seq, payload,
            )  # fmt: skip
            self.client_seq += len(payload)
        return check(self.engine, self.engine.receive(side, packet, self.now))

    def advance(self, seconds: float) -> list:
        self.now += seconds
        return check(self.engine, self.engine.advance(self.now))


class Session:
    """The conversations one execution has: fresh ones, or those of the reused engine."""

    def __init__(self, primed: Primed):
        self.primed = primed
        self.fresh = os.environ.get("FUZZ_FRESH") == "1"
        self.uses = REUSE
        self.talks: dict[tuple[str, int], Conversation] = {}

    def begin(self) -> None:
        """An execution starts: renew the engine when it has served its turn."""
        self.uses += 1
        if self.fresh or self.uses >= REUSE:
            self.renew()

    def renew(self, check_old: bool = True) -> None:
        """A fresh engine; the old one first sees its timers run out (``check_old``: unless
        it has already failed, when that would only report the same failure again)."""
        if self.talks and not self.fresh and check_old:
            self.engine_later()
        engine = self.primed.engine()
        self.talks = {key: Conversation(engine, flow) for key, flow in self.primed.flows.items()}
        self.uses = 0

    def talk(self, proto: str, port: int) -> Conversation:
        return self.talks[proto, port]

    def run(self, body: Callable[[Session, bytes], None], data: bytes) -> None:
        """``body`` on this session; a failure on a reused engine is replayed on a fresh one."""
        try:
            self.begin()
            body(self, data)
            if self.fresh:
                self.engine_later()
        except Exception as error:
            if self.uses == 0:  # the engine was fresh for this input: it replays
                raise
            self.renew(check_old=False)  # the input alone, on a fresh engine: raises if it replays
            body(self, data)
            self.engine_later()
            raise Crash(
                f"fails only after earlier inputs on the same engine ({error}); "
                "rerun with FUZZ_FRESH=1"
            ) from None

    def engine_later(self) -> None:
        next(iter(self.talks.values())).advance(LATER)
