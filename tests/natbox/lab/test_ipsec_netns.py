"""A real VPN through the datapath: strongSwan IKEv2 with NAT-T between a LAN client and a
WAN server. ESP runs in userspace (kernel-libipsec over TUN): this kernel has no INET_ESP.
Each charon gets its own /run (a tmpfs in its `ip netns exec` mount namespace) and its own
strongswan.conf with its own vici socket (see shared/reference/real-peers.md).
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from natbox.lab import names as N

pytestmark = pytest.mark.netns

SECRET = "natbox-lab-psk-0123456789"
BEHIND_SERVER = "10.99.0.1"  # an address only reachable through the tunnel
PLUGINS = (
    "random nonce aes sha1 sha2 hmac gmp curve25519 kdf pem pkcs1 x509 pubkey "
    "kernel-libipsec kernel-netlink socket-default vici"
)

STRONGSWAN_CONF = """charon {{
    load = {plugins}
    port = 500
    port_nat_t = 4500
    install_routes = yes
    plugins {{
        vici {{ socket = unix://{dir}/vici.sock }}
    }}
    filelog {{ log {{ path = {dir}/charon.log
                     default = 1 }} }}
}}
"""

SWANCTL_CONF = """connections {{
    lab {{
        version = 2
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
secrets {{ ike-lab {{ id-1 = client1
                     id-2 = server
                     secret = "{secret}" }} }}
"""


def _peer(lab, tmp_path, role: str, ns: str, **conn) -> str:
    directory = tmp_path / role
    directory.mkdir()
    (directory / "strongswan.conf").write_text(
        STRONGSWAN_CONF.format(plugins=PLUGINS, dir=directory)
    )
    (directory / "swanctl.conf").write_text(SWANCTL_CONF.format(secret=SECRET, **conn))
    lab.spawn(
        role,
        ns,
        "sh",
        "-c",
        f"mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF={directory}/strongswan.conf"
        " /usr/lib/ipsec/charon",
    )
    uri = f"unix://{directory}/vici.sock"
    deadline = time.monotonic() + 15
    while not (directory / "vici.sock").exists():
        assert time.monotonic() < deadline, (directory / "charon.log").read_text()
        time.sleep(0.1)
    lab.run(ns, "swanctl", "--load-all", "--uri", uri, "--file", f"{directory}/swanctl.conf")
    return uri


@contextlib.contextmanager
def strongswan_pair(lab, tmp_path):
    """A strongSwan responder in the internet namespace guarding BEHIND_SERVER and an
    initiator in client 1; yields a function that tries to bring the tunnel up."""
    client, inet = lab.names.client(1), lab.names.internet
    server = N.SERVERS[0]
    lab.run(inet, "ip", "addr", "add", f"{BEHIND_SERVER}/32", "dev", "lo")
    try:
        _peer(lab, tmp_path, "charon-server", inet, addrs=f"local_addrs = {server}",
              local_id="server", remote_id="client1", local_ts=f"{BEHIND_SERVER}/32",
              remote_ts=f"{N.LAN_NET}.0/24")  # fmt: skip
        uri = _peer(lab, tmp_path, "charon-client", client, addrs=f"remote_addrs = {server}",
                    local_id="client1", remote_id="server", local_ts="dynamic",
                    remote_ts=f"{BEHIND_SERVER}/32")  # fmt: skip

        def initiate(seconds: int):
            # A timed-out try leaves charon retransmitting its IKE_SA_INIT: once the path
            # opens that one gets through and the next try is refused as a duplicate CHILD_SA.
            # Each try starts clean.
            lab.run(client, "swanctl", "--terminate", "--ike", "lab", "--force", "--uri", uri,
                    check=False)  # fmt: skip
            command = ["swanctl", "--initiate", "--child", "net", "--uri", uri]
            return lab.run(client, *command, "--timeout", str(seconds), check=False,
                           timeout=seconds + 30)  # fmt: skip

        yield initiate, uri
    finally:
        lab.stop("charon-client")
        lab.stop("charon-server")
        lab.run(inet, "ip", "addr", "del", f"{BEHIND_SERVER}/32", "dev", "lo", check=False)


def assert_tunnel_carries_traffic(lab, uri: str) -> None:
    client = lab.names.client(1)
    sas = lab.run(client, "swanctl", "--list-sas", "--uri", uri).stdout
    assert "ESTABLISHED" in sas and "INSTALLED" in sas
    assert "TUNNEL-in-UDP" in sas
    ping = lab.run(client, "ping", "-c", "3", "-i", "0.2", "-W", "2", BEHIND_SERVER, check=False)
    assert ping.returncode == 0, ping.stdout


def test_strongswan_ikev2_nat_t_tunnel_carries_traffic_through_the_datapath(lab, tmp_path):
    with strongswan_pair(lab, tmp_path) as (initiate, uri):
        # Before: IPsec passthrough is off by default, so IKE never gets through.
        assert initiate(3).returncode != 0
        assert lab.ctl("counters")["engine"].get("ipsec_disabled", 0) > 0
        lab.switch_helper("ipsec", True)
        # After: switched on, the same client brings the tunnel up.
        up = initiate(20)
        assert up.returncode == 0, up.stdout + up.stderr
        assert_tunnel_carries_traffic(lab, uri)
        # The tunnel rode on a NAT mapping of the client's IKE/NAT-T port to the server.
        mappings = json.dumps(lab.ctl("mappings")["mappings"])
        assert "4500" in mappings and N.client_address(1) in mappings
