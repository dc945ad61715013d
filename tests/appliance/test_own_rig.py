"""`natbox boot --lan-bridge BR --wan-bridge BR`: the appliance on bridges the user already
has, as in their own rig. The "rig" here is a namespace of ours with two bridges and a PC on
the LAN bridge; natbox runs inside it, so its taps and QEMU stay out of the root namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from natbox.appliance.console import Console, scale
from natbox.lab import netns

pytestmark = pytest.mark.vm


@pytest.fixture
def rig():
    if os.geteuid() != 0 or shutil.which("qemu-system-x86_64") is None:
        pytest.skip("needs root and qemu-system-x86_64")
    tag = uuid.uuid4().hex[:6]
    rig, pc = f"nbx{tag}-rig", f"nbx{tag}-pc"
    for ns in (rig, pc):
        netns.add(ns)
    try:
        for bridge in ("brlan", "brwan"):
            netns.ip(rig, "link", "add", bridge, "type", "bridge")
            netns.ip(rig, "link", "set", bridge, "up")
        netns.veth(rig, "pcport", pc, "eth0")
        netns.ip(rig, "link", "set", "pcport", "master", "brlan", "up")
        netns.ip(pc, "link", "set", "eth0", "up")
        yield rig, pc
    finally:
        for ns in (rig, pc):
            for pid in netns.pids(ns):  # a QEMU that outlived a failed test
                subprocess.run(["kill", "-9", str(pid)], check=False)
            netns.delete(ns)


def test_boots_on_the_users_bridges_and_serves_their_lan(rig, tmp_path):
    import pexpect

    rig_ns, pc = rig
    argv = netns.exec_args(rig_ns, sys.executable, "-m", "natbox.cli", "boot",
                           "--lan-bridge", "brlan", "--wan-bridge", "brwan",
                           "--workdir", str(tmp_path))  # fmt: skip
    child = pexpect.spawn(argv[0], argv[1:], cwd=os.getcwd(), timeout=120 * scale())
    try:
        Console(child).wait_login_prompt(timeout=120)
        ports = netns.ip(rig_ns, "-o", "link", "show", "master", "brlan").stdout
        assert "nbxtlan" in ports and "pcport" in ports
        assert "nbxtwan" in netns.ip(rig_ns, "-o", "link", "show", "master", "brwan").stdout
        # The appliance's DHCP server answers the PC across the user's bridge.
        lease = subprocess.run(
            netns.exec_args(pc, "udhcpc", "-q", "-f", "-n", "-i", "eth0", "-t", "30", "-T", "1",
                            "-s", "/bin/true"),
            capture_output=True, text=True, timeout=60 * scale(),
        )  # fmt: skip
        assert "obtained from 192.168.1.1" in lease.stderr, lease.stderr
        child.sendcontrol("a")
        child.send("x")  # leave the console: QEMU quits, natbox removes its taps
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    left = netns.ip(rig_ns, "-o", "link", "show").stdout
    assert "nbxtlan" not in left and "nbxtwan" not in left and "brlan" in left
