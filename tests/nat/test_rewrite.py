"""nat/rewrite.py: in-place header rewrites keep every checksum right."""

from playbook import CLIENT, PUBLIC, SERVER, checksums_ok
from scapy.layers.inet import IP, TCP, UDP

from nat import rewrite
from nat.ipv4 import addr
from nat.mapping import DYNAMIC, Host, Mapping
from nat.table import PREFIX


def mapping(proto, int_port, ext_port):
    host = Host(addr(CLIENT), addr(PUBLIC))
    out_key = PREFIX[proto] + host.int_ip + int_port.to_bytes(2, "big")
    in_key = PREFIX[proto] + host.ext_ip + ext_port.to_bytes(2, "big")
    return Mapping(host, proto, out_key, in_key, DYNAMIC)


def test_source_out_and_back_restore_the_original_bytes_but_ttl():
    for layer, proto in (
        (TCP(sport=40000, dport=80, flags="PA") / b"data", 6),
        (UDP(sport=40000, dport=53) / b"q", 17),
    ):
        original = bytes(IP(src=CLIENT, dst=SERVER, ttl=10) / layer)
        buf = bytearray(original)
        m = mapping(proto, 40000, 61234)
        rewrite.source_out(buf, 20, proto, m)
        out = IP(bytes(buf))
        assert (out.src, out.sport, out.ttl) == (PUBLIC, 61234, 9)
        assert checksums_ok(bytes(buf))
        # Reply direction: swap addresses and ports, translate back.
        reply = IP(src=SERVER, dst=PUBLIC, ttl=10) / layer.__class__(bytes(layer))
        reply.payload.sport, reply.payload.dport = layer.dport, 61234
        reply.payload.chksum = None
        back = bytearray(bytes(reply))
        rewrite.destination_in(back, 20, proto, m)
        assert IP(bytes(back)).dst == CLIENT and IP(bytes(back)).dport == 40000
        assert checksums_ok(bytes(back))


def test_udp_without_checksum_stays_without():
    packet = IP(src=CLIENT, dst=SERVER) / UDP(sport=1, dport=2, chksum=0) / b"x"
    buf = bytearray(bytes(packet))
    rewrite.source_out(buf, 20, 17, mapping(17, 1, 1025))
    assert IP(bytes(buf))[UDP].chksum == 0


def test_address_rewrite_and_ttl_round_trip():
    buf = bytearray(bytes(IP(src=CLIENT, dst=SERVER, proto=47, ttl=5) / b"gre"))
    rewrite.address(buf, 12, addr(PUBLIC))
    rewrite.decrement_ttl(buf)
    assert checksums_ok(bytes(buf)) and IP(bytes(buf)).ttl == 4
    rewrite.restore_ttl(buf)
    assert checksums_ok(bytes(buf)) and IP(bytes(buf)).ttl == 5
