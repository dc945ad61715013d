"""Frames in, engine, frames out: the per-packet glue between two ports and the engine."""

from __future__ import annotations

import ipaddress
from collections import Counter, deque
from dataclasses import dataclass, field

from nat import LAN, WAN, ipv4
from nat.actions import Drop, Flow, Log, Offload, Transmit, Withdraw
from nat.api import NatEngine
from nat.mtu import FragmentationNeeded, fit_to_mtu
from router.driver import offload
from router.driver.afpacket import Port
from router.driver.flows import FlowTable
from router.driver.neighbours import Neighbours

ETH_IPV4 = b"\x08\x00"
ETH_ARP = b"\x08\x06"


@dataclass
class Side:
    """One interface as the datapath uses it."""

    name: str
    port: Port
    mac: bytes
    mtu: int
    neighbours: Neighbours
    arp_port: Port | None = None  # ARP frames, when ``port`` takes IPv4 only
    network: ipaddress.IPv4Network | None = None
    address: bytes | None = None
    gateway: bytes | None = None
    _net: int = field(default=0, init=False)
    _mask: int = field(default=0xFFFFFFFF, init=False)

    def set_addressing(self, network, address: str | None, gateway: str | None) -> None:
        self.network = network
        self.address = ipv4.addr(address) if address else None
        self.neighbours.address = self.address or b"\0\0\0\0"
        self.gateway = ipv4.addr(gateway) if gateway else None
        if network is not None:
            self._net = int(network.network_address)
            self._mask = int(network.netmask)

    def next_hop(self, dst: bytes) -> bytes | None:
        if self.network is not None and int.from_bytes(dst, "big") & self._mask == self._net:
            return dst
        return self.gateway


class Datapath:
    def __init__(self, engine: NatEngine, lan: Side, wan: Side, batch: int = 64):
        self.engine = engine
        self.sides = {LAN: lan, WAN: wan}
        self.batch = batch
        self.counters: Counter[str] = Counter()
        self.events: deque[dict] = deque(maxlen=512)  # recent engine logs, for the UI
        self.enabled = True  # off while the WAN has no address yet
        self.flows: FlowTable | None = None  # flow offloading on: the kernel's flow table
        self.sources: Counter[bytes] | None = None  # frames per source, while the guard asks

    # -- receive ------------------------------------------------------------------------------

    def pump(self, side_name: str, now: float) -> int:
        """Handle the frames waiting on one side; returns how many there were."""
        side = self.sides[side_name]
        if not self.sides[WAN if side_name == LAN else LAN].port.tx_ready():
            self.counters["tx_backpressure"] += 1  # the frames wait (or are shed) in the ring
            return 0
        receive = self.engine.receive
        sources = self.sources
        handled = 0
        for hdr, frame in side.port.receive(self.batch):
            handled += 1
            ethertype = frame[12:14]
            if ethertype == ETH_IPV4:
                if sources is not None:
                    sources[bytes(frame[26:30])] += 1
                if not self.enabled:
                    self.counters["wan_down"] += 1
                    continue
                data = bytes(frame[14:])
                actions = receive(side_name, data, now)
                if len(actions) == 1 and type(actions[0]) is Transmit:
                    out = actions[0]
                    self._send(out.side, out.data, hdr, data, side_name, now)
                else:
                    self._actions(actions, hdr, data, side_name, now)
            elif ethertype == ETH_ARP:
                self._arp(side, frame, now)
        self.flush()
        return handled

    def pump_arp(self, side_name: str, now: float) -> int:
        """Handle the ARP frames waiting on one side's ARP port."""
        side = self.sides[side_name]
        handled = 0
        for _, frame in side.arp_port.receive(self.batch):
            handled += 1
            if frame[12:14] == ETH_ARP:
                self._arp(side, frame, now)
        self.flush()
        return handled

    def flush(self) -> None:
        """Send what the ports queued (a transmit ring sends a batch with one call)."""
        for side in self.sides.values():
            side.port.flush()

    def _arp(self, side: Side, frame, now: float) -> None:
        for mac, (txhdr, packet) in side.neighbours.on_arp(frame, now):
            side.port.send(txhdr, mac + side.mac + ETH_IPV4, packet)

    def act(self, actions: list, now: float) -> None:
        """Carry out what the engine returned outside a packet (timers, a reconfiguration):
        every packet it built is complete, so no offload header travels with it."""
        self._actions(actions, offload.PLAIN, b"", WAN, now)
        self.flush()

    def _actions(self, actions: list, hdr: bytes, data: bytes, side_name: str, now: float) -> None:
        for action in actions:
            kind = type(action)
            if kind is Transmit:
                self._send(action.side, action.data, hdr, data, side_name, now)
            elif kind is Log:
                self.log(action, now)
            elif kind is Drop:  # the engine counts why; here: how much each side lost
                self.counters[f"{action.side}_dropped"] += 1
            elif kind is Offload:
                self._offload(action.flow, now)
            elif kind is Withdraw and self.flows is not None:
                self.flows.remove(action.ident)
                self.counters["flows_withdrawn"] += 1

    def _offload(self, flow: Flow, now: float) -> None:
        """Give an offered flow to the kernel, with the MACs its packets will need; decline
        it while a MAC is unknown (its next packet offers it again), or when the two links'
        MTUs differ (the kernel would not fragment or send ICMP 3/4 as the driver does)."""
        lan, wan = self.sides[LAN], self.sides[WAN]
        host_mac = lan.neighbours.lookup(flow.internal[:4], now)
        hop = wan.next_hop(flow.remote[:4])
        hop_mac = wan.neighbours.lookup(hop, now) if hop is not None else None
        if self.flows is None or lan.mtu != wan.mtu or host_mac is None or hop_mac is None:
            self.engine.offload_declined(flow.ident)
            self.counters["flows_declined"] += 1
            return
        self.flows.add(flow, host_mac, hop_mac)
        self.counters["flows_offloaded"] += 1

    def log(self, action: Log, now: float) -> None:
        self.events.append({"time": now, "event": action.event, **action.fields})

    # -- transmit -----------------------------------------------------------------------------

    def _send(self, out_name: str, packet, hdr: bytes, original: bytes, in_name: str, now: float):
        side = self.sides[out_name]
        txhdr = offload.PLAIN
        # A partial checksum travels with the packet only if this is that packet translated
        # (same length and protocol); packets the engine built itself are complete.
        if (
            hdr[0] & offload.NEEDS_CSUM
            and len(packet) == len(original)
            and packet[9] == original[9]
        ):
            if type(packet) is not bytearray:
                packet = bytearray(packet)
            offload.refill_partial(packet, hdr)
            txhdr = offload.for_transmit(hdr, packet, side.mtu)
        if len(packet) > side.mtu and not txhdr[1]:
            if txhdr[0]:
                offload.complete_checksum(packet, txhdr)
            self._too_big(side, packet, original, in_name, now)
            return
        self._route(side, txhdr, packet, now)

    def _too_big(self, side: Side, packet, original: bytes, in_name: str, now: float) -> None:
        """The egress MTU is smaller than the packet (the one MTU check: the engine makes
        none, GSO super-frames legitimately exceed it): RFC 4787 REQ-13's ICMP 3/4 when DF
        is set, else fragments."""
        ingress = self.sides[in_name]
        # Whom ICMP 3/4 comes from; nobody to tell about a packet the engine built itself.
        source = ingress.address if in_name == LAN else original[16:20]
        if not original:
            source = None
        verdict = fit_to_mtu(packet, original, side.mtu, source)
        if type(verdict) is FragmentationNeeded:
            self.counters["frag_needed"] += 1
            if verdict.error is not None:
                self._route(ingress, offload.PLAIN, verdict.error, now)
            return
        self.counters["fragmented"] += 1
        for piece in verdict.pieces:
            self._route(side, offload.PLAIN, piece, now)

    def _route(self, side: Side, txhdr: bytes, packet, now: float) -> None:
        hop = side.next_hop(bytes(packet[16:20]))
        if hop is None:
            self.counters["no_route"] += 1
            return
        mac = side.neighbours.lookup(hop, now)
        if mac is None:
            side.neighbours.hold(hop, (txhdr, packet), now)
            return
        side.port.send(txhdr, mac + side.mac + ETH_IPV4, packet)

    # -- views --------------------------------------------------------------------------------

    def snapshot_counters(self) -> dict:
        out = dict(self.counters)
        for name, side in self.sides.items():
            out[f"{name}_rx_frames"] = side.port.rx_frames
            out[f"{name}_tx_frames"] = side.port.tx_frames
            out[f"{name}_tx_errors"] = side.port.tx_errors
            out[f"{name}_rx_errors"] = side.port.rx_errors
            out[f"{name}_kernel_drops"] = side.port.kernel_drops
            out[f"{name}_arp_requests"] = side.neighbours.requests_sent
            out[f"{name}_unresolved_drops"] = side.neighbours.unresolved_drops
        if self.flows is not None:
            out["flows_in_kernel"] = len(self.flows)
            out["flow_table_errors"] = self.flows.errors
        return out
