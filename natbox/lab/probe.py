"""One-shot probes run inside a namespace (`ip netns exec NS python -m natbox.lab.probe`);
each prints one JSON document, so tests read results instead of parsing tool output."""

from __future__ import annotations

import argparse
import json
import os
import socket
import time


def udp(bind_port: int, exchanges: list[str], timeout: float) -> list:
    """Send each "host:port:message" from one socket; collect every answer per message."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", bind_port))
    sock.settimeout(timeout)
    results = []
    for exchange in exchanges:
        host, port, message = exchange.split(":", 2)
        sock.sendto(message.encode(), (host, int(port)))
        answers = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                break
            answers.append({"from": f"{peer[0]}:{peer[1]}", "data": data.decode()})
            if message == "whoami":
                break
        results.append({"sent": exchange, "answers": answers})
    return results


def tcp(host: str, port: int, message: str, timeout: float) -> dict:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            local = sock.getsockname()
            if message:
                sock.sendall(message.encode())
                sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return {"ok": True, "data": data.decode(), "local": f"{local[0]}:{local[1]}"}
    except OSError as error:
        return {"ok": False, "error": type(error).__name__}


def tcp_bulk(host: str, port: int, size: int, timeout: float) -> dict:
    """Send ``size`` random bytes to an echo server and check every byte comes back."""
    import hashlib
    import threading

    payload = os.urandom(size)
    received = bytearray()
    with socket.create_connection((host, port), timeout=timeout) as sock:

        def reader() -> None:
            while chunk := sock.recv(1 << 20):
                received.extend(chunk)

        thread = threading.Thread(target=reader)
        thread.start()
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        thread.join(timeout)
    same = hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    return {"sent": size, "received": len(received), "intact": same}


def listen(proto: str, port: int, timeout: float) -> dict:
    """Wait for one TCP connection or UDP datagram; report who it came from."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.settimeout(timeout)
        print(json.dumps({"listening": True}), flush=True)
        try:
            if proto == "tcp":
                sock.listen(1)
                conn, peer = sock.accept()
                with conn:
                    conn.settimeout(timeout)
                    data = conn.recv(2048)
                    conn.sendall(b"hello from " + socket.gethostname().encode())
            else:
                data, peer = sock.recvfrom(2048)
                sock.sendto(b"pong", peer)
        except TimeoutError:
            return {"received": False}
    return {"received": True, "from": f"{peer[0]}:{peer[1]}", "data": data.decode()}


def flood(host: str, port: int, seconds: float, size: int, ports: int, rate: int) -> dict:
    """Send UDP datagrams of ``size`` bytes for ``seconds``, to ``ports`` destination ports
    from ``port`` up (more than one: each is a new flow): ``rate`` packets/s, or as fast as
    one process can (0)."""
    payload = bytes(size)
    sent = errors = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        started = time.monotonic()
        deadline = started + seconds
        while (now := time.monotonic()) < deadline:
            if rate and sent > rate * (now - started):
                time.sleep(0.001)  # ahead of the rate: wait a little
                continue
            for offset in range(ports):
                try:
                    sock.sendto(payload, (host, port + offset))
                    sent += 1
                except OSError:  # a full queue, an ICMP error reported back: go on
                    errors += 1
    return {"sent": sent, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    u = sub.add_parser("udp")
    u.add_argument("--bind-port", type=int, default=0)
    u.add_argument("--timeout", type=float, default=1.0)
    u.add_argument("exchanges", nargs="+", help="host:port:message")
    t = sub.add_parser("tcp")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("--message", default="")
    t.add_argument("--timeout", type=float, default=3.0)
    b = sub.add_parser("tcp-bulk")
    b.add_argument("host")
    b.add_argument("port", type=int)
    b.add_argument("size", type=int)
    b.add_argument("--timeout", type=float, default=20.0)
    li = sub.add_parser("listen")
    li.add_argument("proto", choices=("tcp", "udp"))
    li.add_argument("port", type=int)
    li.add_argument("--timeout", type=float, default=5.0)
    r = sub.add_parser("resolve")
    r.add_argument("name")
    f = sub.add_parser("flood")
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("--seconds", type=float, default=5.0)
    f.add_argument("--size", type=int, default=64)
    f.add_argument("--ports", type=int, default=1)
    f.add_argument("--rate", type=int, default=0, help="packets/s (0: as fast as it can)")
    args = parser.parse_args()
    if args.kind == "udp":
        result = udp(args.bind_port, args.exchanges, args.timeout)
    elif args.kind == "tcp":
        result = tcp(args.host, args.port, args.message, args.timeout)
    elif args.kind == "tcp-bulk":
        result = tcp_bulk(args.host, args.port, args.size, args.timeout)
    elif args.kind == "listen":
        result = listen(args.proto, args.port, args.timeout)
    elif args.kind == "flood":
        result = flood(args.host, args.port, args.seconds, args.size, args.ports, args.rate)
    else:
        try:
            result = {"address": socket.gethostbyname(args.name)}
        except OSError as error:
            result = {"error": str(error)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
