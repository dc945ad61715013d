"""Fuzzing Engine.receive: whatever arrives, the engine never raises and never counts an
internal error; whatever it transmits is an IPv4 packet with a sound header."""

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playbook import (
    CLIENT,
    CLIENT2,
    PUBLIC,
    ROUTER_LAN,
    SERVER,
    SERVER2,
    Lab,
    tcp_handshake,
    tcp_out,
    udp_out,
)
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.packet import Raw

from nat import Drop, Engine, Log, NatConfig, Transmit, checksum, ipv4
from nat.direction import LAN, WAN
from nat.mtu import Fragmented, fit_to_mtu
from nat.passthrough import default_helpers

SIDES = st.sampled_from([LAN, WAN])


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# Ports and identifiers the primed engine has mappings for, so fuzz hits established paths.
UDP_PORTS = (5000, 5001)
TCP_PORTS = (40000,)
ECHO_ID = 0x1234
QUOTED_BY_WAN, QUOTED_BY_LAN = "quoted-by-wan", "quoted-by-lan"
ADDRESSES = [CLIENT, CLIENT2, SERVER, SERVER2, PUBLIC, ROUTER_LAN, "0.0.0.0", "255.255.255.255"]


# Every helper the engine ships is loaded and switched on, so the fuzz reaches them too.
HELPERS = tuple((helper.name, True) for helper in default_helpers())
CONFIG = NatConfig(per_host_quota=64, helpers=HELPERS)
# The driver fits what the engine sends to the link (nat.mtu); the fuzz does it at this MTU.
LINK_MTU = 600


def _priming_packets() -> list[tuple[str, bytes]]:
    """What primes an engine: live UDP, TCP and ICMP mappings, and a half-open session.
    Recorded once as bytes, so each example only replays them."""
    lab = Lab(CONFIG, helpers=default_helpers())
    recorded: list[tuple[str, bytes]] = []
    feed = lab._feed

    def recording(side, packet):
        recorded.append((side, bytes(packet)))
        return feed(side, packet)

    lab._feed = recording
    for port in UDP_PORTS:
        lab.lan(udp_out(port, 53)).only(WAN)
    for port in TCP_PORTS:
        tcp_handshake(lab, sport=port, dport=80)
    lab.lan(IP(src=CLIENT, dst=SERVER) / ICMP(type=8, id=ECHO_ID) / b"ping").only(WAN)
    lab.lan(tcp_out(41000, 80, "S")).only(WAN)
    return recorded


PRIMING = _priming_packets()


def primed() -> tuple[Engine, float]:
    """A fresh engine with the mappings the fuzz aims at."""
    engine = Engine(CONFIG, helpers=default_helpers())
    now = 1000.0
    for side, data in PRIMING:
        actions = engine.receive(side, data, now)
        assert any(isinstance(a, Transmit) for a in actions)
    return engine, now


def check(engine: Engine, side: str, data: bytes, now: float) -> list:
    actions = engine.receive(side, data, now)
    assert engine.counters["internal_error"] == 0, actions
    for action in actions:
        assert isinstance(action, (Transmit, Drop, Log)), action
        if isinstance(action, Transmit):
            out = bytes(action.data)
            assert action.side in (LAN, WAN)
            assert len(out) >= 20 and out[0] >> 4 == 4
            ihl = ipv4.header_length(out)
            assert struct.unpack_from("!H", out, 2)[0] == len(out)
            assert checksum.is_valid(out[:ihl]), IP(out).summary()
            if len(out) > LINK_MTU:
                check_fitted(out, data)
    return actions


def check_fitted(out: bytes, original: bytes) -> None:
    verdict = fit_to_mtu(out, original, LINK_MTU, ipv4.addr(ROUTER_LAN))
    sent = verdict.pieces if isinstance(verdict, Fragmented) else [verdict.error]
    for packet in sent:
        assert len(packet) <= LINK_MTU
        assert checksum.is_valid(packet[: ipv4.header_length(packet)])


# -- raw bytes ------------------------------------------------------------------------------------


@fuzz(500)
@given(st.lists(st.tuples(SIDES, st.binary(max_size=120)), min_size=1, max_size=5))
def test_random_bytes_never_raise(packets):
    engine, now = primed()
    for side, data in packets:
        check(engine, side, data, now)
        now += 1


@fuzz(500)
@given(SIDES, st.binary(min_size=20, max_size=100))
def test_random_bytes_behind_a_version_4_byte_never_raise(side, data):
    engine, now = primed()
    check(engine, side, b"\x45" + data[1:], now)


# -- valid IPv4 headers ---------------------------------------------------------------------------


def usually(common, rare, one_in: int = 8):
    """Mostly ``common``, now and then ``rare``."""
    return st.integers(0, one_in - 1).flatmap(lambda n: rare if n == 0 else common)


@st.composite
def ipv4_packets(draw, proto=None, payload=None, side=None) -> bytes:
    """An IPv4 packet whose header passes validation; the rest is up to hypothesis. With a
    ``side``, the addresses are mostly ones that side would route (to reach the NAT)."""
    options = draw(
        st.sampled_from([b"", b"", b"", b"\x01\x01\x01\x00", b"\x07\x07\x04" + b"\0" * 5])
    )
    if proto is None:
        proto = draw(st.sampled_from([1, 6, 17, 47, 50, 51]) | st.integers(0, 255))
    if payload is None:
        payload = draw(st.binary(max_size=200))
    anywhere = st.sampled_from(ADDRESSES) | st.ip_addresses(v=4).map(str)
    if side == LAN:
        src = draw(usually(st.sampled_from([CLIENT, CLIENT2]), anywhere))
        dst = draw(usually(st.sampled_from([SERVER, SERVER2, PUBLIC]), anywhere))
    elif side == WAN:
        src = draw(usually(st.sampled_from([SERVER, SERVER2]), anywhere))
        dst = draw(usually(st.just(PUBLIC), anywhere))
    elif side == QUOTED_BY_WAN:  # what we sent to the WAN, quoted in an error from there
        src = draw(usually(st.just(PUBLIC), anywhere))
        dst = draw(usually(st.sampled_from([SERVER, SERVER2]), anywhere))
    elif side == QUOTED_BY_LAN:  # what we delivered to a LAN host, quoted back by it
        src = draw(usually(st.sampled_from([SERVER, SERVER2]), anywhere))
        dst = draw(usually(st.sampled_from([CLIENT, CLIENT2]), anywhere))
    else:
        src, dst = draw(anywhere), draw(anywhere)
    flags = draw(
        usually(st.sampled_from([0, 0x4000, 0x2000, 0x2010, 0x00B9]), st.integers(0, 0xFFFF))
    )
    ttl = draw(usually(st.sampled_from([64, 2]), st.integers(0, 255)))
    ident = draw(st.integers(0, 0xFFFF))
    ihl = 20 + len(options)
    header = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl // 4,
            draw(st.integers(0, 255)),
            ihl + len(payload),
            ident,
            flags,
            ttl,
            proto,
            0,
            ipv4.addr(src),
            ipv4.addr(dst),
        )
    )
    header += options
    struct.pack_into("!H", header, 10, checksum.checksum(header))
    trailer = draw(st.sampled_from([b"", b"", b"\0" * 6]))  # Ethernet padding
    return bytes(header) + payload + trailer


def ports() -> st.SearchStrategy[int]:
    return st.sampled_from([*UDP_PORTS, *TCP_PORTS, 53, 80, 41000, ECHO_ID]) | st.integers(
        0, 0xFFFF
    )


@st.composite
def transport_payloads(draw, proto: int) -> bytes:
    """A TCP/UDP header with plausible ports (right checksum or not), then random bytes."""
    known = st.sampled_from([*UDP_PORTS, *TCP_PORTS, 53, 80, 41000, ECHO_ID])
    sport, dport = draw(usually(known, ports())), draw(usually(known, ports()))
    if proto == 6:
        flags = draw(
            st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x04, 0x14, 0x01, 0x11]) | st.integers(0, 255)
        )
        head = struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            draw(st.integers(0, 2**32 - 1)),
            0,
            0x50,
            flags,
            1024,
            draw(st.integers(0, 0xFFFF)),
            0,
        )
    else:
        head = struct.pack(
            "!HHHH", sport, dport, draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF))
        )
    body = head + draw(st.binary(max_size=80))
    cut = draw(st.integers(0, len(body)))
    return body[:cut] if draw(st.booleans()) else body


@st.composite
def icmp_payloads(draw, inner_side=None) -> bytes:
    """An ICMP message, often an error quoting a plausible embedded packet."""
    icmp_type = draw(usually(st.sampled_from([0, 3, 4, 5, 8, 11, 12]), st.integers(0, 255)))
    code = draw(usually(st.sampled_from([0, 1, 3, 4, 13]), st.integers(0, 255)))
    rest = draw(st.integers(0, 2**32 - 1))
    if icmp_type in (3, 4, 5, 11, 12) and draw(st.integers(0, 3)):
        inner_proto = draw(usually(st.sampled_from([1, 6, 17]), st.integers(0, 255)))
        if inner_proto == 1:
            inner_l4 = struct.pack("!BBHHH", 8, 0, 0, draw(ports()), 1) + draw(
                st.binary(max_size=20)
            )
            if draw(st.booleans()):
                inner_l4 = bytearray(inner_l4)
                struct.pack_into("!H", inner_l4, 2, checksum.checksum(inner_l4))
                inner_l4 = bytes(inner_l4)
        elif inner_proto in (6, 17):
            inner_l4 = draw(transport_payloads(inner_proto))
        else:
            inner_l4 = draw(st.binary(max_size=30))
        inner = draw(ipv4_packets(proto=inner_proto, payload=inner_l4, side=inner_side))
        if draw(st.booleans()):
            inner = inner[: draw(st.integers(0, len(inner)))]
        body = inner
    else:
        body = draw(st.binary(max_size=60))
    message = bytearray(struct.pack("!BBHI", icmp_type, code, 0, rest) + body)
    if draw(st.integers(0, 9)):  # mostly a right checksum, so translation code runs
        struct.pack_into("!H", message, 2, checksum.checksum(message))
    return (
        bytes(message[: draw(st.integers(0, len(message)))])
        if not draw(st.integers(0, 5))
        else bytes(message)
    )


@st.composite
def structured_packets(draw, side=None) -> bytes:
    proto = draw(usually(st.sampled_from([1, 6, 17]), st.integers(0, 255)))
    if proto in (6, 17):
        payload = draw(transport_payloads(proto))
    elif proto == 1:
        payload = draw(icmp_payloads(inner_side={LAN: QUOTED_BY_LAN, WAN: QUOTED_BY_WAN}.get(side)))
    else:
        payload = draw(st.binary(max_size=100))
    return draw(ipv4_packets(proto=proto, payload=payload, side=side))


def sided(strategy) -> st.SearchStrategy[tuple[str, bytes]]:
    """(side, packet), the packet's addresses usually fitting the side it arrives on."""
    return SIDES.flatmap(lambda side: st.tuples(st.just(side), strategy(side=side)))


@fuzz(600)
@given(st.lists(sided(ipv4_packets), min_size=1, max_size=4))
def test_valid_ipv4_headers_with_random_contents_never_raise(packets):
    engine, now = primed()
    for side, data in packets:
        check(engine, side, data, now)


@fuzz(1000)
@given(st.lists(sided(structured_packets), min_size=1, max_size=6))
def test_structured_packets_never_raise(packets):
    engine, now = primed()
    for side, data in packets:
        check(engine, side, data, now)
        now += 7
        engine.advance(now)
    assert engine.counters["internal_error"] == 0


# -- truncated valid packets ----------------------------------------------------------------------


def valid_packets() -> list[tuple[str, bytes]]:
    """Packets the primed engine would translate, on the side they arrive."""
    lan = [
        udp_out(5000, 53, payload=b"q" * 40),
        tcp_out(40000, 80, "PA", seq=1001, ack=5001, payload=b"GET / HTTP/1.0\r\n\r\n"),
        tcp_out(42000, 80, "S"),
        IP(src=CLIENT, dst=SERVER) / ICMP(type=8, id=ECHO_ID, seq=2) / b"ping",
    ]
    wan = [
        IP(src=SERVER, dst=PUBLIC) / UDP(sport=53, dport=5000) / (b"a" * 40),
        IP(src=SERVER, dst=PUBLIC) / TCP(sport=80, dport=40000, flags="A", seq=5001, ack=1001),
        IP(src=SERVER, dst=PUBLIC) / ICMP(type=0, id=ECHO_ID, seq=1) / b"ping",
    ]
    sent_udp = IP(src=PUBLIC, dst=SERVER, ttl=63) / UDP(sport=5000, dport=53) / b"query"
    sent_tcp = IP(src=PUBLIC, dst=SERVER, ttl=63) / TCP(
        sport=40000, dport=80, flags="PA", seq=1001, ack=5001
    )
    sent_echo = IP(src=PUBLIC, dst=SERVER, ttl=63) / ICMP(type=8, id=ECHO_ID) / b"ping"
    for quoted in (sent_udp, sent_tcp, sent_echo):
        for icmp_type, code in ((3, 3), (3, 4), (11, 0)):
            wan.append(
                IP(src=SERVER2, dst=PUBLIC)
                / ICMP(type=icmp_type, code=code, nexthopmtu=1280 if code == 4 else 0)
                / Raw(bytes(quoted))
            )
    from_server = IP(src=SERVER, dst=CLIENT, ttl=63) / UDP(sport=53, dport=5000) / b"answer"
    lan.append(IP(src=CLIENT, dst=SERVER) / ICMP(type=3, code=3) / Raw(bytes(from_server)))
    return [(LAN, bytes(p)) for p in lan] + [(WAN, bytes(p)) for p in wan]


VALID = valid_packets()


def test_the_untruncated_packets_are_translated():
    # The control for the truncation fuzz: every packet here goes through whole.
    for side, data in VALID:
        engine, now = primed()
        actions = check(engine, side, data, now)
        assert any(isinstance(a, Transmit) for a in actions), (side, IP(data).summary(), actions)


@fuzz(800)
@given(st.sampled_from(VALID), st.data())
def test_truncated_valid_packets_never_raise(packet, draw):
    side, data = packet
    cut = draw.draw(st.integers(0, len(data)))
    engine, now = primed()
    # As received: the header still claims the full length.
    check(engine, side, data[:cut], now)
    if cut >= 20:
        # As a consistent packet: total length and header checksum fixed up.
        fixed = bytearray(data[:cut])
        ipv4.set_total_length(fixed, 20)
        check(engine, side, bytes(fixed), now)


@fuzz(800)
@given(st.sampled_from(VALID), st.data())
def test_valid_packets_with_one_corrupted_byte_never_raise(packet, draw):
    side, data = packet
    buf = bytearray(data)
    pos = draw.draw(st.integers(0, len(buf) - 1))
    buf[pos] ^= draw.draw(st.integers(1, 255))
    if draw.draw(st.booleans()):
        struct.pack_into("!H", buf, 10, 0)
        struct.pack_into("!H", buf, 10, checksum.checksum(buf[: ipv4.header_length(buf)]))
        if len(buf) >= 28 and buf[9] == 1 and draw.draw(st.booleans()):
            ipv4.transport_checksum(buf, ipv4.header_length(buf), 1)
    engine, now = primed()
    check(engine, side, bytes(buf), now)
