"""The benchmark's kernel-NAT switch, with the device's programs stood in for: it stops the
daemon first, loads the NAT modules in the image's order, forwards, and masquerades out of
the WAN."""

import subprocess

import pytest

from router import kernelnat


@pytest.fixture
def device(tmp_path, monkeypatch):
    calls = []

    def run(argv, **kwargs):
        calls.append((argv, kwargs.get("input")))
        return subprocess.CompletedProcess(argv, 0, "", "")

    (tmp_path / "modules").write_text("lib/modules/x/nf_conntrack.ko\nlib/modules/x/nft_masq.ko\n")
    (tmp_path / "router.pid").write_text("4242\n")
    monkeypatch.setattr(kernelnat, "MODULES", tmp_path / "modules")
    monkeypatch.setattr(kernelnat, "DAEMON_PID", tmp_path / "router.pid")
    monkeypatch.setattr(kernelnat, "IP_FORWARD", tmp_path / "ip_forward")
    monkeypatch.setattr(kernelnat, "PROC", tmp_path / "proc")  # PID 4242 is gone at once
    monkeypatch.setattr(kernelnat.subprocess, "run", run)
    return tmp_path, calls


def test_the_daemon_stops_then_the_kernel_nats_out_of_the_wan(device):
    tmp_path, calls = device
    assert kernelnat.main() == 0
    assert [argv for argv, _ in calls] == [
        ["kill", "4242"],
        ["insmod", "/lib/modules/x/nf_conntrack.ko"],
        ["insmod", "/lib/modules/x/nft_masq.ko"],
        ["nft", "-f", "-"],
    ]
    ruleset = calls[-1][1]
    assert 'oifname "eth1" masquerade' in ruleset and "type nat hook postrouting" in ruleset
    assert (tmp_path / "ip_forward").read_text() == "1\n"


def test_a_module_that_will_not_load_stops_it(device, monkeypatch):
    def refuse(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, "", "insmod: Unknown symbol in module")

    monkeypatch.setattr(kernelnat.subprocess, "run", refuse)
    with pytest.raises(RuntimeError, match="nf_conntrack"):
        kernelnat.load_modules()
