"""VPN passthrough and ALGs across the real datapath: each protocol's exchange, built with
scapy, from a LAN client namespace to a server in the internet namespace, with the
protocol switched off (it must not pass) and on (it must, with the right translations).
The same "test before and after" the article asks of users."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from natbox.lab import names as N
from router import edits

pytestmark = pytest.mark.netns

PEERS = str(Path(__file__).with_name("vpn_peers.py"))
SERVER = N.SERVERS[0]
CLIENT = N.client_address(1)


def set_flow_offload(lab, on: bool) -> None:
    answer = lab.edit(lambda config: edits.set_nat(config, config.nat.profile, flow_offload=on))
    assert answer["ok"], answer


@pytest.fixture(params=["engine", "flow_offload"])
def datapath_mode(request, lab):
    """Each exchange in both datapath modes: every packet through the engine, and with flow
    offloading on (helpers' flows are never offloaded; their plain companions may be)."""
    on = request.param == "flow_offload"
    set_flow_offload(lab, on)
    yield request.param
    if on:
        set_flow_offload(lab, False)


@pytest.fixture
def exchange(lab, tmp_path, datapath_mode):
    """Run a server role in the internet namespace and a client role in client 1; return
    both JSON results. Switches the named helper as asked and always switches it back off."""
    switched = []

    def run(helper: str, enabled: bool, server_role: str, client_role: str, *extra: str):
        lab.switch_helper(helper, enabled)
        switched.append(helper)
        out = tmp_path / f"{server_role}-{enabled}.json"
        server = lab.spawn(
            server_role,
            lab.names.internet,
            sys.executable,
            PEERS,
            server_role,
            "--bind",
            SERVER,
            "--out",
            str(out),
            "--timeout",
            "4",
            *extra,
        )
        _wait_for_a_socket(server, 15)  # it imports scapy first: seconds on a loaded host
        client = lab.run(
            lab.names.client(1),
            sys.executable,
            PEERS,
            client_role,
            "--server",
            SERVER,
            "--client",
            CLIENT,
            "--timeout",
            "3",
            *extra,
            timeout=30,
        )
        server.wait(timeout=15)
        lab.stop(server_role)
        served = json.loads(out.read_text()) if out.exists() else {}
        return served, json.loads(client.stdout.strip().splitlines()[-1])

    yield run
    for helper in set(switched):
        lab.switch_helper(helper, helper == "sstp")


def _holds_a_socket(pid: int) -> bool:
    try:
        fds = Path(f"/proc/{pid}/fd").iterdir()
        return any(os.readlink(fd).startswith("socket:") for fd in fds)
    except OSError:
        return False  # a descriptor closed while we looked


def _wait_for_a_socket(process, timeout: float) -> None:
    """Until the server role holds a socket (it binds before it waits for anyone), seen twice
    a tenth of a second apart: a library's passing socket at import is not the server's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _holds_a_socket(process.pid):
            time.sleep(0.1)
            if _holds_a_socket(process.pid):
                return
        time.sleep(0.05)
    raise AssertionError(f"the server role held no socket within {timeout} s")


def engine_counter(lab, name: str) -> int:
    return lab.ctl("counters")["engine"].get(name, 0)


def test_l2tp_before_and_after(lab, exchange):
    served, client = exchange("l2tp", False, "l2tp-server", "l2tp-client")
    assert served["got"] is None and client["reply"] is None
    assert engine_counter(lab, "l2tp_disabled") > 0
    served, client = exchange("l2tp", True, "l2tp-server", "l2tp-client")
    assert served["got"] == "SCCRQ" and served["from"] == f"{N.ROUTER_WAN}:1701"
    assert client["reply"] == "SCCRP:SCCRQ" and client["from"] == f"{SERVER}:1702"


def test_ike_before_and_after(lab, exchange):
    served, client = exchange("ipsec", False, "ike-server", "ike-client")
    assert served["got"] is None and client["reply"] is None
    served, client = exchange("ipsec", True, "ike-server", "ike-client")
    assert served["from"] == f"{N.ROUTER_WAN}:500"  # port 500 kept
    assert client["reply"] == "a1" * 8 and client["responder"] == "42" * 8


def test_raw_esp_before_and_after(lab, exchange):
    served, client = exchange("ipsec", False, "esp-server", "esp-client")
    assert served["got"] is None and client["reply"] is None
    assert engine_counter(lab, "ipsec_disabled") > 0
    served, client = exchange("ipsec", True, "esp-server", "esp-client")
    assert served == {"got": "00001000", "from": N.ROUTER_WAN}
    assert client == {"reply": "00002000", "from": SERVER}


def test_path_mtu_error_about_raw_esp_reaches_the_lan_client(lab, exchange):
    """A router on the path (the internet's second address) answers the client's ESP with
    "fragmentation needed": the error crosses the NAT back to the client, quoting the packet
    as the client sent it (its own address, its SPI)."""
    hop = N.SERVERS[1]
    served, client = exchange("ipsec", True, "esp-pmtu-hop", "esp-pmtu-client", "--hop", hop)
    assert served == {"got": "00001000", "from": N.ROUTER_WAN}
    assert client == {"error": "frag-needed", "mtu": 1400, "from": hop, "inner_src": CLIENT,
                      "inner_proto": 50, "inner_spi": "00001000"}  # fmt: skip


def test_pptp_control_and_gre_before_and_after(lab, exchange):
    served, client = exchange("pptp", False, "pptp-server", "pptp-client")
    assert client["connected"] is False and served["got"] is None
    served, client = exchange("pptp", True, "pptp-server", "pptp-client")
    assert served["from"] == N.ROUTER_WAN
    assert served["gre"] == 0x5001  # outbound GRE keeps the server's call ID
    assert client["peer_call_id"] == 0x4A11  # the client's own call ID, restored
    assert client["gre_call_id"] == 0x4A11  # inbound GRE keyed back to it


@pytest.mark.parametrize("proto", ["sip", "rtsp"])
def test_media_alg_before_and_after(lab, exchange, proto):
    served, client = exchange(proto, False, "media-server", "media-client", "--proto", proto)
    if proto == "sip":  # ALG off: the private address leaks and the media is filtered
        assert served["media_to"] == f"{CLIENT}:40000"
    assert client["media"] is None
    served, client = exchange(proto, True, "media-server", "media-client", "--proto", proto)
    assert served["media_to"].startswith(f"{N.ROUTER_WAN}:")
    assert client["media"] == "rtp-media" and client["from"] == f"{SERVER}:30000"
