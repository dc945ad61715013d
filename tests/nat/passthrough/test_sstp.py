"""SSTP: plain TCP 443 NAT; disabled blocks only what a NAT can see."""

from playbook import CLIENT, SERVER, Lab, tcp_in, tcp_out
from scapy.layers.inet import TCP
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from nat import NatConfig
from nat.direction import LAN, WAN
from nat.passthrough import default_helpers
from nat.passthrough.sstp import DUPLEX_POST, client_hello_sni

POST = DUPLEX_POST + b" HTTP/1.1\r\nHost: vpn\r\nContent-Length: 18446744073709551615\r\n\r\n"


def hello(name):
    ext = TLS_Ext_ServerName(servernames=[ServerName(servername=name.encode())])
    return bytes(TLS(msg=[TLSClientHello(ext=[ext])]))


def sstp_lab(enabled, servers=("vpn.example.net",)):
    helpers = default_helpers()
    config = NatConfig(helpers=(("sstp", enabled),), sstp_servers=servers)
    return Lab(config, helpers=helpers), helpers[0].monitor


def connect(lab, sport=40000):
    ext = lab.lan(tcp_out(sport, 443, "S")).only(WAN)[TCP].sport
    lab.wan(tcp_in(443, ext, "SA", seq=5000, ack=1001)).only(LAN)
    lab.lan(tcp_out(sport, 443, "A", seq=1001, ack=5001)).only(WAN)
    return ext


def first_payload(lab, payload, sport=40000):
    return lab.lan(tcp_out(sport, 443, "PA", seq=1001, ack=5001, payload=payload))


def test_sni_is_read_from_a_client_hello():
    assert client_hello_sni(hello("vpn.example.net")) == "vpn.example.net"
    assert client_hello_sni(b"GET / HTTP/1.1\r\n") is None
    assert client_hello_sni(hello("vpn.example.net")[:30]) is None


def test_enabled_sstp_is_plain_nat_and_reported():
    lab, monitor = sstp_lab(True)
    connect(lab)
    out = first_payload(lab, POST).only(WAN)
    assert bytes(out[TCP].payload) == POST
    assert monitor.snapshot(lab.now)["active"][0]["ids"] == {
        "recognised_by": "cleartext SSTP_DUPLEX_POST"
    }


def test_disabled_blocks_cleartext_sstp_and_listed_sni():
    lab, _ = sstp_lab(False)
    connect(lab, 40000)
    assert first_payload(lab, POST, 40000).drops == ["sstp_disabled"]
    lab.now += 11  # refusal lines are rate-limited per host and server
    connect(lab, 40001)
    result = first_payload(lab, hello("VPN.example.net"), 40001)
    assert result.drops == ["sstp_disabled"]
    assert any("TLS SNI" in log.fields.get("reason", "") for log in result.logs)


def test_disabled_lets_other_https_through_and_steps_aside():
    lab, _ = sstp_lab(False)
    ext = connect(lab)
    assert first_payload(lab, hello("www.example.org")).only(WAN)
    assert lab.engine.snapshot()[0]["sessions"][0]["helper"] is None  # back on the fast path
    assert lab.wan(tcp_in(443, ext, "PA", seq=5001, ack=1100, payload=b"\x16\x03")).only(LAN)


def test_sstp_to_an_unlisted_server_cannot_be_blocked():
    lab, _ = sstp_lab(False, servers=())
    connect(lab)
    assert first_payload(lab, hello("vpn.example.net")).only(WAN)  # the documented limit


def test_disabling_tears_down_identified_sstp_only():
    lab, monitor = sstp_lab(True)
    connect(lab, 40000)
    first_payload(lab, POST, 40000).only(WAN)
    connect(lab, 40001)
    first_payload(lab, hello("www.example.org"), 40001).only(WAN)
    lab.configure(NatConfig(helpers=(("sstp", False),)))
    assert monitor.snapshot(lab.now)["active"] == []
    rows = lab.engine.snapshot()
    assert [r["internal"] for r in rows] == [f"{CLIENT}:40001"]
    assert SERVER


def test_on_by_default():
    lab = Lab(NatConfig(), helpers=default_helpers())
    connect(lab)
    assert first_payload(lab, POST).only(WAN)


def test_two_clients_to_one_sstp_server():
    lab, monitor = sstp_lab(True)
    connect(lab, 40000)
    first_payload(lab, POST, 40000).only(WAN)
    ext = lab.lan(tcp_out(40000, 443, "S", src="192.168.1.11")).only(WAN)[TCP].sport
    lab.wan(tcp_in(443, ext, "SA", seq=5000, ack=1001)).only(LAN)
    lab.lan(tcp_out(40000, 443, "A", src="192.168.1.11", seq=1001, ack=5001)).only(WAN)
    lab.lan(tcp_out(40000, 443, "PA", src="192.168.1.11", seq=1001, ack=5001, payload=POST))
    hosts = sorted(s["lan_host"] for s in monitor.snapshot(lab.now)["active"])
    assert hosts == [CLIENT, "192.168.1.11"]


def test_malformed_client_hellos_are_just_https():
    lab, _ = sstp_lab(False)
    good = hello("vpn.example.net")
    for i, payload in enumerate(
        (good[:6], good[:50], b"\x16\x03\x01\xff\xff\x01" + b"\xff" * 80, b"\x16" + b"\x00" * 200)
    ):
        connect(lab, 41000 + i)
        assert first_payload(lab, payload, 41000 + i).only(WAN)
    assert lab.counters["internal_error"] == 0
