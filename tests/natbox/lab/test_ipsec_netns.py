"""A real VPN through the datapath, before and after switching its passthrough on: strongSwan
IKEv2 with NAT-T (natbox.peers.strongswan: ESP in userspace, each charon with its own /run)
between a LAN client and a WAN server, in one lab."""

from __future__ import annotations

import json

import pytest

from natbox.hil.hosts import Host
from natbox.lab import names as N
from natbox.peers import strongswan

pytestmark = pytest.mark.netns


def test_strongswan_ikev2_nat_t_tunnel_carries_traffic_through_the_datapath(lab, tmp_path):
    client = Host("lan1", lab.names.client(1), N.client_address(1), logs=tmp_path)
    internet = Host("internet", lab.names.internet, N.SERVERS[0], logs=tmp_path)
    try:
        strongswan.responder(internet, tmp_path / "server", f"{N.LAN_NET}.0/24")
        charon = strongswan.initiator(client, tmp_path / "client", N.SERVERS[0])
        # Before: IPsec passthrough is off by default, so IKE never gets through.
        assert strongswan.connect(charon, 3).returncode != 0
        assert lab.ctl("counters")["engine"].get("ipsec_disabled", 0) > 0
        lab.switch_helper("ipsec", True)
        # After: switched on, the same client brings the tunnel up.
        strongswan.terminate(charon)
        up = strongswan.connect(charon, 20)
        assert up.returncode == 0, up.stdout + up.stderr
        sas = charon.swanctl("--list-sas").stdout
        assert "ESTABLISHED" in sas and "INSTALLED" in sas and "TUNNEL-in-UDP" in sas
        assert client.ping(strongswan.BEHIND_SERVER), "no answer through the tunnel"
        # The tunnel rode on a NAT mapping of the client's IKE/NAT-T port to the server.
        mappings = json.dumps(lab.ctl("mappings")["mappings"])
        assert "4500" in mappings and N.client_address(1) in mappings
    finally:
        for host in (client, internet):
            host.stop_started()
        internet.run(["ip", "addr", "del", f"{strongswan.BEHIND_SERVER}/32", "dev", "lo"],
                     check=False)  # fmt: skip
