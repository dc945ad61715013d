"""The plugin as a user's project meets it: pytest runs on a project of its own in a temporary
folder (the plugin loaded through its entry point), in netns mode. A test that fails on
purpose leaves its evidence where its failure message says; two xdist workers get a router
each; an interrupted or killed session leaves no lab behind; a host interface put on the LAN
is served by the router and given back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from natbox.lab import netns
from natbox.lab.lab import all_lab_ids, remove_orphans
from natbox.lab.names import LabNames

pytestmark = pytest.mark.netns

PROJECT_TESTS = """
import json, os, pathlib

def _record(router):
    out = pathlib.Path(os.environ["RECORD_DIR"]) / f"{os.getpid()}.json"
    out.write_text(json.dumps({"lab": router.lab.names.lab_id}))

def test_passes(router, lan_client, internet):
    _record(router)
    assert lan_client.run(["ping", "-c", "1", "-W", "2", internet.address]).returncode == 0

def test_fails_on_purpose(router, lan_client, internet):
    _record(router)
    lan_client.start(["sh", "-c", "echo my-client started; sleep 60"], name="app")
    lan_client.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", internet.address])
    assert router.profile == "symmetric", "failing on purpose"
"""


def project(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\nnatbox_mode = netns\n")
    (tmp_path / "test_project.py").write_text(tests)
    (tmp_path / "records").mkdir()
    return tmp_path


def pytest_in(folder: Path, *args: str, **extra_env: str) -> subprocess.Popen:
    """pytest on the project, its output in ``folder/pytest.log`` (a file, not a pipe: the
    lab's processes must not hold our end open after a kill)."""
    env = {**os.environ, "RECORD_DIR": str(folder / "records"), **extra_env}
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir",
               str(folder), *args]  # fmt: skip
    with open(folder / "pytest.log", "w") as log:
        # As from a terminal: a job started in the background of a script (CI's, say)
        # inherits SIGINT ignored, and then no Ctrl-C would reach it.
        return subprocess.Popen(command, cwd=folder, env=env, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=_default_sigint)  # fmt: skip


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finished(folder: Path, run: subprocess.Popen, timeout: float = 300) -> str:
    run.wait(timeout)
    return (folder / "pytest.log").read_text()


def lab_namespaces(lab_id: str) -> list[str]:
    return [ns for ns in netns.names() if ns.startswith(LabNames(lab_id).ns(""))]


def test_a_failing_test_keeps_its_evidence_where_its_failure_says(tmp_path):
    from scapy.all import ICMP, IP, rdpcap

    folder = project(tmp_path, PROJECT_TESTS)
    run = pytest_in(folder, "-n", "2", "test_project.py")
    out = finished(folder, run)
    assert run.returncode == 1, out
    assert "1 failed, 1 passed" in out, out
    kept = re.search(r"natbox kept the evidence of this failure in (\S+)/:", out)
    assert kept, out
    evidence = Path(kept.group(1))
    assert evidence == folder / "natbox-artifacts" / "test_project" / "test_fails_on_purpose"
    files = {p.name for p in evidence.iterdir()}
    assert {"lan.pcap", "wan.pcap", "router.log", "router.json", "lan1-app.log"} <= files, files
    for name in ("lan.pcap", "router.json", "lan1-app.log"):
        assert f"  {name}" in out  # listed in the failure's output
    assert "my-client started" in (evidence / "lan1-app.log").read_text()
    state = json.loads((evidence / "router.json").read_text())
    assert state["mode"] == "netns" and state["config"]["nat"]["profile"] == "restricted-cone"
    # The captures hold the test's own pings: from the client on the LAN, from the router's
    # WAN address beyond it.
    lan, wan = rdpcap(str(evidence / "lan.pcap")), rdpcap(str(evidence / "wan.pcap"))
    asked = [p for p in lan if ICMP in p and p[ICMP].type == 8]
    assert len(asked) >= 3 and asked[0][IP].src == state["lan_clients"][0]
    out_of_wan = [p for p in wan if ICMP in p and p[ICMP].type == 8 and p[IP].src == "203.0.113.2"]
    assert len(out_of_wan) >= 3
    # The passing test kept nothing; each xdist worker had its own lab, and both are gone.
    assert not (evidence.parent / "test_passes").exists()
    labs = {json.loads(p.read_text())["lab"] for p in (folder / "records").iterdir()}
    assert len(labs) == 2, labs
    for lab_id in labs:
        assert lab_namespaces(lab_id) == [] and lab_id not in all_lab_ids()


WAITS = """
import json, os, pathlib, time

def test_waits(router):
    (pathlib.Path(os.environ["RECORD_DIR"]) / "lab.json").write_text(
        json.dumps({"lab": router.lab.names.lab_id}))
    time.sleep(120)
"""


def started_lab(folder: Path, run: subprocess.Popen) -> str:
    record = folder / "records" / "lab.json"
    deadline = time.monotonic() + 120
    while not record.exists():
        assert run.poll() is None and time.monotonic() < deadline, finished(folder, run)
        time.sleep(0.2)
    return json.loads(record.read_text())["lab"]


def test_an_interrupted_session_tears_its_lab_down(tmp_path):
    folder = project(tmp_path, WAITS)
    run = pytest_in(folder, "test_project.py")
    lab_id = started_lab(folder, run)
    assert lab_namespaces(lab_id)
    run.send_signal(signal.SIGINT)  # Ctrl-C
    out = finished(folder, run, 60)
    assert lab_namespaces(lab_id) == [] and lab_id not in all_lab_ids(), out


def test_a_killed_session_leaves_an_orphan_the_next_one_removes(tmp_path):
    folder = project(tmp_path, WAITS)
    run = pytest_in(folder, "test_project.py")
    lab_id = started_lab(folder, run)
    run.kill()  # no teardown at all
    run.wait(30)
    assert lab_namespaces(lab_id)  # left behind...
    assert lab_id in remove_orphans()  # ... until a session starts (the pool does this)
    assert lab_namespaces(lab_id) == [] and lab_id not in all_lab_ids()


MARKED = """
import re
import pytest

def rtt_ms(host, address):
    out = host.run(["ping", "-c", "3", "-i", "0.2", "-W", "3", address]).stdout
    return float(re.search(r"= [\\d.]+/([\\d.]+)/", out).group(1))

@pytest.mark.natbox(profile="symmetric", passthrough={"pptp": True, "ipsec": False},
                    netem={"wan": "delay 150ms"},
                    forwards=[{"proto": "tcp", "port": 8022, "host": "192.168.1.101"}])
def test_marked(router, lan_client, internet):
    assert router.profile == "symmetric"
    switches = router.passthrough()
    assert switches["pptp"] is True and switches["ipsec"] is False
    assert [(f["proto"], f["ext_port"]) for f in router.forwards()] == [("tcp", 8022)]
    assert rtt_ms(lan_client, internet.address) >= 150
    router.impair("wan", "loss 100%")  # replaces the delay
    lost = lan_client.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", internet.address],
                          check=False)
    assert lost.returncode != 0

def test_next_one_starts_from_the_baseline(router, lan_client, internet):
    assert router.profile == "restricted-cone" and router.forwards() == []
    assert router.passthrough()["pptp"] is False
    assert rtt_ms(lan_client, internet.address) < 100

def test_without_a_router_after_the_last_that_needed_one():
    import glob, json, os
    owners = [json.load(open(f)).get("owner") for f in glob.glob("/run/natbox/lab-*/state.json")]
    assert os.getpid() not in owners  # shut down already, not at the end of the session
"""


def test_the_marker_sets_the_router_up_and_the_next_test_gets_the_baseline(tmp_path):
    folder = project(tmp_path, MARKED)
    run = pytest_in(folder, "test_project.py")
    out = finished(folder, run)
    assert run.returncode == 0 and "3 passed" in out, out


DEVICE = """
import os, subprocess

def test_the_device_gets_a_lease(router):
    ns = os.environ["DEVICE_NS"]
    lease = subprocess.run(["ip", "netns", "exec", ns, "udhcpc", "-q", "-f", "-n", "-i", "eth0",
                            "-t", "10", "-T", "1", "-s", "/bin/true"],
                           capture_output=True, text=True, timeout=60)
    assert "obtained from 192.168.1.1" in lease.stderr, lease.stderr
"""


def test_a_host_interface_put_on_the_lan_is_served_and_given_back(tmp_path):
    """The "device" is a namespace behind a veth whose other end is in the host's namespace
    (no address there): what a NIC with a device on its cable looks like to the plugin."""
    tag = uuid.uuid4().hex[:6]
    device_ns, interface = f"nbxdev{tag}", f"nbxd{tag}"
    netns.add(device_ns)
    try:
        netns.sh("ip", "link", "add", interface, "type", "veth", "peer", "name", "eth0",
                 "netns", device_ns)  # fmt: skip
        netns.ip(device_ns, "link", "set", "eth0", "up")
        folder = project(tmp_path, DEVICE)
        run = pytest_in(folder, "--natbox-lan-interface", interface, "test_project.py",
                        DEVICE_NS=device_ns)  # fmt: skip
        out = finished(folder, run)
        assert run.returncode == 0, out
        # Given back: in the host's namespace again, off any bridge.
        shown = json.loads(netns.sh("ip", "-j", "link", "show", interface).stdout)[0]
        assert "master" not in shown
    finally:
        netns.sh("ip", "link", "del", interface, check=False, quiet=True)
        netns.delete(device_ns)
