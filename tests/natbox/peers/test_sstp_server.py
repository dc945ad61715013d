"""natbox's SSTP server's framing (MS-SSTP), and a client and the server over a socket pair
in TLS: handshake, Call Connect, PPP frames whole inside data packets, LCP opening."""

import os
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from natbox.peers import pppstub
from natbox.peers import sstp_server as S


def test_packets_carry_their_length_and_the_control_bit_and_split_back():
    ack = S.control(S.CALL_CONNECT_ACK, [(S.CRYPTO_BINDING_REQ, b"\0" * 36)])
    assert ack[:2] == b"\x10\x01" and struct.unpack("!H", ack[2:4])[0] == len(ack) == 48
    data = S.ppp_data(pppstub.LCP, b"\x09\x01\x00\x04")
    assert data[:2] == b"\x10\x00" and data[4:8] == b"\xff\x03\xc0\x21"
    buffer = bytearray(ack + data + data[:3])  # the last one not all there yet
    assert S.split(buffer) == [(True, ack[4:]), (False, data[4:])] and buffer == data[:3]


def test_a_length_shorter_than_the_header_is_refused():
    with pytest.raises(ValueError):
        S.split(bytearray(b"\x10\x00\x00\x02"))


def _sstp_client(tls: ssl.SSLSocket) -> dict:
    """Just enough of a client: the HTTP handshake, Call Connect, then LCP with the server."""
    tls.sendall(S.DUPLEX_POST + b" HTTP/1.1\r\nHost: sstp.test\r\nContent-Length: 0\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += tls.recv(4096)
    tls.sendall(S.control(S.CALL_CONNECT_REQUEST, [(1, b"\x00\x01")]))
    link = pppstub.Lcp(0x1234, encode=S.ppp_data)
    buffer, kinds = bytearray(reply.split(b"\r\n\r\n", 1)[1]), []
    tls.settimeout(0.2)
    deadline = time.monotonic() + 10
    while not (link.opened and link.received["echo-reply"]) and time.monotonic() < deadline:
        for out in link.tick():
            tls.sendall(out)
        try:
            buffer += tls.recv(4096)
        except TimeoutError:
            continue
        for is_control, body in S.split(buffer):
            if is_control:
                kinds.append(struct.unpack("!H", body[:2])[0])
            else:
                for out in link.receive(struct.unpack("!H", body[2:4])[0], body[4:]):
                    tls.sendall(out)
    return {"status": reply.split(b"\r\n")[0], "control": kinds, "lcp": link.report(0)}


def test_the_server_answers_the_handshake_and_opens_lcp_inside(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=sstp.test",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    ours, theirs = socket.socketpair()
    status = tmp_path / "sstp-1.json"
    peer = ("192.0.2.9", 4000)
    arguments = (str(cert), str(key), theirs, peer, status)
    server = threading.Thread(target=S.serve_connection, args=arguments, daemon=True)
    server.start()
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with context.wrap_socket(ours, server_hostname="sstp.test") as tls:
        seen = _sstp_client(tls)
        tls.sendall(S.control(S.CALL_DISCONNECT))
        time.sleep(0.3)
    server.join(5)
    assert seen["status"] == b"HTTP/1.1 200" and seen["control"][0] == S.CALL_CONNECT_ACK
    assert seen["lcp"]["opened"] and seen["lcp"]["received"]["echo-reply"]
    report = pppstub.statuses([status])[0]
    assert report["sni"] == "sstp.test" and report["http"] and report["lcp"]["opened"]
    assert report["ended"] == "the client disconnected" and os.path.exists(status)
