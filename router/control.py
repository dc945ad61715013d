"""The local control socket: one JSON request per line, one JSON answer per line.

Requests: {"cmd": "status" | "counters" | "mappings" | "neighbours" | "events" | "reload"
| "vpn_sessions"}. "reload" re-reads the configuration and applies it to every service; it
answers whether the mapping table was flushed, which services were restarted and which
fields wait for a restart ("restart_required"). "vpn_sessions" is the VPN monitor's snapshot
(active and recent sessions, anomalies), as the web UI shows it. Configuration changes never
come this way: they are edits of the configuration file, then "reload".
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable


class ControlServer:
    def __init__(self, path: str, handler: Callable[[dict], dict]):
        self.path = path
        self.handler = handler
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o600)
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.clients: dict[int, tuple[socket.socket, bytearray]] = {}

    def accept(self) -> socket.socket | None:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return None
        conn.setblocking(False)
        self.clients[conn.fileno()] = (conn, bytearray())
        return conn

    def serve(self, fd: int) -> None:
        """Read what a client sent and answer each complete line."""
        conn, pending = self.clients[fd]
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.drop(fd)
            return
        pending += chunk
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            try:
                answer = self.handler(json.loads(line))
            except Exception as error:  # a bad request must not stop the router
                answer = {"ok": False, "error": repr(error)}
            conn.setblocking(True)
            try:
                conn.sendall(json.dumps(answer, default=str).encode() + b"\n")
            except OSError:
                self.drop(fd)
                return
            conn.setblocking(False)

    def drop(self, fd: int) -> None:
        conn, _ = self.clients.pop(fd)
        conn.close()

    def close(self) -> None:
        for fd in list(self.clients):
            self.drop(fd)
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def request(path: str, cmd: str, timeout: float = 5.0, **fields) -> dict:
    """Ask a running router something (used by the CLI, the lab and the tests)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    return json.loads(data)
