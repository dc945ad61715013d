"""The "internet" side's test services, one process, on every server address:

- UDP 3478 "whoami": answers the sender's address as seen here ("ip:port"); "other-port"
  answers from port 3479 and "other-addr" from the other server address, which is how a
  NAT's filtering behaviour is observed from the WAN side (RFC 4787 / RFC 5780);
- TCP 7 echo and TCP 8 whoami.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import threading

WHOAMI_PORT = 3478
ALT_PORT = 3479
TCP_ECHO = 7
TCP_WHOAMI = 8


def _udp(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    return sock


def _tcp_client(conn: socket.socket, peer, echo: bool) -> None:
    with conn:
        if not echo:
            conn.sendall(f"{peer[0]}:{peer[1]}".encode())
            return
        while data := conn.recv(65536):
            conn.sendall(data)


def serve(addresses: list[str]) -> None:
    selector = selectors.DefaultSelector()
    udp = {(a, p): _udp(a, p) for a in addresses for p in (WHOAMI_PORT, ALT_PORT)}
    for (address, port), sock in udp.items():
        if port == WHOAMI_PORT:
            selector.register(sock, selectors.EVENT_READ, ("udp", address))
    for address in addresses:
        for port in (TCP_ECHO, TCP_WHOAMI):
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(64)
            selector.register(listener, selectors.EVENT_READ, ("tcp", port == TCP_ECHO))
    while True:
        for key, _ in selector.select():
            kind, detail = key.data
            if kind == "tcp":
                conn, peer = key.fileobj.accept()
                threading.Thread(target=_tcp_client, args=(conn, peer, detail), daemon=True).start()
                continue
            data, peer = key.fileobj.recvfrom(2048)
            answer = f"{peer[0]}:{peer[1]}".encode()
            if data == b"other-port":
                udp[(detail, ALT_PORT)].sendto(answer, peer)
            elif data == b"other-addr":
                other = next(a for a in addresses if a != detail)
                udp[(other, WHOAMI_PORT)].sendto(answer, peer)
            else:
                key.fileobj.sendto(answer, peer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("addresses", nargs="+")
    serve(parser.parse_args().addresses)


if __name__ == "__main__":
    main()
