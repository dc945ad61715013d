"""strongSwan: an IKEv2 responder on the internet host and an initiator on a LAN client, with
NAT-T (UDP 4500) and ESP in userspace (kernel-libipsec over TUN: this works on kernels without
ESP support). Each charon gets its own /run (a tmpfs in its `ip netns exec` mount namespace)
and its own vici socket."""

from __future__ import annotations

from pathlib import Path

from natbox.peers.started import wait_until_ready

SECRET = "example-psk-0123456789abcdef"
BEHIND_SERVER = "10.99.0.1"  # only reachable through the tunnel
PLUGINS = ("random nonce aes sha1 sha2 hmac gmp curve25519 kdf pem pkcs1 x509 pubkey "
           "kernel-libipsec kernel-netlink socket-default vici")  # fmt: skip

STRONGSWAN_CONF = """charon {{
    load = {plugins}
    install_routes = yes
    plugins {{ vici {{ socket = unix://{dir}/vici.sock }} }}
    filelog {{ log {{ path = {dir}/charon.log
                     default = 1 }} }}
}}
"""

SWANCTL_CONF = """connections {{
    tunnel {{
        version = 2
        unique = never
        {addrs}
        proposals = aes128-sha256-x25519
        local {{ auth = psk
                id = {local_id} }}
        remote {{ auth = psk
                 id = {remote_id} }}
        children {{ net {{ local_ts = {local_ts}
                          remote_ts = {remote_ts}
                          esp_proposals = aes128-sha256 }} }}
    }}
}}
secrets {{ ike {{ id-1 = client
                 id-2 = server
                 secret = "{secret}" }} }}
"""


class Charon:
    """One strongSwan daemon on ``host``, configured in ``directory``."""

    def __init__(self, host, directory: Path, **connection: str):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "strongswan.conf").write_text(
            STRONGSWAN_CONF.format(plugins=PLUGINS, dir=directory))  # fmt: skip
        (directory / "swanctl.conf").write_text(SWANCTL_CONF.format(secret=SECRET, **connection))
        self.host, self.uri = host, f"unix://{directory}/vici.sock"
        self.process = host.start(f"mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF="
                                  f"{directory}/strongswan.conf /usr/lib/ipsec/charon",
                                  name=f"charon-{directory.name}")  # fmt: skip
        wait_until_ready(self.process, (directory / "vici.sock").exists, "charon")
        self.swanctl("--load-all", "--file", f"{directory}/swanctl.conf")

    def swanctl(self, *args: str, check: bool = True, timeout: float = 30):
        return self.host.run(["swanctl", *args, "--uri", self.uri], check=check, timeout=timeout)


def responder(internet, directory: Path, client_net: str) -> Charon:
    internet.run(["ip", "addr", "replace", f"{BEHIND_SERVER}/32", "dev", "lo"])
    return Charon(internet, directory, addrs=f"local_addrs = {internet.address}",
                  local_id="server", remote_id="client", local_ts=f"{BEHIND_SERVER}/32",
                  remote_ts=client_net)  # fmt: skip


def initiator(client, directory: Path, server: str) -> Charon:
    return Charon(client, directory, addrs=f"remote_addrs = {server}", local_id="client",
                  remote_id="server", local_ts="dynamic",
                  remote_ts=f"{BEHIND_SERVER}/32")  # fmt: skip


def terminate(charon: Charon) -> None:
    """End the tunnel and any IKE_SA still being retransmitted, so the next try starts clean
    (a timed-out try's IKE_SA_INIT that gets through later makes the next a duplicate)."""
    charon.swanctl("--terminate", "--ike", "tunnel", "--force", check=False)


def connect(charon: Charon, seconds: int):
    """Bring the tunnel up; the CompletedProcess says whether it came up."""
    return charon.swanctl("--initiate", "--child", "net", "--timeout", str(seconds),
                          check=False, timeout=seconds + 30)  # fmt: skip
