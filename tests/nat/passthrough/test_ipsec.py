"""IPsec passthrough: IKE port 500 sharing by SPI, raw ESP by SPI, NAT-T, AH, on and off."""

import struct

from playbook import CLIENT, CLIENT2, PUBLIC, SERVER, SERVER2, Lab, udp_in, udp_out
from scapy.layers.inet import ICMP, IP, UDP, IPerror, UDPerror
from scapy.layers.ipsec import AH, ESP
from scapy.layers.isakmp import ISAKMP
from scapy.utils import checksum

from nat import NatConfig
from nat.direction import LAN, WAN
from nat.passthrough import default_helpers
from nat.passthrough.ipsec import ikev2_error_notify

SPI_A = b"\xaa" * 8
SPI_B = b"\xbb" * 8


def ipsec_lab(enabled=True, **settings):
    helpers = default_helpers()
    lab = Lab(NatConfig(helpers=(("ipsec", enabled),), **settings), helpers=helpers)
    return lab, helpers[0].monitor


def ike(spi, responder=b"\0" * 8, response=False, payload=b""):
    flags = 0x20 if response else 0x08
    return (
        ISAKMP(
            init_cookie=spi,
            resp_cookie=responder,
            next_payload=0,
            version=0x20,
            exch_type=34,
            flags=flags,
        )
        / payload
    )


def ike_out(client, spi, server=SERVER):
    return IP(src=client, dst=server) / UDP(sport=500, dport=500) / ike(spi)


def ike_in(spi, server=SERVER, **kwargs):
    return (
        IP(src=server, dst=PUBLIC) / UDP(sport=500, dport=500) / ike(spi, response=True, **kwargs)
    )


def esp_out(client, spi, server=SERVER, seq=1):
    return IP(src=client, dst=server) / ESP(spi=spi, seq=seq) / (b"\x11" * 40)


def esp_in(spi, server=SERVER, seq=1):
    return IP(src=server, dst=PUBLIC) / ESP(spi=spi, seq=seq) / (b"\x22" * 40)


def test_ike_keeps_port_500_and_two_hosts_share_it_by_initiator_spi():
    lab, _ = ipsec_lab()
    for client, spi in ((CLIENT, SPI_A), (CLIENT2, SPI_B)):
        out = lab.lan(ike_out(client, spi)).only(WAN)
        assert (out[IP].src, out[UDP].sport) == (PUBLIC, 500)
        assert out[ISAKMP].init_cookie == spi
    to_b = lab.wan(ike_in(SPI_B, responder=b"\x01" * 8)).only(LAN)
    to_a = lab.wan(ike_in(SPI_A, responder=b"\x02" * 8)).only(LAN)
    assert (to_a[IP].dst, to_a[UDP].dport) == (CLIENT, 500)
    assert (to_b[IP].dst, to_b[UDP].dport) == (CLIENT2, 500)


def test_ike_reply_with_unknown_spi_is_dropped_and_flagged():
    lab, monitor = ipsec_lab()
    lab.lan(ike_out(CLIENT, SPI_A)).only(WAN)
    assert lab.wan(ike_in(b"\xcc" * 8)).drops == ["ipsec_ike_unmatched"]
    assert monitor.anomalies[-1]["kind"] == "unsolicited_inbound"


def test_ike_from_another_port_is_ordinary_nat():
    lab, _ = ipsec_lab()
    out = lab.lan(IP(src=CLIENT, dst=SERVER) / UDP(sport=40500, dport=500) / ike(SPI_A))
    assert out.only(WAN)[UDP].sport == 40500
    assert lab.wan(IP(src=SERVER, dst=PUBLIC) / UDP(sport=500, dport=40500) / ike(SPI_A)).only(LAN)


def test_ike_error_notify_counts_as_failed_negotiation():
    notify = struct.pack("!BBHBBH", 0, 0, 8, 0, 0, 14)  # NO_PROPOSAL_CHOSEN
    response = bytes(ike(SPI_A, response=True))[:28]
    raw = bytearray(response[:16] + bytes([41]) + response[17:] + notify)
    struct.pack_into("!I", raw, 24, len(raw))
    assert ikev2_error_notify(bytes(raw)) == 14
    lab, monitor = ipsec_lab()
    for i in range(5):
        spi = bytes([i + 1]) * 8
        lab.lan(ike_out(CLIENT, spi)).only(WAN)
        failed = bytearray(raw)
        failed[:8] = spi
        lab.wan(IP(src=SERVER, dst=PUBLIC) / UDP(sport=500, dport=500) / bytes(failed)).only(LAN)
    assert monitor.anomalies[-1]["kind"] == "negotiation_burst"


def test_raw_esp_two_hosts_one_server_bind_oldest_first():
    lab, monitor = ipsec_lab()
    a = lab.lan(esp_out(CLIENT, 0x1000)).only(WAN)
    lab.now += 1
    b = lab.lan(esp_out(CLIENT2, 0x2000)).only(WAN)
    assert a[IP].src == b[IP].src == PUBLIC and a[ESP].spi == 0x1000
    # The server's first unknown SPI goes to the oldest waiting entry (CLIENT), the next
    # one to CLIENT2; afterwards each SPI sticks.
    assert lab.wan(esp_in(0x9001)).only(LAN)[IP].dst == CLIENT
    assert lab.wan(esp_in(0x9002)).only(LAN)[IP].dst == CLIENT2
    for _ in range(3):
        assert lab.wan(esp_in(0x9002)).only(LAN)[IP].dst == CLIENT2
        assert lab.wan(esp_in(0x9001)).only(LAN)[IP].dst == CLIENT
    ids = sorted(
        (s["lan_host"], s["ids"]["inbound_spi"]) for s in monitor.snapshot(lab.now)["active"]
    )
    assert ids == [(CLIENT, "00009001"), (CLIENT2, "00009002")]


def test_esp_from_a_server_nobody_talks_to_is_dropped():
    lab, _ = ipsec_lab()
    lab.lan(esp_out(CLIENT, 0x1000)).only(WAN)
    assert lab.wan(esp_in(0x9001, server=SERVER2)).drops == ["ipsec_esp_unmatched"]
    assert lab.wan(esp_in(0)).drops == ["ipsec_esp_malformed"]


def test_esp_entries_time_out():
    lab, monitor = ipsec_lab()
    lab.lan(esp_out(CLIENT, 0x1000)).only(WAN)
    lab.advance(61)  # unreplied for 60 s
    assert lab.wan(esp_in(0x9001)).drops == ["ipsec_esp_unmatched"]
    assert monitor.snapshot(lab.now)["recent"][-1]["end_reason"] == "ESP idle timeout"
    lab.lan(esp_out(CLIENT, 0x1001)).only(WAN)
    lab.wan(esp_in(0x9003)).only(LAN)
    lab.advance(3000)
    assert lab.wan(esp_in(0x9003)).only(LAN)  # replied entries live an hour
    lab.advance(3601)
    assert lab.wan(esp_in(0x9003)).drops == ["ipsec_esp_unmatched"]


def test_natt_is_an_ordinary_mapping_that_survives_keepalives():
    lab, monitor = ipsec_lab()
    out = lab.lan(udp_out(sport=4500, dport=4500, payload=b"\0\0\0\0" + bytes(ike(SPI_A))))
    port = out.only(WAN)[UDP].sport
    for _ in range(30):  # ten minutes of 20 s keepalives, longer than the UDP timeout
        lab.advance(20)
        lab.lan(udp_out(sport=4500, dport=4500, payload=b"\xff")).only(WAN)
    esp = udp_in(4500, port, payload=struct.pack("!II", 0x1234, 1) + b"e" * 32)
    assert lab.wan(esp).only(LAN)[UDP].dport == 4500
    session = monitor.snapshot(lab.now)["active"][0]
    assert session["ids"] == {"transport": "nat-t", "initiator_spi": SPI_A.hex()}
    assert session["packets"] == 32


def test_ah_is_blocked_with_a_clear_log_line():
    lab, _ = ipsec_lab()
    result = lab.lan(IP(src=CLIENT, dst=SERVER) / AH(spi=5) / (b"x" * 20))
    assert result.drops == ["ipsec_ah_unsupported"]
    refused = [log for log in result.logs if log.event == "vpn_session_refused"]
    assert "cannot survive address translation" in refused[0].fields["reason"]


def test_disabled_ipsec_blocks_ike_natt_esp_and_ah():
    lab, _ = ipsec_lab(enabled=False)
    assert lab.lan(ike_out(CLIENT, SPI_A)).drops == ["ipsec_disabled"]
    assert lab.lan(udp_out(sport=4500, dport=4500)).drops == ["ipsec_disabled"]
    assert lab.lan(esp_out(CLIENT, 1)).drops == ["ipsec_disabled"]
    assert lab.wan(esp_in(1)).drops == ["ipsec_disabled"]
    assert lab.lan(IP(src=CLIENT, dst=SERVER) / AH(spi=5)).drops == ["ipsec_disabled"]


def test_disabling_ends_running_sessions_and_frees_port_500():
    lab, monitor = ipsec_lab()
    lab.lan(ike_out(CLIENT, SPI_A)).only(WAN)
    lab.lan(esp_out(CLIENT, 0x1000)).only(WAN)
    lab.lan(udp_out(sport=4500, dport=4500)).only(WAN)
    lab.configure(NatConfig(helpers=(("ipsec", False),)))
    assert monitor.snapshot(lab.now)["active"] == []
    assert len(monitor.snapshot(lab.now)["recent"]) == 3
    lab.configure(NatConfig(helpers=(("ipsec", True),)))
    assert lab.lan(ike_out(CLIENT2, SPI_B)).only(WAN)[UDP].sport == 500


def test_malformed_ike_and_esp_never_open_anything():
    lab, _ = ipsec_lab()
    short = IP(src=CLIENT, dst=SERVER) / UDP(sport=500, dport=500) / b"\x01\x02"
    assert lab.lan(short).drops == ["ipsec_ike_malformed"]
    assert lab.lan(IP(src=CLIENT, dst=SERVER, proto=50) / b"\x00\x01").drops == [
        "ipsec_esp_malformed"
    ]
    garbage = IP(src=SERVER, dst=PUBLIC) / UDP(sport=500, dport=500) / (b"\xff" * 200)
    assert lab.wan(garbage).drops == ["ipsec_ike_unmatched"]
    assert lab.counters["internal_error"] == 0


# -- ICMP errors about IPsec flows: path MTU discovery through the NAT --------------------------

HOP = "198.51.100.1"  # a router on the path with a smaller MTU


def quoted_udp_checksum_ok(raw: bytes) -> bool:
    """The UDP checksum of a wholly quoted datagram, with its (rewritten) source address."""
    inner = raw[(raw[0] & 0x0F) * 4 + 8 :]
    ihl = (inner[0] & 0x0F) * 4
    segment = inner[ihl : ihl + int.from_bytes(inner[ihl + 4 : ihl + 6], "big")]
    pseudo = inner[12:20] + bytes([0, 17]) + len(segment).to_bytes(2, "big")
    return checksum(pseudo + segment) == 0


def frag_needed(quoted: bytes, mtu=1400):
    return IP(src=HOP, dst=PUBLIC) / ICMP(type=3, code=4, nexthopmtu=mtu) / quoted


def test_frag_needed_about_raw_esp_reaches_the_host_that_sent_it():
    lab, _ = ipsec_lab()
    sent = {}
    for client, spi in ((CLIENT, 0x1001), (CLIENT2, 0x2002)):
        sent[client] = bytes(lab.lan(esp_out(client, spi)).only(WAN))
    for client in (CLIENT, CLIENT2):
        back = lab.wan(frag_needed(sent[client])).only(LAN)
        assert back[IP].dst == client and back[ICMP].nexthopmtu == 1400
        assert back[IPerror].src == client and back[IPerror].dst == SERVER
        assert back[IPerror].proto == 50
    unknown = bytes(lab.lan(esp_out(CLIENT, 0x3003)).only(WAN)).replace(
        struct.pack("!I", 0x3003), struct.pack("!I", 0x4004)
    )
    assert lab.wan(frag_needed(unknown)).drops == ["icmp_error_no_mapping"]


def test_error_about_ike_goes_to_the_client_whose_initiator_spi_it_quotes():
    lab, _ = ipsec_lab()
    pairs = ((CLIENT, SPI_A), (CLIENT2, SPI_B))
    sent = {c: bytes(lab.lan(ike_out(c, spi)).only(WAN)) for c, spi in pairs}
    back = lab.wan(frag_needed(sent[CLIENT2])).only(LAN)
    assert back[IP].dst == CLIENT2 and back[IPerror].src == CLIENT2
    assert back[UDPerror].sport == 500 and quoted_udp_checksum_ok(bytes(back))
    # Only the IP and UDP headers quoted: two clients talk IKE to this server, so nobody can
    # tell whose it was.
    assert lab.wan(frag_needed(sent[CLIENT][:28])).drops == ["icmp_error_no_mapping"]


def test_error_quoting_only_the_ike_header_is_delivered_when_one_client_is_possible():
    lab, _ = ipsec_lab()
    sent = bytes(lab.lan(ike_out(CLIENT, SPI_A)).only(WAN))
    back = lab.wan(frag_needed(sent[:28])).only(LAN)
    assert back[IP].dst == CLIENT and back[IPerror].src == CLIENT


def test_with_ipsec_off_errors_about_its_flows_are_not_delivered():
    lab, _ = ipsec_lab()
    sent = bytes(lab.lan(esp_out(CLIENT, 0x1001)).only(WAN))
    lab.configure(NatConfig(helpers=(("ipsec", False),)))
    assert lab.wan(frag_needed(sent)).drops == ["icmp_error_no_mapping"]


def test_nat_t_comes_back_on_its_old_port_when_ipsec_is_switched_off_and_on_again():
    # Under symmetric NAT a new mapping gets a new port; the server keeps sending to the old
    # one, so the returning endpoint gets its own cooling port back (and the tunnel lives).
    lab, _ = ipsec_lab(profile="symmetric")
    before = lab.lan(udp_out(sport=4500, dport=4500)).only(WAN)[UDP].sport
    lab.lan(udp_out(sport=4501, dport=4500, src=CLIENT2)).only(WAN)  # moves the cursor on
    lab.configure(NatConfig(profile="symmetric", helpers=(("ipsec", False),)))
    lab.advance(5)
    lab.configure(NatConfig(profile="symmetric", helpers=(("ipsec", True),)))
    assert lab.lan(udp_out(sport=4500, dport=4500)).only(WAN)[UDP].sport == before
    assert lab.wan(udp_in(4500, before)).only(LAN)[UDP].dport == 4500
