"""Lab options and life cycle: WAN by DHCP, captures, netem, the UI forward, crash clean-up."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from scapy.all import IP, rdpcap

from natbox.cli import main
from natbox.lab import names as N
from natbox.lab import netns
from natbox.lab.lab import Lab, LabOptions, all_lab_ids
from natbox.lab.testservices import TCP_ECHO

pytestmark = pytest.mark.netns


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gone(lab: Lab, pids: list[int]) -> None:
    assert not [ns for ns in netns.names() if ns.startswith(lab.names.ns(""))]
    assert not os.path.exists(lab.names.state_dir)
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")]
    assert not [d for d in os.listdir("/etc/netns") if d.startswith(lab.names.ns(""))]


def test_wan_dhcp_captures_netem_and_ui_forward(tmp_path):
    ui_port = _free_port()
    options = LabOptions(
        clients=1, wan_dhcp=True, pcap_dir=str(tmp_path), ui_port=ui_port, netem={"wan": "loss 30%"}
    )
    lab = Lab(f"o{N.new_id()}", options).up()
    try:
        status = lab.ctl("status")
        assert status["wan"]["address"] == N.ROUTER_WAN and status["wan"]["gateway"]
        with open(f"{lab.names.state_dir}/wan.leases") as f:
            assert N.ROUTER_WAN in f.read()  # the router's address came from the WAN's DHCP server

        c1 = lab.names.client(1)
        ping = lab.run(
            c1, "ping", "-q", "-c", "100", "-i", "0.01", "-W", "1", N.SERVERS[1], check=False
        )
        loss = float(ping.stdout.split("% packet loss")[0].split()[-1])
        assert 10 < loss < 55, ping.stdout  # 30 % loss on the WAN link, towards the router

        stub = lab.spawn(
            "ui-stub",
            lab.names.router,
            "python3",
            "-m",
            "http.server",
            "80",
            "--bind",
            N.ROUTER_LAN,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=2) as r:
                    assert r.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and stub.poll() is None
                time.sleep(0.2)
        time.sleep(0.5)  # tcpdump -U writes each packet as it comes; give it a moment
        wan = [p[IP] for p in rdpcap(str(tmp_path / "wan.pcap")) if IP in p]
        lan = [p[IP] for p in rdpcap(str(tmp_path / "c1.pcap")) if IP in p]
        assert any(p.src == N.ROUTER_WAN and p.dst == N.SERVERS[1] for p in wan)
        assert any(p.src == N.client_address(1) and p.dst == N.SERVERS[1] for p in lan)
        assert not any(p.src == N.client_address(1) for p in wan)  # nothing leaks untranslated
    finally:
        pids = list(lab.pids.values())
        lab.down()
    _gone(lab, pids)


def test_lab_down_cleans_up_after_a_crashed_router_and_cli(tmp_path):
    lab = Lab(f"k{N.new_id()}", LabOptions(clients=1)).up()
    router_ns = lab.names.router
    orphans = netns.pids(router_ns)  # the router and the dnsmasq it started
    assert len(orphans) >= 2
    os.kill(lab.pids["router"], signal.SIGKILL)  # a crash: no clean-up of its own
    assert lab.names.lab_id in all_lab_ids()
    assert main(["lab", "down", lab.names.lab_id]) == 0
    _gone(lab, orphans)


def test_the_ui_needs_the_natbox_router():
    lab = Lab(f"u{N.new_id()}", LabOptions(ui=True, router="kernel"))
    with pytest.raises(ValueError, match="natbox router"):
        lab.up()
    assert not os.path.exists(lab.names.state_dir)  # refused before anything was built


DOWN_ALL_SCRIPT = """
import json, os, signal, subprocess, sys
for path in ("/run/netns", "/run/natbox", "/etc/netns"):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "natbox-test", path], check=True)
from natbox.cli import main
from natbox.lab import names as N, netns
from natbox.lab.lab import Lab, LabOptions
labs = [Lab(f"a{N.new_id()}", LabOptions(clients=1)).up() for _ in range(2)]
orphans = [pid for lab in labs for pid in netns.pids(lab.names.router)]
os.kill(labs[0].pids["router"], signal.SIGKILL)  # one of them crashed
code = main(["lab", "down", "--all"])
alive = [pid for pid in orphans if os.path.exists(f"/proc/{pid}")]
print(json.dumps({"code": code, "namespaces": netns.names(), "state": os.listdir(N.STATE_ROOT),
                  "orphans": len(orphans), "alive": alive}))
"""


def test_lab_down_all_removes_every_lab_even_after_a_crash():
    # Run in a private mount namespace with its own /run/netns and /run/natbox, so `--all`
    # sees only the labs made here, not those of the rest of this test session. A namespace
    # of our own outside stands for those (the session's other labs come and go meanwhile).
    outside = f"outside{N.new_id()}"  # not a lab's name: no clean-up takes it
    subprocess.run(["ip", "netns", "add", outside], check=True)
    try:
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
             DOWN_ALL_SCRIPT],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["code"] == 0 and report["orphans"] >= 4
        assert report["namespaces"] == [] and report["state"] == [] and report["alive"] == []
        assert outside in netns.names()  # what was outside was left alone
    finally:
        subprocess.run(["ip", "netns", "del", outside], check=False)


def test_netem_delay_without_sch_netem_uses_the_delay_line():
    lab = Lab(f"y{N.new_id()}", LabOptions(clients=1, netem={"wan": "delay 60ms loss 0%"})).up()
    try:
        ping = lab.run(lab.names.client(1), "ping", "-c", "4", "-i", "0.2", N.SERVERS[0],
                       check=False)  # fmt: skip
        assert ping.returncode == 0, ping.stdout
        rtt_min = float(re.search(r"= ([\d.]+)/", ping.stdout).group(1))
        assert 60 <= rtt_min < 110  # one way delayed by 60 ms, the rest is the lab's own
        fetched = lab.python(lab.names.client(1), "natbox.lab.probe", "tcp", N.SERVERS[0],
                             str(TCP_ECHO), "--message", "hello")  # fmt: skip
        assert fetched["ok"] and fetched["data"] == "hello"
    finally:
        lab.down()
    with pytest.raises(RuntimeError, match="only 'delay Nms' and 'loss N%'"):
        Lab(f"y{N.new_id()}", LabOptions(clients=1, netem={"wan": "duplicate 1%"})).up()
