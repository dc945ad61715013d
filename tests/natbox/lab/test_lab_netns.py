"""The router forwarding real traffic between namespaces (netns mode), seen from both sides.

One lab serves the module: client 1 is 192.168.1.101, client 2 is 192.168.1.102, the router
is 192.168.1.1 / 203.0.113.2, the servers are 198.51.100.10 and .20 behind 203.0.113.1.
"""

from __future__ import annotations

import json
import time

import pytest
from labhelp import Listener

from natbox.lab import names as N

pytestmark = pytest.mark.netns

S1, S2 = N.SERVERS


def probe(lab, ns, *args, timeout=30):
    return lab.python(ns, "natbox.lab.probe", *args, timeout=timeout)


def test_client_leases_its_address_and_resolves_names_through_the_router(lab):
    c1 = lab.names.client(1)
    addresses = json.loads(lab.run(c1, "ip", "-j", "-4", "addr", "show", "eth0").stdout)
    assert addresses[0]["addr_info"][0]["local"] == N.client_address(1)
    routes = json.loads(lab.run(c1, "ip", "-j", "route", "show", "default").stdout)
    assert routes[0]["gateway"] == N.ROUTER_LAN
    with open(f"/etc/netns/{c1}/resolv.conf") as f:
        assert f.read().split() == ["nameserver", N.ROUTER_LAN]
    assert probe(lab, c1, "resolve", "server2.lab") == {"address": S2}


def test_ping_tcp_and_udp_reach_both_servers_from_the_wan_address(lab):
    c2 = lab.names.client(2)
    for server in N.SERVERS:
        ping = lab.run(c2, "ping", "-c", "2", "-W", "1", "-i", "0.2", server, check=False)
        assert ping.returncode == 0, ping.stdout
        assert probe(lab, c2, "tcp", server, "7", "--message", "hello")["data"] == "hello"
        seen = probe(lab, c2, "tcp", server, "8")["data"]
        assert seen.startswith(N.ROUTER_WAN + ":")
        answers = probe(lab, c2, "udp", f"{server}:3478:whoami")[0]["answers"]
        assert answers[0]["data"].startswith(N.ROUTER_WAN + ":")


def test_bulk_tcp_crosses_intact_as_offloaded_super_frames(lab):
    before = lab.ctl("counters")["driver"]["lan_rx_frames"]
    result = probe(lab, lab.names.client(1), "tcp-bulk", S1, "7", str(32 << 20))
    assert result == {"sent": 32 << 20, "received": 32 << 20, "intact": True}
    frames = lab.ctl("counters")["driver"]["lan_rx_frames"] - before
    # 32 MB in MTU-sized frames would be ~23,000 of them; GSO frames carry up to 64 KB each.
    assert frames < 12000, frames


def test_unsolicited_inbound_traffic_is_dropped_and_the_kernel_stays_silent(lab):
    c1, inet = lab.names.client(1), lab.names.internet
    before = lab.ctl("counters")["engine"].get("no_mapping", 0)
    udp = Listener(lab, c1, "udp", 5000, timeout=3)
    sent = probe(lab, inet, "udp", "--timeout", "1", f"{N.ROUTER_WAN}:5000:knock")
    assert sent[0]["answers"] == []
    assert udp.result() == {"received": False}
    tcp = Listener(lab, c1, "tcp", 5001, timeout=3)
    # No RST from the router's kernel (shielded) and none from the engine within its 6 s
    # SYN hold (RFC 5382 REQ-4): the attempt times out instead of being refused.
    attempt = probe(lab, inet, "tcp", N.ROUTER_WAN, "5001", "--timeout", "2")
    assert attempt == {"ok": False, "error": "TimeoutError"}
    assert tcp.result() == {"received": False}
    assert lab.ctl("counters")["engine"].get("no_mapping", 0) > before


def test_kernel_ephemeral_ports_stay_out_of_the_nat_pool(lab):
    status = lab.ctl("status")
    _, high = status["port_range"]
    kernel_low, kernel_high = status["kernel_ports"]
    assert high < kernel_low
    ports = lab.run(lab.names.router, "cat", "/proc/sys/net/ipv4/ip_local_port_range").stdout
    assert [int(p) for p in ports.split()] == [kernel_low, kernel_high]
    shield = lab.run(lab.names.router, "nft", "list", "ruleset").stdout
    assert f"-{high} }} drop" in shield and "gre, esp, ah" in shield  # nft merges ranges


FORWARDS = [
    {"proto": "tcp", "ext_port": 8080, "host": N.client_address(1), "host_port": 8080},
    {"proto": "udp", "ext_port": 8081, "host": N.client_address(1), "host_port": 8081},
]


@pytest.fixture
def reconfigure(lab):
    def apply(**nat):
        lab.write_router_config({"profile": "restricted-cone", **nat})
        assert lab.ctl("reload")["ok"]

    yield apply
    apply()


def test_port_forward_from_the_wan_and_hairpin_from_the_lan(lab, reconfigure):
    reconfigure(port_forwards=FORWARDS)
    c1, c2, inet = lab.names.client(1), lab.names.client(2), lab.names.internet
    listener = Listener(lab, c1, "tcp", 8080)
    reply = probe(lab, inet, "tcp", N.ROUTER_WAN, "8080", "--message", "from-wan")
    assert reply["ok"] and reply["data"].startswith("hello from")
    got = listener.result()
    assert got["data"] == "from-wan" and got["from"].startswith(N.SERVERS[0] + ":")

    listener = Listener(lab, c1, "tcp", 8080)
    reply = probe(lab, c2, "tcp", N.ROUTER_WAN, "8080", "--message", "hairpin")
    assert reply["ok"]
    got = listener.result()
    # RFC 4787 REQ-9a: the target sees the sender's external address, not its LAN address.
    assert got["data"] == "hairpin" and got["from"].startswith(N.ROUTER_WAN + ":")

    listener = Listener(lab, c1, "udp", 8081)
    answers = probe(lab, inet, "udp", f"{N.ROUTER_WAN}:8081:ping")[0]["answers"]
    assert answers and answers[0]["data"] == "pong"
    assert listener.result()["from"].startswith(N.SERVERS[0] + ":")


# profile -> (reply from another port admitted, from another address admitted, same mapping)
PROFILES = {
    "full-cone": (True, True, True),
    "restricted-cone": (True, False, True),
    "port-restricted-cone": (False, False, True),
    "symmetric": (False, False, False),
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_nat_profile_as_observed_from_the_wan_side(lab, reconfigure, profile):
    reconfigure(profile=profile)
    results = probe(
        lab,
        lab.names.client(1),
        "udp",
        "--bind-port",
        "41000",
        f"{S1}:3478:whoami",
        f"{S1}:3478:other-port",
        f"{S1}:3478:other-addr",
        f"{S2}:3478:whoami",
    )
    first, other_port, other_addr, second = (r["answers"] for r in results)
    observed = (
        bool(other_port),
        bool(other_addr),
        first[0]["data"] == second[0]["data"],
    )
    assert observed == PROFILES[profile]
    assert first[0]["data"].startswith(N.ROUTER_WAN + ":")


def test_control_socket_reports_mappings_counters_and_neighbours(lab):
    probe(lab, lab.names.client(2), "udp", "--bind-port", "42000", f"{S2}:3478:whoami")
    mappings = lab.ctl("mappings")["mappings"]
    assert any(N.client_address(2) in json.dumps(m) and "42000" in json.dumps(m) for m in mappings)
    neighbours = lab.ctl("neighbours")
    assert N.WAN_GATEWAY in neighbours["wan"]
    assert N.client_address(2) in neighbours["lan"]
    assert lab.ctl("nonsense")["ok"] is False


def test_a_helper_switched_through_the_configuration_survives_a_reload(lab):
    from router.store import ConfigStore

    answer = lab.switch_helper("pptp", True)
    assert answer["ok"] and answer["restart_required"] == []
    assert lab.ctl("events")["events"][-1]["event"] == "config_applied"
    assert ConfigStore(lab.config_path).load().nat.helper_enabled("pptp")
    # Another reload (the UI's Save & Apply of an unrelated page, a reboot from the UI) reads
    # the same file: the switch stays, and PPTP's TCP 1723 is no longer counted as blocked.
    assert lab.ctl("reload")["ok"]
    c1 = lab.names.client(1)

    def blocked() -> int:
        return lab.ctl("counters")["engine"].get("pptp_disabled", 0)

    before = blocked()
    probe(lab, c1, "tcp", S1, "1723", "--timeout", "1")
    assert blocked() == before
    # Switched off the same way, TCP 1723 is blocked again, and stays so across a reload.
    assert lab.switch_helper("pptp", False)["ok"] and lab.ctl("reload")["ok"]
    assert not ConfigStore(lab.config_path).load().nat.helper_enabled("pptp")
    probe(lab, c1, "tcp", S1, "1723", "--timeout", "1")
    assert blocked() > before


@pytest.fixture
def small_wan_mtu(lab):
    router, inet = lab.names.router, lab.names.internet
    route = [N.WAN_NET, "dev", "eth0", "src", N.SERVERS[0]]
    lab.run(router, "ip", "link", "set", "wan0", "mtu", "1400")
    lab.run(inet, "ip", "link", "set", "eth0", "mtu", "1400")
    # The servers still announce an MSS of 1460: the client sends segments too big for the
    # WAN, which the router must make fit.
    lab.run(inet, "ip", "route", "replace", *route, "advmss", "1460")
    time.sleep(1.5)  # the router polls its links once a second
    yield
    lab.run(inet, "ip", "route", "replace", *route)
    lab.run(inet, "ip", "link", "set", "eth0", "mtu", "1500")
    lab.run(router, "ip", "link", "set", "wan0", "mtu", "1500")
    time.sleep(1.5)


def test_a_smaller_wan_mtu_is_enforced_for_plain_and_offloaded_packets(lab, small_wan_mtu):
    c1 = lab.names.client(1)
    # DF set, too big for the WAN: the router answers "fragmentation needed" with its MTU.
    ping = lab.run(c1, "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1450", S1, check=False)
    assert ping.returncode != 0 and "mtu = 1400" in ping.stdout + ping.stderr
    assert lab.run(c1, "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1300", S1).returncode == 0
    # Towards S2 the client has learnt no path MTU: its super-frames get a smaller gso_size
    # (tests/router/driver checks the header) and its plain full-sized segments an ICMP 3/4.
    result = probe(lab, c1, "tcp-bulk", S2, "7", str(8 << 20))
    assert result["intact"] and result["received"] == 8 << 20
