"""A small SSTP server (MS-SSTP) for the matrix: TLS on TCP 443, the HTTP SSTP_DUPLEX_POST
handshake, SSTP's control messages (Call Connect Request -> Ack with a crypto binding request,
Call Connected, Echo, Disconnect) and its data packets, which carry PPP frames whole. The PPP
inside is natbox.peers.pppstub's LCP: it opens and echoes, as pppd would start to. Each
connection's progress goes to ``<status-dir>/sstp-<n>.json``.

Run: ``python -m natbox.peers.sstp_server --address A --cert C --key K --status-dir D``."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import ssl
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from natbox.peers.pppstub import INTERVAL, Lcp, write_status

PORT = 443
VERSION = 0x10
CONTROL = 0x01
DUPLEX_POST = b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"
HTTP_OK = (b"HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\n"
           b"Server: Microsoft-HTTPAPI/2.0\r\n\r\n")  # fmt: skip
CALL_CONNECT_REQUEST, CALL_CONNECT_ACK, CALL_CONNECTED = 1, 2, 4
CALL_ABORT, CALL_DISCONNECT, CALL_DISCONNECT_ACK, ECHO_REQUEST, ECHO_RESPONSE = 5, 6, 7, 8, 9
MESSAGE_NAMES = {1: "call-connect-request", 2: "call-connect-ack", 3: "call-connect-nak",
                 4: "call-connected", 5: "call-abort", 6: "call-disconnect",
                 7: "call-disconnect-ack", 8: "echo-request", 9: "echo-response"}  # fmt: skip
CRYPTO_BINDING_REQ = 4
HASH_SHA1_SHA256 = 0x03
MAX_HEADER = 8192


def packet(control: bool, body: bytes) -> bytes:
    """An SSTP packet: version, the control bit, a 12-bit length that counts the header."""
    return struct.pack("!BBH", VERSION, CONTROL if control else 0, 4 + len(body)) + body


def control(message: int, attributes: list[tuple[int, bytes]] = ()) -> bytes:
    body = struct.pack("!HH", message, len(attributes))
    for attribute, value in attributes:
        body += struct.pack("!BBH", 0, attribute, 4 + len(value)) + value
    return packet(True, body)


def ppp_data(protocol: int, payload: bytes) -> bytes:
    """A PPP frame in an SSTP data packet: address and control, protocol, payload; no FCS
    and no escaping (TLS keeps it whole)."""
    return packet(False, struct.pack("!BBH", 0xFF, 0x03, protocol) + payload)


def split(buffer: bytearray) -> list[tuple[bool, bytes]]:
    """Whole packets (control?, body) taken off the front of ``buffer``."""
    packets = []
    while len(buffer) >= 4:
        length = struct.unpack("!H", buffer[2:4])[0] & 0x0FFF
        if length < 4:
            raise ValueError(f"SSTP length {length}")
        if len(buffer) < length:
            break
        packets.append((bool(buffer[1] & CONTROL), bytes(buffer[4:length])))
        del buffer[:length]
    return packets


class Connection:
    def __init__(self, tls: ssl.SSLSocket, peer: tuple[str, int], status: Path, sni: str | None):
        self.tls, self.status = tls, status
        self.seen: dict = {"client": f"{peer[0]}:{peer[1]}", "sni": sni, "http": False,
                           "messages": Counter()}  # fmt: skip
        self.lcp = Lcp(int.from_bytes(os.urandom(4), "big") | 1, encode=ppp_data)
        self.lcp_started = False

    def serve(self) -> None:
        try:
            if not self._handshake():
                return
            self._carry()
        except (OSError, ValueError) as error:
            self.seen["ended"] = str(error)
        finally:
            self._report()
            with contextlib.suppress(OSError):
                self.tls.close()

    def _handshake(self) -> bool:
        request = b""
        while b"\r\n\r\n" not in request:
            data = self.tls.recv(4096)
            if not data or len(request) > MAX_HEADER:
                return False
            request += data
        if not request.startswith(DUPLEX_POST):
            self.tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return False
        self.seen["http"] = True
        self.tls.sendall(HTTP_OK)
        self.buffer = bytearray(request.split(b"\r\n\r\n", 1)[1])
        return True

    def _carry(self) -> None:
        self.tls.settimeout(INTERVAL)
        next_tick = 0.0
        while True:
            now = time.monotonic()
            if self.lcp_started and now >= next_tick:
                for out in self.lcp.tick():
                    self.tls.sendall(out)
                next_tick = now + INTERVAL
                self._report()
            try:
                data = self.tls.recv(16384)
            except TimeoutError:
                continue
            if not data:
                self.seen["ended"] = "the client closed the connection"
                return
            self.buffer += data
            for is_control, body in split(self.buffer):
                if is_control and not self._control(body):
                    return
                if not is_control:
                    self._data(body)

    def _control(self, body: bytes) -> bool:
        message = struct.unpack("!H", body[:2])[0] if len(body) >= 4 else -1
        self.seen["messages"][MESSAGE_NAMES.get(message, str(message))] += 1
        if message == CALL_CONNECT_REQUEST:
            nonce = os.urandom(32)
            value = b"\x00\x00\x00" + bytes([HASH_SHA1_SHA256]) + nonce
            self.tls.sendall(control(CALL_CONNECT_ACK, [(CRYPTO_BINDING_REQ, value)]))
            self.lcp_started = True
        elif message == ECHO_REQUEST:
            self.tls.sendall(control(ECHO_RESPONSE))
        elif message == CALL_DISCONNECT:
            self.tls.sendall(control(CALL_DISCONNECT_ACK))
            self.seen["ended"] = "the client disconnected"
            return False
        elif message == CALL_ABORT:
            self.seen["ended"] = "the client aborted"
            return False
        return True

    def _data(self, body: bytes) -> None:
        if body[:2] == b"\xff\x03":
            body = body[2:]
        if len(body) < 2:
            return
        protocol = struct.unpack("!H", body[:2])[0]
        for out in self.lcp.receive(protocol, body[2:]):
            self.tls.sendall(out)

    def _report(self) -> None:
        write_status(str(self.status), {**self.seen, "lcp": self.lcp.report(0)})


def serve(address: str, port: int, cert: str, key: str, status_dir: Path) -> None:
    listener = socket.create_server((address, port))
    print(f"sstp server on {address}:{port}", flush=True)
    count = 0
    while True:
        raw, peer = listener.accept()
        count += 1
        status = status_dir / f"sstp-{count}.json"
        threading.Thread(target=serve_connection, args=(cert, key, raw, peer, status),
                         daemon=True).start()  # fmt: skip


def serve_connection(cert: str, key: str, raw: socket.socket, peer, status: Path) -> None:
    """One client: TLS, the handshake, then SSTP until either side ends it."""
    # A context per connection: its SNI callback tells this connection's server name.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    asked: dict[str, str | None] = {"sni": None}
    context.sni_callback = lambda _tls, name, _context: asked.update(sni=name)
    try:
        raw.settimeout(10)
        tls = context.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError) as error:
        write_status(str(status), {"client": f"{peer[0]}:{peer[1]}", "tls": str(error)})
        raw.close()
        return
    Connection(tls, peer, status, asked["sni"]).serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--status-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.status_dir.mkdir(parents=True, exist_ok=True)
    serve(args.address, args.port, args.cert, args.key, args.status_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
