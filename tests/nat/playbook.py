"""A small playbook for engine tests: build packets with scapy, feed them in, parse what
comes out, and check every checksum the engine wrote."""

from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Packet
from scapy.utils import checksum as scapy_checksum

from nat import Drop, Engine, Log, NatConfig, Offload, Transmit, Withdraw
from nat.direction import LAN, WAN

CLIENT = "192.168.1.10"
CLIENT2 = "192.168.1.11"
ROUTER_LAN = "192.168.1.1"
PUBLIC = "203.0.113.1"
SERVER = "198.51.100.10"
SERVER2 = "198.51.100.20"


def checksums_ok(raw: bytes) -> bool:
    """True when every checksum in ``raw`` is right: the IP header, the TCP/UDP checksum with
    its pseudo-header, the ICMP checksum and an ICMP error's embedded IP header. It works on
    the bytes with scapy's own checksum routine, so scapy's dissectors (which may re-encode
    a payload they half understand) stay out of it."""
    ihl = (raw[0] & 0x0F) * 4
    if scapy_checksum(raw[:ihl]) != 0 or int.from_bytes(raw[2:4], "big") != len(raw):
        return False
    if int.from_bytes(raw[6:8], "big") & 0x3FFF:
        return True  # a fragment: its transport checksum covers the whole datagram
    proto, segment = raw[9], raw[ihl:]
    if proto in (6, 17):
        if proto == 17 and segment[6:8] == b"\0\0":
            return True  # UDP without a checksum
        pseudo = raw[12:20] + bytes([0, proto]) + len(segment).to_bytes(2, "big")
        return scapy_checksum(pseudo + segment) == 0
    if proto == 1:
        if scapy_checksum(segment) != 0:
            return False
        if segment[0] in (3, 4, 5, 11, 12) and len(segment) >= 28:
            inner_ihl = (segment[8] & 0x0F) * 4
            return scapy_checksum(segment[8 : 8 + inner_ihl]) == 0
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


class KernelFlows:
    """What the kernel's flow table (router.driver.flows) does with the flows the engine
    offloads: the same matching (not SYN/FIN/RST, fragments or TTL <= 1), the same stateless
    rewrite and TTL - 1, and per-flow packet counts. With it the engine tests run in both
    modes: every packet of an offloaded flow skips the engine, as on the router."""

    def __init__(self):
        self.lan: dict[tuple, object] = {}
        self.wan: dict[tuple, object] = {}
        self.counts: dict[int, list[int]] = {}

    def apply(self, actions: list) -> list:
        """Take the offers and withdrawals (the driver's), return the rest."""
        rest = []
        for action in actions:
            if isinstance(action, Offload):
                flow = action.flow
                self.lan[(flow.proto, flow.internal, flow.remote)] = flow
                self.wan[(flow.proto, flow.remote, flow.external)] = flow
                self.counts[flow.ident] = [0, 0]
            elif isinstance(action, Withdraw):
                for table in (self.lan, self.wan):
                    for key in [k for k, f in table.items() if f.ident == action.ident]:
                        del table[key]
                self.counts.pop(action.ident, None)
            else:
                rest.append(action)
        return rest

    def forward(self, side: str, raw: bytes) -> list | None:
        """The packet forwarded by the kernel (one Transmit), or None: the engine's."""
        if len(raw) < 28 or raw[0] != 0x45 or raw[9] not in (6, 17) or raw[8] < 2:
            return None
        if int.from_bytes(raw[6:8], "big") & 0x3FFF or (raw[9] == 6 and raw[33] & 0x07):
            return None
        source, destination = raw[12:16] + raw[20:22], raw[16:20] + raw[22:24]
        table = self.lan if side == LAN else self.wan
        flow = table.get((raw[9], source, destination))
        if flow is None:
            return None
        packet = IP(raw)
        layer = packet[TCP] if raw[9] == 6 else packet[UDP]
        if side == LAN:
            packet.src, layer.sport = _ip(flow.external), _port(flow.external)
        else:
            packet.dst, layer.dport = _ip(flow.internal), _port(flow.internal)
        packet.ttl -= 1
        del packet.chksum
        keep_zero = raw[9] == 17 and raw[26:28] == b"\0\0"
        layer.chksum = 0 if keep_zero else None
        self.counts[flow.ident][0 if side == LAN else 1] += 1
        return [Transmit(WAN if side == LAN else LAN, bytes(packet))]


def _ip(endpoint: bytes) -> str:
    return ".".join(map(str, endpoint[:4]))


def _port(endpoint: bytes) -> int:
    return int.from_bytes(endpoint[4:6], "big")


class Lab:
    """An engine with a clock: `lab.lan(pkt)` sends from the LAN side, `lab.wan(pkt)` from
    the WAN side; both return a Result whose packets had their checksums verified.

    ``Lab.flow_offload`` (a test module's fixture sets it) runs every lab with flow
    offloading on and a KernelFlows in front of the engine, as the router does."""

    flow_offload = False

    def __init__(self, config: NatConfig | None = None, helpers=(), now: float = 1000.0):
        config = config or NatConfig()
        self.kernel = KernelFlows() if Lab.flow_offload else None
        if self.kernel is not None:
            config = config.replace(flow_offload=True)
        self.engine = Engine(config, helpers=list(helpers))
        self.now = now

    def _feed(self, side: str, packet: Packet | bytes) -> Result:
        raw = bytes(packet)
        if self.kernel is not None:
            forwarded = self.kernel.forward(side, raw)
            if forwarded is not None:
                return self._collect(forwarded)
        actions = self.engine.receive(side, raw, self.now)
        return self._collect(actions)

    def _collect(self, actions: list) -> Result:
        if self.kernel is not None:
            actions = self.kernel.apply(actions)
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
        kernel = self.kernel
        if kernel is not None and kernel.counts:
            # The driver reads the counts every second; here no packet comes between two
            # advances, so the read at the time of the last packets is that read.
            counts = {ident: (out, inn) for ident, (out, inn) in kernel.counts.items()}
            self.engine.offload_activity(counts, self.now)
        self.now += seconds
        return self._collect(self.engine.advance(self.now))

    def configure(self, config: NatConfig) -> Result:
        if self.kernel is not None:
            config = config.replace(flow_offload=True)
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
