"""routerctl on the host: the shared config model, running vs saved, refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from natbox.device import config_files as files
from natbox.device import routerctl

FACTORY = Path(__file__).resolve().parents[3] / "rootfs" / "etc" / "natbox" / "factory.json"


@pytest.fixture
def device(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "DATA", tmp_path / "data")
    monkeypatch.setattr(files, "RUN", tmp_path / "run")
    monkeypatch.setattr(files, "FACTORY", FACTORY)
    (tmp_path / "run").mkdir()
    files.saved_store().save(files.factory())
    files.write_running(files.factory())
    asked = []

    def fake_request(path, cmd, **fields):
        asked.append(cmd)
        return {"ok": True, "forwarding": True, "counters": {}}

    monkeypatch.setattr(routerctl.control, "request", fake_request)
    return asked


def running() -> dict:
    return json.loads((files.RUN / "running.json").read_text())


def test_passthrough_enable_applies_live_and_regenerates_the_daemon_settings(device, capsys):
    assert routerctl.main(["passthrough", "enable", "pptp"]) == 0
    assert running()["nat"]["helpers"]["pptp"] is True
    settings = json.loads((files.RUN / "router.json").read_text())
    assert settings["nat"]["helpers"]["pptp"] is True
    assert settings["wan"] == {"mode": "dhcp"}
    assert device == ["reload"]
    routerctl.main(["passthrough"])
    assert "pptp   on" in capsys.readouterr().out


def test_changes_are_not_saved_until_save(device):
    routerctl.main(["profile", "symmetric"])
    assert files.saved_store().load().nat.profile == "restricted-cone"
    assert routerctl.main(["save"]) == 0
    saved = files.saved_store().load()
    assert saved.nat.profile == "symmetric" and saved.nat.port_parity is False


def test_forward_add_and_remove(device, capsys):
    assert routerctl.main(["forward", "add", "tcp", "8080", "192.168.1.50:80"]) == 0
    assert running()["nat"]["port_forwards"][0]["host_port"] == 80
    assert routerctl.main(["forward", "add", "udp", "5000-5010", "192.168.1.51"]) == 0
    routerctl.main(["forward", "list"])
    assert "udp 5000-5010 -> 192.168.1.51:5000" in capsys.readouterr().out
    assert routerctl.main(["forward", "remove", "tcp", "8080"]) == 0
    assert [f["proto"] for f in running()["nat"]["port_forwards"]] == ["udp"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["forward", "add", "tcp", "99999", "192.168.1.50"], "nat.port_forwards[0].ext_port"),
        (["forward", "add", "tcp", "80", "10.9.9.9"], "is not in 192.168.1.0/24"),
        (["forward", "add", "tcp", "eighty", "192.168.1.5"], "ports must be numbers"),
        (["forward", "remove", "udp", "53"], "no udp forward on port 53"),
        (["profile", "no-such"], "unknown NAT profile"),
        (["passthrough", "enable", "telnet"], "unknown passthrough"),
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


def test_udhcpd_conf_from_the_shared_model():
    from nat.router_config import RouterConfig

    conf = files.udhcpd_conf(
        RouterConfig.from_dict({"wan": {"mode": "dhcp", "dns_servers": ["192.0.2.53"]}}), "/l"
    )
    assert "start 192.168.1.100\nend 192.168.1.199\n" in conf
    assert "option subnet 255.255.255.0" in conf and "option dns 192.168.1.1" in conf
