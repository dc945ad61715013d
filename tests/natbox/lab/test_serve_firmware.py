"""`natbox lab serve-firmware NAME DIR`: its refusals (one line, exit 2, before anything runs)
and what it prints; the server itself runs in a namespace (test_serve_firmware_netns.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import make

from natbox import cli
from natbox.lab import cli as lab_cli
from natbox.lab.names import LabNames


class FakeLab:
    """Lab.load's answer: records what it was asked to serve."""

    def __init__(self, lab_id: str, fail: str = ""):
        self.names, self.fail, self.served = LabNames(lab_id), fail, []

    def serve_firmware(self, directory: str, port: int) -> str:
        if self.fail:
            raise RuntimeError(self.fail)
        self.served.append((directory, port))
        return f"http://198.51.100.10:{port}/"


@pytest.fixture
def lab(monkeypatch):
    """One lab "fw1" (no namespaces); ``lab.load`` is what Lab.load returns."""
    fake = FakeLab("fw1")
    monkeypatch.setattr(lab_cli, "all_lab_ids", lambda: ["fw1"])
    monkeypatch.setattr(lab_cli.Lab, "load", classmethod(lambda cls, lab_id: fake))
    return fake


def one_line(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["NOT-AN-ID", "."], "argument name"),
        (["fw1", "/nonexistent/dir"], "argument dir"),
        (["fw1", ".", "--port", "70000"], "argument --port"),
        (["fw1", ".", "--port", "http"], "argument --port"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(lab, capsys, argv, named):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["lab", "serve-firmware", *argv])
    assert exit_.value.code == 2
    assert named in one_line(capsys) and lab.served == []


def test_an_unknown_lab_is_refused_before_the_manifest_is_written(lab, tmp_path, capsys):
    assert cli.main(["lab", "serve-firmware", "nosuch", str(tmp_path)]) == 2
    assert "no lab 'nosuch'" in one_line(capsys)
    assert not (tmp_path / "latest.json").exists() and lab.served == []


def test_a_directory_without_firmware_is_refused(lab, tmp_path, capsys):
    (tmp_path / "junk.fw").write_bytes(b"junk")
    assert cli.main(["lab", "serve-firmware", "fw1", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "warning: skipping junk.fw" in err[0]
    assert err[1].startswith("natbox lab serve-firmware: error: argument dir: no firmware")
    assert lab.served == []


def test_serving_writes_the_manifest_and_prints_the_url(lab, tmp_path, capsys, monkeypatch):
    key = Ed25519PrivateKey.generate()
    (tmp_path / "natbox-0.2.0.fw").write_bytes(make(key, version="0.2.0"))
    monkeypatch.chdir(tmp_path.parent)
    assert cli.main(["lab", "serve-firmware", "fw1", tmp_path.name, "--port", "8080"]) == 0
    assert lab.served == [(str(tmp_path.resolve()), 8080)]  # absolute: the server's cwd differs
    latest = json.loads((tmp_path / "latest.json").read_text())["latest"]
    assert latest["version"] == "0.2.0"
    out = capsys.readouterr().out
    assert "routerctl firmware server-check http://198.51.100.10:8080/" in out
    assert "natbox lab down fw1" in out


def test_a_server_that_does_not_start_is_one_line_exit_1(lab, tmp_path, capsys):
    key = Ed25519PrivateKey.generate()
    (tmp_path / "a.fw").write_bytes(make(key, version="0.2.0"))
    lab.fail = "the firmware server did not start on 198.51.100.10:8000: see its log"
    assert cli.main(["lab", "serve-firmware", "fw1", str(Path(tmp_path))]) == 1
    assert "did not start" in one_line(capsys)
