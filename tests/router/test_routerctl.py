"""routerctl on the host: the shared config model, running vs saved, refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router import paths as files
from router import routerctl
from router.plan import restart_needed

FACTORY = Path(__file__).resolve().parents[2] / "rootfs" / "etc" / "natbox" / "factory.json"


@pytest.fixture
def device(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "DATA", tmp_path / "data")
    monkeypatch.setattr(files, "RUN", tmp_path / "run")
    monkeypatch.setattr(files, "FACTORY", FACTORY)
    (tmp_path / "run").mkdir()
    files.saved_store().save(files.factory())
    files.running_store().save(files.factory())
    asked = []

    def fake_request(path, cmd, **fields):
        asked.append(cmd)
        # As the daemon does: against the configuration it started with, the factory one.
        restart = restart_needed(files.factory(), files.running_store().load())
        return {"ok": True, "forwarding": True, "counters": {}, "restart_required": restart}

    monkeypatch.setattr(routerctl.control, "request", fake_request)
    return asked


def running() -> dict:
    return json.loads((files.RUN / "running.json").read_text())


def test_passthrough_enable_writes_the_running_config_and_reloads(device, capsys):
    assert routerctl.main(["passthrough", "enable", "pptp"]) == 0
    assert running()["nat"]["helpers"]["pptp"] is True
    assert sorted(p.name for p in files.RUN.iterdir()) == ["running.json"]  # nothing derived
    assert device == ["reload"]
    routerctl.main(["passthrough"])
    out = capsys.readouterr().out
    assert "pptp   on" in out and "sstp   on" in out and "sip    off" in out
    assert "rtsp   off ports 554" in out and "ipsec  off ports 500,4500" in out


def test_a_protocol_is_moved_to_other_ports_and_back(device, capsys):
    assert routerctl.main(["passthrough", "ports", "rtsp", "554,8554"]) == 0
    assert running()["nat"]["helper_ports"] == {"554": "rtsp", "8554": "rtsp"}
    assert "rtsp serves ports 554,8554" in capsys.readouterr().out
    routerctl.main(["passthrough"])
    assert "rtsp   off ports 554,8554" in capsys.readouterr().out
    assert routerctl.main(["passthrough", "ports", "rtsp", "default"]) == 0
    assert running()["nat"]["helper_ports"] == {} and device == ["reload", "reload"]


def test_sip_direct_media_is_shown_and_switched(device, capsys):
    assert routerctl.main(["sip-direct-media"]) == 0
    assert capsys.readouterr().out.strip() == "on"
    assert routerctl.main(["sip-direct-media", "off"]) == 0
    assert running()["nat"]["sip_direct_media"] is False and device == ["reload"]
    routerctl.main(["sip-direct-media"])
    assert capsys.readouterr().out.strip().endswith("off")


def test_flow_offloading_is_shown_and_switched(device, capsys):
    assert routerctl.main(["flow-offload"]) == 0
    assert capsys.readouterr().out.strip() == "off"  # the default
    assert routerctl.main(["flow-offload", "on"]) == 0
    assert running()["nat"]["flow_offload"] is True and device == ["reload"]
    assert running()["nat"]["profile"] == "restricted-cone"  # the rest stays
    routerctl.main(["flow-offload"])
    assert capsys.readouterr().out.strip().endswith("on")


def test_https_is_switched_in_the_running_configuration(device, capsys):
    routerctl.main(["https"])
    assert capsys.readouterr().out == "off\n"
    assert routerctl.main(["https", "on"]) == 0
    assert running()["web"] == {"https": True} and "HTTPS on" in capsys.readouterr().out
    routerctl.main(["https"])
    assert capsys.readouterr().out == "on\n"
    assert routerctl.main(["https", "off"]) == 0 and running()["web"] == {"https": False}
    assert device == ["reload", "reload"]


def test_hostname_and_dhcp_pool_are_edits_of_the_same_model(device, capsys):
    assert routerctl.main(["hostname", "edge"]) == 0
    assert routerctl.main(["dhcp", "192.168.1.20", "192.168.1.40", "600"]) == 0
    assert running()["hostname"] == "edge"
    assert running()["dhcp"] | {"static_leases": []} == {
        "enabled": True, "first": "192.168.1.20", "last": "192.168.1.40",
        "lease_time": 600, "static_leases": [],
    }  # fmt: skip
    routerctl.main(["dhcp"])
    assert "on 192.168.1.20-192.168.1.40 lease 600 s" in capsys.readouterr().out
    assert device == ["reload", "reload"]


def test_a_change_the_daemon_cannot_take_live_is_not_called_applied(device, capsys, monkeypatch):
    def move_lan(config, address):
        data = config.to_dict()
        data["nat"]["lan_address"] = address
        data["dhcp"] = {"first": "192.168.1.100", "last": "192.168.1.199"}
        return type(config).from_dict(data)

    routerctl.applied("LAN address", routerctl.apply(move_lan, "192.168.1.2"))
    out = capsys.readouterr().out
    assert "restart needed for: nat.lan_address" in out and "running;" not in out
    routerctl.applied("LAN address", routerctl.apply(move_lan, "192.168.1.1"))
    assert "(running; `routerctl save` keeps it)" in capsys.readouterr().out


def test_a_daemon_that_does_not_take_the_change_is_not_reported_as_nothing_changed(
    device, monkeypatch, capsys
):
    def down(path, cmd, **fields):
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(routerctl.control, "request", down)
    assert routerctl.main(["hostname", "edge"]) == 1
    err = capsys.readouterr().err
    assert "saved in the running configuration, but not applied" in err
    assert "nothing changed" not in err and running()["hostname"] == "edge"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["forward", "add", "tcp", "99999", "192.168.1.50"], "nat.port_forwards[0].ext_port"),
        (["forward", "add", "tcp", "80", "10.9.9.9"], "is not in 192.168.1.0/24"),
        (["forward", "add", "tcp", "eighty", "192.168.1.5"], "ports must be numbers"),
        (["forward", "remove", "udp", "53"], "no udp forward on port 53"),
        (["dhcp", "10.0.0.10", "10.0.0.20"], "invalid dhcp.first: 10.0.0.10 is not in the LAN"),
        (["hostname", "bad name"], "invalid hostname"),
        (["profile", "no-such"], "unknown NAT profile"),
        (["passthrough", "enable", "telnet"], "unknown passthrough"),
        (["passthrough", "ports", "ipsec", "600"], "ports are fixed by its protocol"),
        (["passthrough", "ports", "rtsp", "eighty"], "expected PORT[,PORT...]"),
    ],
)
def test_refusals_leave_the_running_config(device, capsys, argv, message):
    before = (files.RUN / "running.json").read_bytes()
    assert routerctl.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "nothing changed" in err
    assert (files.RUN / "running.json").read_bytes() == before
    assert device == []  # the daemon was never asked to reload


def test_daemon_not_answering_is_reported(device, monkeypatch, capsys):
    def down(path, cmd, **fields):
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(routerctl.control, "request", down)
    assert routerctl.main(["counters"]) == 1
    assert "does not answer" in capsys.readouterr().err
