"""Forward 127.0.0.1:PORT in the root namespace to an address inside a lab namespace.

This is how the host reaches the router's UI without giving the root namespace a lab
address: the listening socket is made here, each outgoing socket inside the namespace
(a socket keeps the namespace it was created in).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()


def socket_in(ns: str) -> socket.socket:
    with _lock:  # setns switches the calling thread only: switch, create, switch back
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            try:
                return socket.socket()
            finally:
                _libc.setns(home, CLONE_NEWNET)
        finally:
            os.close(home)
            os.close(target)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _connect(client: socket.socket, ns: str, host: str, port: int) -> None:
    upstream = socket_in(ns)
    try:
        upstream.connect((host, port))
    except OSError:
        client.close()
        upstream.close()
        return
    threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
    _pipe(upstream, client)


def main(argv: list[str]) -> None:
    listen_port, ns, host, port = int(argv[0]), argv[1], argv[2], int(argv[3])
    listener = socket.create_server(("127.0.0.1", listen_port), reuse_port=False)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_connect, args=(client, ns, host, port), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
