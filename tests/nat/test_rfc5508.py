"""RFC 5508 (NAT behavioural requirements for ICMP), one test per requirement."""

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
    udp_in,
    udp_out,
)
from scapy.layers.inet import ICMP, IP, TCP, UDP, ICMPerror, IPerror, TCPerror, UDPerror
from scapy.packet import Raw

from nat import NatConfig, checksum
from nat.config import Behaviour
from nat.direction import LAN, WAN

HOP = "198.51.100.254"  # a router on the path that reports errors


def echo_out(ident=0x1234, seq=1, src=CLIENT, dst=SERVER, payload=b"ping"):
    return IP(src=src, dst=dst) / ICMP(type=8, id=ident, seq=seq) / payload


def echo_reply(ident, seq=1, src=SERVER, dst=PUBLIC, payload=b"ping"):
    return IP(src=src, dst=dst) / ICMP(type=0, id=ident, seq=seq) / payload


def icmp_error(quoted: bytes, src=SERVER, dst=PUBLIC, icmp_type=3, code=3, **icmp):
    """An ICMP error quoting ``quoted``; scapy computes every checksum."""
    return IP(src=src, dst=dst) / ICMP(type=icmp_type, code=code, **icmp) / Raw(quoted)


def corrupt(raw: bytes, offset: int) -> bytes:
    out = bytearray(raw)
    out[offset] ^= 0xFF
    return bytes(out)


def occupied_lab() -> Lab:
    """A lab where CLIENT2 already holds the external ports and identifier the tests' flows
    from CLIENT would like, so CLIENT's flows get different external ones."""
    lab = Lab()
    lab.lan(udp_out(5000, 53, src=CLIENT2)).only(WAN)
    lab.lan(tcp_out(40000, 80, "S", src=CLIENT2)).only(WAN)
    lab.lan(tcp_out(40001, 443, "S", src=CLIENT2)).only(WAN)
    lab.lan(echo_out(ident=0x0BEE, src=CLIENT2)).only(WAN)
    return lab


def ping(lab, **kwargs) -> int:
    """Send an echo request out; returns the external identifier."""
    return lab.lan(echo_out(**kwargs)).only(WAN)[ICMP].id


# -- query mappings -------------------------------------------------------------------------------


def test_rfc5508_query_mapping_is_endpoint_independent():
    lab = Lab()
    first = lab.lan(echo_out(ident=0x1234, dst=SERVER)).only(WAN)
    second = lab.lan(echo_out(ident=0x1234, dst=SERVER2)).only(WAN)
    assert first[IP].src == second[IP].src == PUBLIC
    assert first[ICMP].id == second[ICMP].id
    # Each server's reply reaches the same internal host and identifier.
    for server in (SERVER, SERVER2):
        back = lab.wan(echo_reply(first[ICMP].id, src=server)).only(LAN)
        assert back[IP].dst == CLIENT
        assert back[ICMP].id == 0x1234


def test_rfc5508_query_mapping_is_endpoint_independent_even_with_symmetric_udp_mapping():
    lab = Lab(NatConfig(mapping=Behaviour.ADDRESS_AND_PORT_DEPENDENT))
    assert ping(lab, ident=0x4321, dst=SERVER) == ping(lab, ident=0x4321, dst=SERVER2)


def test_rfc5508_query_mapping_keeps_two_hosts_with_one_identifier_apart():
    lab = Lab()
    one = ping(lab, ident=0x0500, src=CLIENT)
    two = ping(lab, ident=0x0500, src=CLIENT2)
    assert one != two
    assert lab.wan(echo_reply(one)).only(LAN)[IP].dst == CLIENT
    assert lab.wan(echo_reply(two)).only(LAN)[IP].dst == CLIENT2


def test_rfc5508_query_reply_is_accepted_only_from_the_queried_host():
    lab = Lab()
    ext = ping(lab, dst=SERVER)
    result = lab.wan(echo_reply(ext, src=SERVER2))
    assert result.dropped
    assert result.drops == ["no_mapping"]


def test_rfc5508_query_session_lives_at_least_60_seconds():
    assert NatConfig().timeouts.icmp >= 60
    lab = Lab()
    ext = ping(lab)
    lab.advance(59)
    back = lab.wan(echo_reply(ext)).only(LAN)
    assert back[IP].dst == CLIENT and back[ICMP].id == 0x1234


def test_rfc5508_query_session_default_timeout_is_60_seconds():
    lab = Lab()
    ext = ping(lab)
    lab.advance(60)  # no traffic for the whole timeout
    result = lab.wan(echo_reply(ext))
    assert result.dropped and result.drops == ["no_mapping"]
    assert not [row for row in lab.engine.snapshot() if row["proto"] == "icmp"]


def test_rfc5508_query_reply_after_expiry_is_dropped_even_before_a_sweep():
    lab = Lab()
    ext = ping(lab)
    lab.now += 60  # the clock moves without a TimeAdvanced event
    result = lab.wan(echo_reply(ext))
    assert result.dropped and result.drops == ["no_mapping"]


# -- checksums ------------------------------------------------------------------------------------


def test_rfc5508_outbound_icmp_checksum_is_verified():
    lab = Lab()
    good = bytes(echo_out())
    result = lab.lan(corrupt(good, 22))  # ICMP checksum
    assert result.dropped and result.drops == ["malformed_icmp"]
    assert lab.counters["malformed_icmp"] == 1
    lab.lan(good).only(WAN)  # the same packet with its checksum intact passes


def test_rfc5508_inbound_icmp_checksum_is_verified():
    lab = Lab()
    ext = ping(lab)
    good = bytes(echo_reply(ext))
    result = lab.wan(corrupt(good, 23))
    assert result.dropped and result.drops == ["malformed_icmp"]
    lab.wan(good).only(LAN)


def test_rfc5508_inbound_error_icmp_checksum_is_verified():
    lab = Lab()
    sent = bytes(lab.lan(udp_out(5000, 53)).only(WAN))
    good = bytes(icmp_error(sent))
    result = lab.wan(corrupt(good, 22))
    assert result.dropped and result.drops == ["malformed_icmp"]
    lab.wan(good).only(LAN)


def test_rfc5508_inbound_error_embedded_ip_checksum_is_verified():
    lab = Lab()
    sent = bytes(lab.lan(udp_out(5000, 53)).only(WAN))
    # The ICMP checksum is right (scapy computes it over the corrupted quote); only the
    # embedded IP header checksum is wrong.
    bad = icmp_error(corrupt(sent, 10))
    assert checksum.is_valid(bytes(bad)[20:])
    result = lab.wan(bad)
    assert result.dropped and result.drops == ["malformed_icmp"]
    lab.wan(icmp_error(sent)).only(LAN)


def test_rfc5508_outbound_error_embedded_ip_checksum_is_verified():
    lab = Lab()
    ext = lab.lan(udp_out(5000, 53)).only(WAN)[UDP].sport
    received = bytes(lab.wan(udp_in(53, ext)).only(LAN))
    bad = icmp_error(corrupt(received, 10), src=CLIENT, dst=SERVER)
    result = lab.lan(bad)
    assert result.dropped and result.drops == ["malformed_icmp"]
    lab.lan(icmp_error(received, src=CLIENT, dst=SERVER)).only(WAN)


# -- inbound errors -------------------------------------------------------------------------------


def test_rfc5508_inbound_error_without_mapping_is_dropped():
    lab = Lab()
    never_sent = IP(src=PUBLIC, dst=SERVER, ttl=63) / UDP(sport=40000, dport=53) / b"query"
    result = lab.wan(icmp_error(bytes(never_sent)))
    assert result.dropped and result.drops == ["icmp_error_no_mapping"]
    assert lab.counters["icmp_error_no_mapping"] == 1


def test_rfc5508_inbound_error_about_another_remote_is_dropped():
    lab = Lab()
    sent = lab.lan(udp_out(5000, 53, dst=SERVER)).only(WAN)
    # An error quoting a packet our mapping never sent to SERVER2.
    forged = IP(bytes(sent))
    forged.dst = SERVER2
    del forged[IP].chksum
    del forged[UDP].chksum
    result = lab.wan(icmp_error(bytes(forged), src=SERVER2))
    assert result.dropped and result.drops == ["icmp_error_no_mapping"]


def test_rfc5508_inbound_error_after_the_session_expired_is_dropped():
    lab = Lab()
    sent = bytes(lab.lan(udp_out(5000, 53)).only(WAN))
    lab.advance(NatConfig().timeouts.udp)
    result = lab.wan(icmp_error(sent))
    assert result.dropped and result.drops == ["icmp_error_no_mapping"]


def test_rfc5508_inbound_error_about_udp_is_translated():
    lab = occupied_lab()
    original = udp_out(5000, 53, payload=b"a query of some length")
    sent = lab.lan(original).only(WAN)
    assert sent[UDP].sport != 5000  # CLIENT2 holds 5000: the port really is translated
    back = lab.wan(icmp_error(bytes(sent), icmp_type=3, code=3)).only(LAN)
    assert back[IP].src == SERVER and back[IP].dst == CLIENT
    assert (back[ICMP].type, back[ICMP].code) == (3, 3)
    assert back[IPerror].src == CLIENT and back[IPerror].dst == SERVER
    assert back[UDPerror].sport == 5000 and back[UDPerror].dport == 53
    # The embedded IP checksum is valid (recomputed from scratch here too) ...
    inner = IPerror(bytes(back[IPerror]))
    claimed = inner.chksum
    inner.chksum = None
    assert IPerror(bytes(inner)).chksum == claimed
    # ... and the embedded UDP checksum is the one the client computed.
    assert back[UDPerror].chksum == IP(bytes(original))[UDP].chksum


def test_rfc5508_inbound_error_about_udp_without_checksum_keeps_zero():
    lab = occupied_lab()
    original = IP(src=CLIENT, dst=SERVER) / UDP(sport=5000, dport=53, chksum=0) / b"query"
    sent = lab.lan(original).only(WAN)
    assert sent[UDP].chksum == 0
    back = lab.wan(icmp_error(bytes(sent))).only(LAN)
    assert back[UDPerror].sport == 5000
    assert back[UDPerror].chksum == 0


def test_rfc5508_inbound_error_fragmentation_needed_about_udp_keeps_the_mtu():
    lab = occupied_lab()
    original = udp_out(5000, 53, payload=b"x" * 1000, flags="DF")
    sent = lab.lan(original).only(WAN)
    error = icmp_error(bytes(sent), src=HOP, icmp_type=3, code=4, nexthopmtu=1280)
    back = lab.wan(error).only(LAN)
    assert back[IP].src == HOP and back[IP].dst == CLIENT
    assert (back[ICMP].type, back[ICMP].code) == (3, 4)
    assert back[ICMP].nexthopmtu == 1280
    assert back[IPerror].src == CLIENT and back[UDPerror].sport == 5000
    # The whole datagram is quoted, so the embedded checksum must be the client's.
    assert back[UDPerror].chksum == IP(bytes(original))[UDP].chksum


def test_rfc5508_inbound_error_about_tcp_is_translated():
    lab = occupied_lab()
    ext = tcp_handshake(lab, sport=40000, dport=80)
    original = tcp_out(40000, 80, "PA", seq=1001, ack=5001, payload=b"GET / HTTP/1.0\r\n\r\n")
    sent = lab.lan(original).only(WAN)
    assert sent[TCP].sport == ext != 40000
    back = lab.wan(icmp_error(bytes(sent), code=3)).only(LAN)
    assert back[IP].dst == CLIENT
    assert back[IPerror].src == CLIENT and back[IPerror].dst == SERVER
    assert back[TCPerror].sport == 40000 and back[TCPerror].dport == 80
    assert back[TCPerror].seq == 1001
    assert back[TCPerror].chksum == IP(bytes(original))[TCP].chksum


def test_rfc5508_inbound_error_fragmentation_needed_about_tcp_keeps_the_mtu():
    lab = occupied_lab()
    tcp_handshake(lab, sport=40001, dport=443)
    original = tcp_out(40001, 443, "A", seq=1001, ack=5001, payload=b"y" * 1200)
    original[IP].flags = "DF"
    sent = lab.lan(original).only(WAN)
    # RFC 792 style quote: the IP header and the first 8 bytes of TCP only.
    quote = bytes(sent)[:28]
    back = lab.wan(icmp_error(quote, src=HOP, icmp_type=3, code=4, nexthopmtu=1400)).only(LAN)
    assert back[ICMP].nexthopmtu == 1400
    assert back[IPerror].src == CLIENT
    raw = bytes(back)
    assert raw[48:50] == (40001).to_bytes(2, "big")  # embedded source port
    assert raw[50:52] == (443).to_bytes(2, "big")
    assert raw[52:56] == (1001).to_bytes(4, "big")  # the sequence number is untouched


def test_rfc5508_inbound_error_about_echo_request_restores_the_identifier():
    lab = occupied_lab()
    original = echo_out(ident=0x0BEE, seq=7)
    sent = lab.lan(original).only(WAN)
    assert sent[ICMP].id != 0x0BEE
    error = icmp_error(bytes(sent), src=HOP, icmp_type=11, code=0)  # TTL exceeded in transit
    back = lab.wan(error).only(LAN)
    assert back[IP].src == HOP and back[IP].dst == CLIENT
    assert (back[ICMP].type, back[ICMP].code) == (11, 0)
    assert back[IPerror].src == CLIENT and back[IPerror].dst == SERVER
    assert back[ICMPerror].id == 0x0BEE and back[ICMPerror].seq == 7
    assert back[ICMPerror].chksum == IP(bytes(original))[ICMP].chksum


# -- outbound errors ------------------------------------------------------------------------------


def test_rfc5508_outbound_error_about_inbound_udp_uses_the_public_source():
    lab = occupied_lab()
    ext = lab.lan(udp_out(5000, 53)).only(WAN)[UDP].sport
    assert ext != 5000
    from_server = udp_in(53, ext, payload=b"unexpected")
    received = lab.wan(from_server).only(LAN)
    assert received[UDP].dport == 5000
    error = icmp_error(bytes(received), src=CLIENT, dst=SERVER, icmp_type=3, code=3)
    out = lab.lan(error).only(WAN)
    assert out[IP].src == PUBLIC and out[IP].dst == SERVER
    assert (out[ICMP].type, out[ICMP].code) == (3, 3)
    assert out[IPerror].src == SERVER and out[IPerror].dst == PUBLIC
    assert out[UDPerror].sport == 53 and out[UDPerror].dport == ext
    # The server sees its own packet quoted back, checksum included.
    assert out[UDPerror].chksum == IP(bytes(from_server))[UDP].chksum


def test_rfc5508_outbound_error_about_inbound_tcp_uses_the_public_source():
    lab = occupied_lab()
    ext = tcp_handshake(lab, sport=40000, dport=80)
    from_server = IP(src=SERVER, dst=PUBLIC) / TCP(
        sport=80, dport=ext, flags="PA", seq=5001, ack=1001
    )
    received = lab.wan(from_server / b"data").only(LAN)
    error = icmp_error(bytes(received), src=CLIENT, dst=SERVER, icmp_type=3, code=3)
    out = lab.lan(error).only(WAN)
    assert out[IP].src == PUBLIC
    assert out[IPerror].dst == PUBLIC and out[TCPerror].dport == ext
    assert out[TCPerror].chksum == IP(bytes(from_server / b"data"))[TCP].chksum


def test_rfc5508_outbound_error_without_a_session_is_dropped():
    lab = Lab()
    lab.lan(udp_out(5000, 53))
    stray = IP(src=SERVER2, dst=CLIENT, ttl=60) / UDP(sport=53, dport=5000) / b"x"
    result = lab.lan(icmp_error(bytes(stray), src=CLIENT, dst=SERVER2))
    assert result.dropped and result.drops == ["icmp_error_no_mapping"]


# -- errors never refresh -------------------------------------------------------------------------


def test_rfc5508_errors_about_queries_never_refresh_the_session():
    lab = Lab()
    sent = lab.lan(echo_out(ident=0x2222)).only(WAN)
    lab.advance(50)
    lab.wan(icmp_error(bytes(sent), src=HOP, icmp_type=11, code=0)).only(LAN)
    lab.advance(10)  # 60 s after the request, 10 s after the error
    result = lab.wan(echo_reply(sent[ICMP].id))
    assert result.dropped and result.drops == ["no_mapping"]
    assert not [row for row in lab.engine.snapshot() if row["proto"] == "icmp"]


def test_rfc5508_errors_never_refresh_a_udp_session():
    lab = Lab()
    sent = lab.lan(udp_out(5000, 53)).only(WAN)
    lab.advance(200)
    lab.wan(icmp_error(bytes(sent))).only(LAN)
    lab.advance(NatConfig().timeouts.udp - 200)
    result = lab.wan(udp_in(53, sent[UDP].sport))
    assert result.dropped
    assert not [row for row in lab.engine.snapshot() if row["proto"] == "udp"]


# -- cannot create a session ----------------------------------------------------------------------


def test_rfc5508_echo_without_a_mapping_gets_admin_prohibited():
    lab = Lab(NatConfig(per_host_quota=1))
    first = ping(lab, ident=1)
    refused = echo_out(ident=2, seq=9)
    result = lab.lan(refused)
    assert result.drops == ["host_quota"]
    answer = result.only(LAN)
    assert answer[IP].src == ROUTER_LAN and answer[IP].dst == CLIENT
    assert (answer[ICMP].type, answer[ICMP].code) == (3, 13)
    assert answer[IPerror].src == CLIENT and answer[IPerror].dst == SERVER
    assert answer[ICMPerror].id == 2 and answer[ICMPerror].seq == 9
    # The first query still works.
    assert lab.wan(echo_reply(first)).only(LAN)[ICMP].id == 1
