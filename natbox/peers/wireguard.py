"""WireGuard with real programs in userspace: wireguard-go makes the interface over TUN (this
host kernel has no WireGuard module), wireguard-tools' `wg` configures it. A server on the
internet host, one peer per LAN client."""

from __future__ import annotations

from pathlib import Path

from natbox.hil.hosts import Host
from natbox.peers.started import wait_until_ready

PORT = 51820
INTERFACE = "wg0"
SERVER_TUNNEL = "10.68.0.1"
# wireguard-go refuses to run on Linux (where a kernel module exists) without this.
ENV = "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 WG_PROCESS_FOREGROUND=1"


def keypair(host: Host) -> tuple[str, str]:
    private = host.run(["wg", "genkey"]).stdout.strip()
    public = host.run(["wg", "pubkey"], input=private + "\n").stdout.strip()
    return private, public


class Peer:
    """One end: wireguard-go running ``wg0`` on ``host`` with ``tunnel_address``."""

    def __init__(self, host: Host, directory: Path, tunnel_address: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.host, self.directory, self.tunnel_address = host, directory, tunnel_address
        self.private, self.public = keypair(host)
        (directory / "private.key").write_text(self.private + "\n")
        # A private /run: wireguard-go's control socket is /var/run/wireguard/wg0.sock.
        self.process = host.start(f"mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard && "
                                  f"exec env {ENV} wireguard-go -f {INTERFACE}",
                                  name="wireguard-go")  # fmt: skip
        wait_until_ready(self.process, self._interface_exists, "wireguard-go")

    def _interface_exists(self) -> bool:
        return self.host.run(["ip", "link", "show", INTERFACE], check=False).returncode == 0

    def wg(self, *args: str) -> str:
        # wg talks to wireguard-go's socket in the same private /run: enter its mount namespace.
        pid = self.process.process.pid
        return self.host.run(["nsenter", "-t", str(pid), "-m", "wg", *args]).stdout

    def configure(self, listen_port: int | None, peers: list[tuple[str, str, str | None]]) -> None:
        """``peers``: (public key, allowed IPs, endpoint or None)."""
        args = ["set", INTERFACE, "private-key", str(self.directory / "private.key")]
        if listen_port:
            args += ["listen-port", str(listen_port)]
        for public, allowed, endpoint in peers:
            args += ["peer", public, "allowed-ips", allowed]
            if endpoint:
                args += ["endpoint", endpoint, "persistent-keepalive", "5"]
        self.wg(*args)
        self.host.run(["ip", "addr", "replace", f"{self.tunnel_address}/24", "dev", INTERFACE])
        self.host.run(["ip", "link", "set", INTERFACE, "up"])

    def handshake_done(self) -> bool:
        lines = self.wg("show", INTERFACE, "latest-handshakes").split("\n")
        return any(line.split()[-1] != "0" for line in lines if line.strip())

    def stop(self) -> None:
        self.process.stop()
        self.host.run(["ip", "link", "del", INTERFACE], check=False)


def tunnel(server_host: Host, clients: list[Host], directory: Path,
           server_address: str | None = None) -> tuple[Peer, list[Peer]]:  # fmt: skip
    """A server and one peer per client, configured for each other."""
    server = Peer(server_host, directory / "server", SERVER_TUNNEL)
    peers = [Peer(host, directory / host.name, f"10.68.0.{10 + n}")
             for n, host in enumerate(clients, 1)]  # fmt: skip
    server.configure(PORT, [(p.public, f"{p.tunnel_address}/32", None) for p in peers])
    endpoint = f"{server_address or server_host.address}:{PORT}"
    for peer in peers:
        peer.configure(None, [(server.public, f"{SERVER_TUNNEL}/32", endpoint)])
    return server, peers


def ping(host: Host, count: int = 3) -> bool:
    """The server's tunnel address answers, through the tunnel."""
    return host.ping(SERVER_TUNNEL, count)
