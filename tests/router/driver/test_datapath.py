"""The datapath glue without sockets: fake ports, real engine, packets checked by scapy."""

from __future__ import annotations

import ipaddress

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, raw

from nat import Engine, NatConfig
from router.daemon import effective_config
from router.driver import offload
from router.driver.datapath import Datapath, Side
from router.driver.linkinfo import LinkInfo
from router.driver.neighbours import Neighbours

LAN_MAC, WAN_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
HOST_MAC, GW_MAC = bytes.fromhex("0200000000aa"), bytes.fromhex("0200000000bb")
HOST, SERVER = "192.168.1.10", "198.51.100.10"


class FakePort:
    def __init__(self):
        self.inbox: list[tuple[bytes, bytes]] = []
        self.sent: list[tuple[bytes, bytes]] = []  # (vnet header, frame)
        self.head = offload.VNET_LEN
        self.rx_frames = self.tx_frames = self.tx_errors = self.rx_errors = 0
        self.kernel_drops = 0

    def receive(self, limit):
        while self.inbox:
            hdr, frame = self.inbox.pop(0)
            yield hdr, memoryview(frame)

    def send(self, hdr, ethernet, packet):
        self.sent.append((bytes(hdr), bytes(ethernet) + bytes(packet)))

    def flush(self):
        pass

    def tx_ready(self):
        return True


def _side(name, mac, address, prefix, gateway=None, mtu=1500):
    port = FakePort()
    neighbours = Neighbours(mac, lambda frame: port.send(offload.PLAIN, frame[:14], frame[14:]))
    side = Side(name, port, mac, mtu, neighbours)
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    side.set_addressing(network, address, gateway)
    return side


def _datapath(wan_mtu=1500, **settings):
    config = NatConfig(lan_address="192.168.1.1", wan_addresses=("203.0.113.2",), **settings)
    lan = LinkInfo("lan0", LAN_MAC, 1500, "192.168.1.1", 24, None)
    wan = LinkInfo("wan0", WAN_MAC, wan_mtu, "203.0.113.2", 24, "203.0.113.1")
    engine = Engine(effective_config(config, lan, wan, (61000, 65535)))
    dp = Datapath(
        engine,
        _side("lan", LAN_MAC, "192.168.1.1", 24),
        _side("wan", WAN_MAC, "203.0.113.2", 24, "203.0.113.1", wan_mtu),
    )
    dp.sides["lan"].neighbours.learn(bytes([192, 168, 1, 10]), HOST_MAC, 0.0)
    dp.sides["wan"].neighbours.learn(bytes([203, 0, 113, 1]), GW_MAC, 0.0)
    return dp


def _frame(dst_mac, src_mac, packet) -> bytes:
    return raw(Ether(dst=dst_mac, src=src_mac) / packet)


def _push(dp, side, packet, hdr=offload.PLAIN, now=1.0):
    mac = LAN_MAC if side == "lan" else WAN_MAC
    peer = HOST_MAC if side == "lan" else GW_MAC
    dp.sides[side].port.inbox.append((hdr, _frame(mac, peer, packet)))
    dp.pump(side, now)


def _sent(dp, side):
    port = dp.sides[side].port
    out, port.sent = port.sent, []
    return out


def _handshake(dp):
    _push(dp, "lan", IP(src=HOST, dst=SERVER) / TCP(sport=40000, dport=80, flags="S", seq=1))
    [(_, syn)] = _sent(dp, "wan")
    port = Ether(syn)[TCP].sport
    _push(
        dp,
        "wan",
        IP(src=SERVER, dst="203.0.113.2") / TCP(sport=80, dport=port, flags="SA", seq=100, ack=2),
    )
    _sent(dp, "lan")
    _push(
        dp, "lan", IP(src=HOST, dst=SERVER) / TCP(sport=40000, dport=80, flags="A", seq=2, ack=101)
    )
    _sent(dp, "wan")
    return port


def test_a_gso_super_frame_with_a_partial_checksum_leaves_as_one_offloaded_frame():
    dp = _datapath()
    _handshake(dp)
    payload = bytes(range(256)) * 160  # 40 KB: one TSO frame, about 28 segments on the wire
    packet = bytearray(
        raw(
            IP(src=HOST, dst=SERVER)
            / TCP(sport=40000, dport=80, flags="PA", seq=2, ack=101)
            / payload
        )
    )
    hdr = offload.VNET_HDR.pack(offload.NEEDS_CSUM, offload.GSO_TCPV4, 66, 1448, 34, 16)
    packet[36:38] = offload.pseudo_header_sum(packet, 20).to_bytes(2, "big")  # partial
    _push(dp, "lan", IP(bytes(packet)), hdr)
    [(txhdr, frame)] = _sent(dp, "wan")
    flags, gso_type, _, gso_size, _, _ = offload.VNET_HDR.unpack(txhdr)
    assert (flags, gso_type, gso_size) == (offload.NEEDS_CSUM, offload.GSO_TCPV4, 1448)
    assert Ether(frame).dst == "02:00:00:00:00:bb"
    out = bytearray(frame[14:])
    assert IP(bytes(out)).src == "203.0.113.2"
    offload.complete_checksum(out, txhdr)  # what the NIC would do
    expected = IP(bytes(out))
    del expected[TCP].chksum
    assert IP(bytes(out))[TCP].chksum == IP(raw(expected))[TCP].chksum


def test_gso_segments_are_shrunk_to_fit_a_smaller_wan_mtu():
    dp = _datapath(wan_mtu=1400)
    _handshake(dp)
    packet = bytearray(
        raw(
            IP(src=HOST, dst=SERVER)
            / TCP(sport=40000, dport=80, flags="A", seq=2, ack=101)
            / (b"x" * 9000)
        )
    )
    hdr = offload.VNET_HDR.pack(offload.NEEDS_CSUM, offload.GSO_TCPV4, 66, 1448, 34, 16)
    _push(dp, "lan", IP(bytes(packet)), hdr)
    [(txhdr, _)] = _sent(dp, "wan")
    assert offload.VNET_HDR.unpack(txhdr)[3] == 1400 - 40


def test_a_small_partial_udp_checksum_is_refilled_for_the_new_addresses():
    dp = _datapath()
    packet = bytearray(raw(IP(src=HOST, dst=SERVER) / UDP(sport=5000, dport=53) / b"query"))
    packet[26:28] = offload.pseudo_header_sum(packet, 20).to_bytes(2, "big")
    hdr = offload.VNET_HDR.pack(offload.NEEDS_CSUM, 0, 0, 0, 34, 6)
    _push(dp, "lan", IP(bytes(packet)), hdr)
    [(txhdr, frame)] = _sent(dp, "wan")
    out = bytearray(frame[14:])
    assert int.from_bytes(out[26:28], "big") == offload.pseudo_header_sum(out, 20)
    offload.complete_checksum(out, txhdr)
    check = IP(bytes(out))
    del check[UDP].chksum
    assert IP(bytes(out))[UDP].chksum == IP(raw(check))[UDP].chksum


def test_plain_packets_over_the_egress_mtu_get_icmp_or_fragments():
    dp = _datapath(wan_mtu=1000)
    big = IP(src=HOST, dst=SERVER, flags="DF") / UDP(sport=5000, dport=9) / (b"x" * 1200)
    _push(dp, "lan", big)
    assert _sent(dp, "wan") == []
    [(_, frame)] = _sent(dp, "lan")
    icmp = Ether(frame)[IP]
    assert (icmp.dst, icmp[ICMP].type, icmp[ICMP].code) == (HOST, 3, 4)
    assert icmp[ICMP].nexthopmtu == 1000
    _push(dp, "lan", IP(src=HOST, dst=SERVER) / UDP(sport=5000, dport=9) / (b"x" * 1200))
    pieces = [Ether(frame)[IP] for _, frame in _sent(dp, "wan")]
    assert len(pieces) == 2 and all(len(p) <= 1000 for p in pieces)
    assert all(p.src == "203.0.113.2" for p in pieces)


def test_unknown_next_hops_are_resolved_by_arp_and_held_packets_released():
    dp = _datapath()
    lan = dp.sides["lan"]
    lan.neighbours = Neighbours(LAN_MAC, lambda f: lan.port.send(offload.PLAIN, f[:14], f[14:]))
    lan.set_addressing(lan.network, "192.168.1.1", None)
    _push(dp, "lan", IP(src=HOST, dst=SERVER) / UDP(sport=5000, dport=9) / b"x")
    _sent(dp, "wan")
    _push(dp, "wan", IP(src=SERVER, dst="203.0.113.2") / UDP(sport=9, dport=5000) / b"back")
    [(_, request)] = _sent(dp, "lan")
    arp = Ether(request)[ARP]
    assert (arp.op, arp.pdst, arp.psrc) == (1, HOST, "192.168.1.1")
    reply = Ether(dst=LAN_MAC, src=HOST_MAC) / ARP(
        op=2, hwsrc=HOST_MAC, psrc=HOST, hwdst=LAN_MAC, pdst="192.168.1.1"
    )
    lan.port.inbox.append((offload.PLAIN, raw(reply)))
    dp.pump("lan", 1.5)
    [(_, released)] = _sent(dp, "lan")
    assert (
        Ether(released).dst == "02:00:00:00:00:aa"
        and bytes(Ether(released)[UDP].payload) == b"back"
    )


def test_engine_sees_the_kernels_addresses_and_a_nat_pool_below_the_kernel_ports():
    base = NatConfig(port_range=(1024, 65535), wan_mtu=1400)
    lan = LinkInfo("lan0", LAN_MAC, 1500, "10.0.0.1", 16, None)
    wan = LinkInfo("wan0", WAN_MAC, 1500, "198.51.100.7", 24, "198.51.100.1")
    config = effective_config(base, lan, wan, (50000, 65535))
    assert config.port_range == (1024, 49999)
    assert (config.lan_address, config.lan_prefix) == ("10.0.0.1", 16)
    assert config.wan_addresses == ("198.51.100.7",)


class FakeFlows:
    def __init__(self):
        self.added, self.removed = [], []

    def add(self, flow, host_mac, hop_mac):
        self.added.append((flow, host_mac, hop_mac))

    def remove(self, ident):
        self.removed.append(ident)

    def __len__(self):
        return len(self.added) - len(self.removed)

    errors = 0


def test_an_offered_flow_goes_to_the_kernel_with_the_host_and_next_hop_macs():
    dp = _datapath(flow_offload=True)
    dp.flows = FakeFlows()
    _handshake(dp)  # the handshake's last ACK makes it established: offered
    [(flow, host_mac, hop_mac)] = dp.flows.added
    assert (host_mac, hop_mac) == (HOST_MAC, GW_MAC)
    assert flow.internal == bytes([192, 168, 1, 10]) + (40000).to_bytes(2, "big")
    assert dp.snapshot_counters()["flows_offloaded"] == 1
    dp.act(dp.engine.configure(dp.engine.config.replace(flow_offload=False), 2.0), 2.0)
    assert dp.flows.removed == [flow.ident]


def test_a_flow_is_declined_while_a_mac_is_unknown_and_offered_again_later():
    dp = _datapath(flow_offload=True)
    dp.flows = FakeFlows()
    dp.sides["lan"].neighbours = Neighbours(LAN_MAC, lambda frame: None)  # forgot the host
    dp.sides["lan"].neighbours.address = bytes([192, 168, 1, 1])
    udp = IP(src=HOST, dst=SERVER) / UDP(sport=5000, dport=53) / b"query"
    _push(dp, "lan", udp)
    assert dp.flows.added == [] and dp.snapshot_counters()["flows_declined"] == 1
    dp.sides["lan"].neighbours.learn(bytes([192, 168, 1, 10]), HOST_MAC, 1.0)
    _push(dp, "lan", udp)
    assert len(dp.flows.added) == 1


def test_flows_are_declined_when_the_links_mtus_differ():
    dp = _datapath(wan_mtu=1400, flow_offload=True)
    dp.flows = FakeFlows()
    _push(dp, "lan", IP(src=HOST, dst=SERVER) / UDP(sport=5000, dport=53) / b"query")
    assert dp.flows.added == [] and dp.snapshot_counters()["flows_declined"] == 1
