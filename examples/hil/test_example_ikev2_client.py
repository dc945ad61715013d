"""My VPN client (strongSwan IKEv2 with NAT-T) behind every NAT profile, with IPsec passthrough
on and off: on, the tunnel comes up and carries traffic; off, the router blocks IKE (natbox's
"disabled really blocks") and says so in its counters."""

from __future__ import annotations

import pytest

from natbox.hil import PROFILE_NAMES
from natbox.peers import strongswan as ike


@pytest.fixture
def peers(lan_client, internet, tmp_path):
    server = ike.responder(internet, tmp_path / "server", "192.168.1.0/24")
    client = ike.initiator(lan_client, tmp_path / "client", internet.address)
    yield server, client
    internet.run(["ip", "addr", "del", f"{ike.BEHIND_SERVER}/32", "dev", "lo"], check=False)


@pytest.mark.natbox(profile=PROFILE_NAMES, passthrough={"ipsec": [True, False]})
def test_ikev2_client_behind_the_router(router, natbox_state, lan_client, peers):
    _, client = peers
    if natbox_state.passthrough["ipsec"]:
        up = ike.connect(client, 20)
        assert up.returncode == 0, up.stdout + up.stderr
        sas = client.swanctl("--list-sas").stdout
        assert "ESTABLISHED" in sas and "TUNNEL-in-UDP" in sas  # NAT-T: the router was seen
        assert lan_client.ping(ike.BEHIND_SERVER), "no answer through the tunnel"
        # The tunnel rides on the router's mapping of the client's NAT-T port.
        nat_t = f"{lan_client.address}:4500"
        assert any(m["proto"] == "udp" and m["internal"] == nat_t for m in router.mappings())
        # ... and the router's VPN monitor has the client's IPsec session active.
        active = router.api.get("/vpn/sessions").get("active", [])
        assert any(s["lan_host"] == lan_client.address and "ipsec" in s["protocol"].lower()
                   for s in active), active  # fmt: skip
    else:
        assert ike.connect(client, 3).returncode != 0
        assert router.counters().get("ipsec_disabled", 0) > 0
