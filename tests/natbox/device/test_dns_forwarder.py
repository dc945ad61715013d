"""natbox/device/dns_forwarder.py on loopback: local names, relaying, bad input."""

import socket
import struct
import threading

from scapy.layers.dns import DNS, DNSQR

from natbox.device.dns_forwarder import DnsForwarder, question


def udp(port=0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(3)
    return sock


def start(upstreams):
    forwarder = DnsForwarder(("127.0.0.1", 0), upstreams, {"natbox.lan": "192.168.1.1"})
    threading.Thread(target=forwarder.serve, args=(5.0,), daemon=True).start()
    return forwarder, forwarder.clients.getsockname()


def test_the_routers_own_name_is_answered_locally():
    _, address = start([])
    client = udp()
    client.sendto(bytes(DNS(id=77, rd=1, qd=DNSQR(qname="NATBOX.lan"))), address)
    answer = DNS(client.recv(512))
    assert answer.id == 77 and answer.qr == 1 and answer.ancount == 1
    assert answer.an[0].rdata == "192.168.1.1"


def test_other_names_are_relayed_and_come_back_under_the_clients_id():
    upstream = udp()
    _, address = start([upstream.getsockname()])
    client = udp()
    client.sendto(bytes(DNS(id=4242, rd=1, qd=DNSQR(qname="server1.example"))), address)
    relayed, relay = upstream.recvfrom(512)
    query = DNS(relayed)
    assert query.qd[0].qname == b"server1.example." and query.id != 4242  # a fresh ID
    reply = DNS(id=query.id, qr=1, qd=query.qd)
    upstream.sendto(bytes(reply), relay)
    answer = DNS(client.recv(512))
    assert answer.id == 4242 and answer.qr == 1
    upstream.sendto(bytes(reply), relay)  # a duplicate answer is not passed on
    client.settimeout(0.5)
    try:
        client.recv(512)
        raise AssertionError("duplicate answer forwarded")
    except TimeoutError:
        pass


def test_malformed_queries_are_dropped():
    assert question(b"\x00" * 5) is None
    assert question(struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01") is None
    assert question(struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x40abc") is None
    assert question(struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x03abc") is None
    name = question(struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x03abc\x00\x00\x01\x00\x01")
    assert name == ("abc", 1, 1, 21)
