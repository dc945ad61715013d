"""AF_PACKET sockets bound to one interface, with virtio-net headers and a kernel filter.

They are bound to IPv4 (and a second one to ARP), not to every protocol: such a socket sees a
frame after the interface's nftables ingress hook, where offloaded flows are forwarded
(router.driver.flows) and never reach us; the shield that keeps the kernel away from NAT
traffic therefore sits at IP prerouting, after our copy was taken (router.driver.shield)."""

from __future__ import annotations

import socket
import struct

from router.driver import offload

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
BUFFER_BYTES = 32 << 20  # a few hundred 64 KB super-frames: bursts must not be dropped
MAX_FRAME = 65536 + 14 + offload.VNET_LEN + 64

# Classic BPF: keep ARP (any destination) and IPv4 addressed to this host's MAC; the kernel
# drops the rest before it is ever copied to us.
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4
_FILTER = [
    (0x28, 0, 0, 12),  # ldh [12]                 ethertype
    (0x15, 3, 0, 0x0806),  # jeq ARP -> accept
    (0x15, 0, 3, 0x0800),  # jeq IPv4 ? next : drop
    (0x20, 0, 0, _SKF_AD_PKTTYPE),  # ld pkttype
    (0x15, 0, 1, 0),  # jeq PACKET_HOST ? accept : drop
    (0x06, 0, 0, 0x40000),  # ret accept
    (0x06, 0, 0, 0),  # ret drop
]


def _attach_filter(sock: socket.socket) -> None:
    import ctypes

    program = b"".join(struct.pack("HBBI", *insn) for insn in _FILTER)
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(_FILTER), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def open_socket(ifname: str, vnet: bool = True, protocol: int = ETH_P_IP) -> socket.socket:
    """A non-blocking packet socket on ``ifname`` for one ethertype that never sees its own
    transmissions."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(protocol))
    try:
        if vnet:
            sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER_BYTES)
        sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, BUFFER_BYTES)
        _attach_filter(sock)
        sock.bind((ifname, protocol))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def arp_port(ifname: str) -> Port:
    """The interface's ARP frames (no offload header: ARP has none)."""
    return Port(ifname, vnet=False, protocol=ETH_P_ARP)


class Port:
    """One interface: receive frames in batches into a reused buffer, send with sendmsg."""

    def __init__(self, ifname: str, vnet: bool = True, protocol: int = ETH_P_IP):
        self.ifname = ifname
        self.vnet = vnet
        self.sock = open_socket(ifname, vnet, protocol)
        self.head = offload.VNET_LEN if vnet else 0
        self._buffer = bytearray(MAX_FRAME)
        self._view = memoryview(self._buffer)
        self.rx_frames = 0
        self.tx_frames = 0
        self.tx_errors = 0
        self.rx_errors = 0
        self._kernel_drops = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def kernel_drops(self) -> int:
        """Frames the kernel dropped because our queue or ring was full: under overload,
        load is shed there, before a frame costs Python anything (the kernel resets its
        count on every read, so it is added up here)."""
        try:
            _, drops = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            drops = 0
        self._kernel_drops += drops
        return self._kernel_drops

    def receive(self, limit: int):
        """Yield (vnet header, ethernet frame) for up to ``limit`` waiting frames.

        The frame is a view into a reused buffer: valid until the next frame is read.
        """
        recv_into = self.sock.recv_into
        buffer, view, head = self._buffer, self._view, self.head
        for _ in range(limit):
            try:
                n = recv_into(buffer)
            except BlockingIOError:
                return
            except OSError:  # EINVAL: a GSO type a virtio-net header cannot describe
                self.rx_errors += 1
                continue
            self.rx_frames += 1
            yield (bytes(view[:head]) if head else offload.PLAIN), view[head:n]

    def send(self, hdr: bytes, ethernet: bytes, packet: bytes | bytearray) -> None:
        parts = [hdr, ethernet, packet] if self.vnet else [ethernet, packet]
        try:
            self.sock.sendmsg(parts)
            self.tx_frames += 1
        except (BlockingIOError, OSError):
            # A full queue or a frame the device refuses: a router drops and goes on.
            self.tx_errors += 1

    def flush(self) -> None:
        """Frames are sent as they come (see RingPort for the batched way)."""

    def tx_ready(self) -> bool:
        """Whether a frame sent now has room (sendmsg() reports a full queue by itself)."""
        return True

    def close(self) -> None:
        self.sock.close()


PACKET_RX_RING = 5
PACKET_TX_RING = 13
PACKET_LOSS = 14
TP_STATUS_AVAILABLE = 0
TP_STATUS_SEND_REQUEST = 1
TX_DATA = 32  # where a TPACKET_V2 transmit frame's data starts (the aligned header)
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1
# One slot holds a 64 KB super-frame with its headers (17 pages); a 1 MB block holds 15 of
# them (the kernel allocates blocks in powers of two pages: 128 KB slots would waste half).
RING_FRAME = 17 << 12
RING_BLOCK = 1 << 20
PER_BLOCK = RING_BLOCK // RING_FRAME
RX_BLOCKS = TX_BLOCKS = 18  # 270 slots each way
_TPACKET2 = struct.Struct("IIIHH")  # status, len, snaplen, mac offset, net offset


def _slots(base: int, blocks: int) -> list[int]:
    """Where each slot of a ring starts in the mapping (slots never straddle blocks)."""
    return [base + b * RING_BLOCK + f * RING_FRAME for b in range(blocks) for f in range(PER_BLOCK)]


class RingPort(Port):
    """Receive and transmit through PACKET_MMAP (TPACKET_V2) rings: the kernel writes frames
    into shared memory and a wake-up drains all of them without one recv() per frame; frames
    to send are written into the transmit ring and go out with one send() per batch
    (:meth:`flush`), not one sendmsg() each."""

    def __init__(self, ifname: str, vnet: bool = True):
        import mmap

        super().__init__(ifname, vnet)
        sock = self.sock
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        sock.setsockopt(SOL_PACKET, PACKET_LOSS, 1)  # a frame the kernel refuses is skipped
        for option, blocks in ((PACKET_RX_RING, RX_BLOCKS), (PACKET_TX_RING, TX_BLOCKS)):
            request = struct.pack("IIII", RING_BLOCK, blocks, RING_FRAME, blocks * PER_BLOCK)
            sock.setsockopt(SOL_PACKET, option, request)
        self._ring = mmap.mmap(sock.fileno(), RING_BLOCK * (RX_BLOCKS + TX_BLOCKS))
        self._ring_view = memoryview(self._ring)
        self._rx_offsets = _slots(0, RX_BLOCKS)
        self._tx_offsets = _slots(RING_BLOCK * RX_BLOCKS, TX_BLOCKS)
        self._slot = 0
        self._tx_slot = 0
        self._tx_queued = 0

    def tx_ready(self) -> bool:
        """Whether the next transmit slot is free, after sending what is queued if not: a
        caller that gets False leaves its frames in the receive ring (where the kernel sheds
        what does not fit, before it costs us anything) rather than handle them only to drop
        them at the transmit ring."""
        offset = self._tx_offsets[self._tx_slot]
        if struct.unpack_from("I", self._ring, offset)[0] == TP_STATUS_AVAILABLE:
            return True
        self.flush()
        return struct.unpack_from("I", self._ring, offset)[0] == TP_STATUS_AVAILABLE

    def send(self, hdr: bytes, ethernet: bytes, packet: bytes | bytearray) -> None:
        """Queue one frame in the transmit ring (sent by the next :meth:`flush`); a full
        ring is a full queue: the frame is dropped, as sendmsg() would have."""
        ring = self._ring
        offset = self._tx_offsets[self._tx_slot]
        if struct.unpack_from("I", ring, offset)[0] != TP_STATUS_AVAILABLE:
            self.flush()  # the kernel may still be sending what this slot held
            if struct.unpack_from("I", ring, offset)[0] != TP_STATUS_AVAILABLE:
                self.tx_errors += 1
                return
        head = len(hdr) if self.vnet else 0
        length = head + 14 + len(packet)
        if length > RING_FRAME - TX_DATA:
            self.tx_errors += 1
            return
        start = offset + TX_DATA
        view = self._ring_view
        if head:
            view[start : start + head] = hdr
        view[start + head : start + head + 14] = ethernet
        view[start + head + 14 : start + length] = packet
        struct.pack_into("II", ring, offset + 4, length, length)  # tp_len, tp_snaplen
        struct.pack_into("I", ring, offset, TP_STATUS_SEND_REQUEST)
        self._tx_slot = (self._tx_slot + 1) % len(self._tx_offsets)
        self._tx_queued += 1

    def flush(self) -> None:
        """Send every queued frame with one system call."""
        if not self._tx_queued:
            return
        queued, self._tx_queued = self._tx_queued, 0
        try:
            self.sock.send(b"")
            self.tx_frames += queued
        except OSError:  # e.g. ENOBUFS: the device's queue is full; the frames are lost
            self.tx_errors += queued

    def receive(self, limit: int):
        ring, view, head = self._ring, self._ring_view, self.head
        unpack = _TPACKET2.unpack_from
        offsets = self._rx_offsets
        for _ in range(limit):
            offset = offsets[self._slot]
            status, length, snaplen, mac, _ = unpack(ring, offset)
            if not status & TP_STATUS_USER:
                if not self._resync():
                    return
                continue
            self._slot = (self._slot + 1) % len(offsets)
            start = offset + mac
            try:
                if snaplen == length:  # a truncated frame is dropped, never half-forwarded
                    self.rx_frames += 1
                    hdr = bytes(view[start - head : start]) if head else offload.PLAIN
                    yield hdr, view[start : start + snaplen]
            finally:
                struct.pack_into("I", ring, offset, 0)  # the slot goes back to the kernel

    def _resync(self) -> bool:
        """The kernel moves its head past a slot it then fails to fill (a GSO type the
        virtio-net header cannot describe): find the oldest filled slot and go on there."""
        ring, offsets = self._ring, self._rx_offsets
        for step in range(1, len(offsets)):
            slot = (self._slot + step) % len(offsets)
            if struct.unpack_from("I", ring, offsets[slot])[0] & TP_STATUS_USER:
                self.rx_errors += 1
                self._slot = slot
                return True
        return False

    def close(self) -> None:
        self._ring_view.release()
        self._ring.close()
        super().close()
