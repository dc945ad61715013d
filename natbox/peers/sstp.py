"""SSTP with real programs: sstpc (sstp-client, with --tls-ext so its ClientHello names the
server) on LAN clients, natbox.peers.sstp_server on the internet host. PPP inside is
natbox.peers.pppstub on the client (in pppd's place, as pppd's ``pty`` option would run
sstpc) and the server's own LCP: this host kernel has no PPP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from natbox.hil.hosts import Background, Host
from natbox.peers import pppstub
from natbox.peers.sstp_server import PORT
from natbox.peers.started import sockets, wait_until_ready

NAME = "sstp.natbox.test"  # the server's TLS name: what a router's SSTP list would hold


class Server:
    def __init__(self, host: Host, directory: Path, address: str | None = None, name: str = NAME):
        directory.mkdir(parents=True, exist_ok=True)
        self.host, self.directory, self.name = host, directory, name
        self.address = address or host.address
        self.cert, key = directory / "server.crt", directory / "server.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                        "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                        "-keyout", str(key), "-out", str(self.cert)],
                       check=True, capture_output=True)  # fmt: skip
        self.process: Background = host.start(
            [sys.executable, "-m", "natbox.peers.sstp_server", "--address", self.address,
             "--cert", str(self.cert), "--key", str(key), "--status-dir", str(directory)],
            name="sstp-server",
        )  # fmt: skip
        wait_until_ready(self.process, lambda: sockets(host, "tcp", PORT) > 0, "sstp server")

    def connections(self) -> list[dict]:
        """What the server saw of each connection (TLS name, SSTP messages, LCP)."""
        return pppstub.statuses(sorted(self.directory.glob("sstp-*.json")))


class Client:
    def __init__(self, host: Host, directory: Path, server: Server):
        directory.mkdir(parents=True, exist_ok=True)
        self.status = directory / f"{host.name}-lcp.json"
        hosts = directory / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n{server.address} {server.name}\n")
        # Its own /etc/hosts (the server's name) and /run (sstpc's socket), in the client's
        # private mount namespace. PPP waits for the server's first frame (--passive), as
        # pppd's "passive" would: nothing reaches sstpc before its tunnel is up.
        command = (
            f"mount --bind {hosts} /etc/hosts && mount -t tmpfs tmpfs /run && "
            f"exec {sys.executable} -m natbox.peers.pppstub --status {self.status} --passive "
            f"--spawn sstpc --nolaunchpppd --tls-ext --ca-cert {server.cert} --log-stderr "
            f"--log-level 3 --user natbox --password natbox {server.name}"
        )
        self.host, self.command = host, command
        self.attempts = 0
        self.process: Background = self._start()

    def _start(self) -> Background:
        self.attempts += 1
        return self.host.start(self.command, name="sstpc")

    def opened(self, timeout: float) -> dict:
        """LCP's state once it opened and echoes came back, or as it was at ``timeout``.
        sstpc that gives up early is started again within ``timeout``, as a VPN client
        reconnects: 1.0.18 sometimes ends its event loop after "Connected" on a loaded host,
        before its TLS and HTTP handshake is done (a blocked tunnel stays blocked)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = pppstub.wait_until_open(lambda: pppstub.statuses([self.status]),
                                           lambda: self.process.running,
                                           max(0.0, deadline - time.monotonic()))  # fmt: skip
            done = seen.get("opened") and seen.get("received", {}).get("echo-reply")
            if done or self.process.running or time.monotonic() >= deadline - 1:
                return {**seen, "sstpc_starts": self.attempts}
            self.process = self._start()
