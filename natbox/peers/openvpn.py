"""OpenVPN over UDP with real programs: a server on the internet host, clients on LAN
clients, in userspace over TUN. Authentication by certificate fingerprints (OpenVPN 2.6's
peer-fingerprint: self-signed certificates, no CA), so a test needs no PKI."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from natbox.hil.hosts import Host

PORT = 1194
SERVER_TUNNEL = "10.67.0.1"

SERVER_CONF = """server 10.67.0.0 255.255.255.0
topology subnet
proto udp4
local {address}
port {port}
dev tun
dh none
cert {directory}/server.crt
key {directory}/server.key
peer-fingerprint {client_fingerprint}
duplicate-cn
keepalive 2 10
verb 3
"""

CLIENT_CONF = """client
proto udp4
remote {server} {port}
dev tun
nobind
cert {directory}/client.crt
key {directory}/client.key
peer-fingerprint {server_fingerprint}
connect-retry 1
verb 3
"""


def certificate(directory: Path, name: str) -> str:
    """A self-signed certificate and key in ``directory``; returns its SHA-256 fingerprint."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                        "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)  # fmt: skip
    out = subprocess.run(["openssl", "x509", "-fingerprint", "-sha256", "-noout", "-in", str(cert)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return out.strip().split("=", 1)[1]


class Server:
    def __init__(self, host: Host, directory: Path, address: str | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.address = address or host.address
        conf = directory / "server.conf"
        conf.write_text(SERVER_CONF.format(
            address=self.address, port=PORT, directory=directory,
            client_fingerprint=certificate(directory, "client"),
        ))  # fmt: skip
        certificate(directory, "server")
        self.process = host.start(["openvpn", "--config", str(conf)], name="openvpn-server")

    def client_files(self, directory: Path) -> None:
        """The client's certificate and key (both sides' fingerprints are in the configs)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("client.crt", "client.key"):
            (directory / name).write_bytes((self.directory / name).read_bytes())


class Client:
    def __init__(self, host: Host, directory: Path, server: Server):
        server.client_files(directory)
        conf = directory / "client.conf"
        conf.write_text(CLIENT_CONF.format(
            server=server.address, port=PORT, directory=directory,
            server_fingerprint=certificate(server.directory, "server"),
        ))  # fmt: skip
        self.host = host
        self.process = host.start(["openvpn", "--config", str(conf)], name="openvpn-client")

    def connected(self, timeout: float) -> bool:
        """The tunnel came up (OpenVPN says so) within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.running:
            if "Initialization Sequence Completed" in self.process.output():
                return True
            time.sleep(0.2)
        return False

    def ping(self, count: int = 3) -> bool:
        """The server's tunnel address answers, through the tunnel."""
        return self.host.ping(SERVER_TUNNEL, count)
