"""A small playbook for engine tests: build packets with scapy, feed them in, parse what
comes out, and check every checksum the engine wrote."""

from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
from scapy.packet import Packet

from nat import Drop, Engine, Log, NatConfig, Transmit
from nat.events import LAN, WAN

CLIENT = "192.168.1.10"
CLIENT2 = "192.168.1.11"
ROUTER_LAN = "192.168.1.1"
PUBLIC = "203.0.113.1"
SERVER = "198.51.100.10"
SERVER2 = "198.51.100.20"


def checksums_ok(raw: bytes) -> bool:
    """True when every IP/TCP/UDP/ICMP checksum in ``raw`` (embedded ones included) matches
    what scapy computes from scratch."""
    got = IP(raw)
    if got.flags.MF or got.frag:
        # A fragment's transport checksum covers the whole datagram: check the header only.
        fresh = IP(raw)
        fresh.chksum = None
        return IP(bytes(fresh)).chksum == got.chksum
    fresh = IP(raw)
    for layer_type in (IP, TCP, UDP, ICMP, IPerror, TCPerror, UDPerror):
        layer = fresh.getlayer(layer_type)
        if layer is not None and hasattr(layer, "chksum"):
            if layer_type in (TCPerror, UDPerror):
                continue  # quoted transport headers may be truncated: checked separately
            if layer_type is UDP and layer.chksum == 0:
                continue
            layer.chksum = None
    rebuilt = IP(bytes(fresh))
    for layer_type in (IP, TCP, UDP, ICMP, IPerror):
        a, b = got.getlayer(layer_type), rebuilt.getlayer(layer_type)
        if a is not None and b is not None and hasattr(a, "chksum") and a.chksum != b.chksum:
            return False
    return True


@dataclass
class Result:
    actions: list
    transmitted: list[tuple[str, Packet]] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    logs: list[Log] = field(default_factory=list)

    def only(self, side: str | None = None) -> Packet:
        assert len(self.transmitted) == 1, f"expected one packet, got {self.actions}"
        out_side, packet = self.transmitted[0]
        if side is not None:
            assert out_side == side, f"sent on {out_side}, expected {side}"
        return packet

    @property
    def dropped(self) -> bool:
        return not self.transmitted and bool(self.drops)


class Lab:
    """An engine with a clock: `lab.lan(pkt)` sends from the LAN side, `lab.wan(pkt)` from
    the WAN side; both return a Result whose packets had their checksums verified."""

    def __init__(self, config: NatConfig | None = None, helpers=(), now: float = 1000.0):
        self.engine = Engine(config or NatConfig(), helpers=list(helpers))
        self.now = now

    def _feed(self, side: str, packet: Packet | bytes) -> Result:
        raw = bytes(packet)
        actions = self.engine.receive(side, raw, self.now)
        return self._collect(actions)

    @staticmethod
    def _collect(actions: list) -> Result:
        result = Result(actions)
        for action in actions:
            if isinstance(action, Transmit):
                data = bytes(action.data)
                assert checksums_ok(data), f"bad checksum in {IP(data).summary()}"
                result.transmitted.append((action.side, IP(data)))
            elif isinstance(action, Drop):
                result.drops.append(action.reason)
            elif isinstance(action, Log):
                result.logs.append(action)
        return result

    def lan(self, packet: Packet | bytes) -> Result:
        return self._feed(LAN, packet)

    def wan(self, packet: Packet | bytes) -> Result:
        return self._feed(WAN, packet)

    def advance(self, seconds: float) -> Result:
        self.now += seconds
        return self._collect(self.engine.advance(self.now))

    def configure(self, config: NatConfig) -> Result:
        return self._collect(self.engine.configure(config, self.now))

    @property
    def counters(self):
        return self.engine.counters


def udp_out(sport=5000, dport=53, src=CLIENT, dst=SERVER, payload=b"query", **ip):
    return IP(src=src, dst=dst, **ip) / UDP(sport=sport, dport=dport) / payload


def udp_in(sport, dport, src=SERVER, dst=PUBLIC, payload=b"answer", **ip):
    return IP(src=src, dst=dst, **ip) / UDP(sport=sport, dport=dport) / payload


def tcp_out(
    sport=40000, dport=80, flags="S", src=CLIENT, dst=SERVER, seq=1000, ack=0, payload=b"", **ip
):
    return (
        IP(src=src, dst=dst, **ip)
        / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
        / payload
    )


def tcp_in(sport, dport, flags="SA", src=SERVER, dst=PUBLIC, seq=5000, ack=1001, payload=b"", **ip):
    return (
        IP(src=src, dst=dst, **ip)
        / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
        / payload
    )


def tcp_handshake(lab: Lab, sport=40000, dport=80, src=CLIENT, dst=SERVER) -> int:
    """Open a TCP connection through the NAT; returns the external port."""
    syn = lab.lan(tcp_out(sport, dport, "S", src=src, dst=dst)).only(WAN)
    ext = syn[TCP].sport
    lab.wan(tcp_in(dport, ext, "SA", src=dst, seq=5000, ack=1001)).only(LAN)
    lab.lan(tcp_out(sport, dport, "A", src=src, dst=dst, seq=1001, ack=5001)).only(WAN)
    return ext
