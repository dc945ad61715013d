"""`natbox firmware manifest DIR`: latest.json names the newest firmware by its manifest's
version, skips what does not parse, and is what the device's client reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import BOARD, make

from natbox.cli import main
from router.firmware import format as fw
from router.update import server


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_the_newest_version_wins_not_the_newest_name(tmp_path: Path, key, capsys) -> None:
    # By name "natbox-0.9.0" sorts after "natbox-0.10.0"; by version it is older.
    for version in ("0.9.0", "0.10.0", "0.2.0"):
        (tmp_path / f"natbox-{version}.fw").write_bytes(make(key, version=version))
    assert main(["firmware", "manifest", str(tmp_path)]) == 0
    newest = (tmp_path / "natbox-0.10.0.fw").read_bytes()
    assert json.loads((tmp_path / "latest.json").read_text()) == {
        "format": 1,
        "latest": {"version": "0.10.0", "file": "natbox-0.10.0.fw", "size": len(newest),
                   "sha256": fw.sha256(newest), "compatible": BOARD},
    }  # fmt: skip
    assert "latest.json: 0.10.0 (natbox-0.10.0.fw," in capsys.readouterr().out


def test_junk_is_skipped_with_a_warning(tmp_path: Path, key, capsys) -> None:
    (tmp_path / "good.fw").write_bytes(make(key, version="0.2.0"))
    (tmp_path / "junk.fw").write_bytes(b"not a firmware at all")
    (tmp_path / "cut.fw").write_bytes(make(key, version="0.3.0")[:40])
    (tmp_path / "odd.fw").write_bytes(make(key, version="nightly"))
    (tmp_path / "newer.bin").write_bytes(make(key, version="9.0.0"))  # not *.fw: not offered
    assert main(["firmware", "manifest", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert sorted(line.split(":")[2].strip() for line in err) == [
        "skipping cut.fw", "skipping junk.fw", "skipping odd.fw",
    ]  # fmt: skip
    assert all(line.startswith("natbox firmware manifest: warning: ") for line in err)
    assert json.loads((tmp_path / "latest.json").read_text())["latest"]["file"] == "good.fw"


def test_the_manifest_is_what_the_device_reads(tmp_path: Path, key) -> None:
    (tmp_path / "a b#1.fw").write_bytes(make(key, version="0.2.0"))
    assert main(["firmware", "manifest", str(tmp_path)]) == 0
    latest = server.parse_manifest((tmp_path / "latest.json").read_bytes(), "test")
    assert latest["file"] == "a%20b%231.fw"  # a relative URL: the name quoted
    assert latest["version"] == "0.2.0" and latest["size"] == (tmp_path / "a b#1.fw").stat().st_size


def test_no_firmware_is_a_one_line_refusal(tmp_path: Path, capsys) -> None:
    (tmp_path / "junk.fw").write_bytes(b"junk")
    assert main(["firmware", "manifest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("natbox firmware manifest: error: argument dir: no")
    assert not (tmp_path / "latest.json").exists()
    with pytest.raises(SystemExit) as exit_:
        main(["firmware", "manifest", str(tmp_path / "missing")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_two_files_of_the_newest_version_are_refused_naming_both(tmp_path: Path, key, capsys):
    """natbox-0.2.0-health-fails.fw sorts before natbox-0.2.0.fw: picking by name would serve
    the test build."""
    (tmp_path / "natbox-0.2.0-health-fails.fw").write_bytes(make(key, version="0.2.0",
                                                                 rootfs=b"F" * 40))  # fmt: skip
    (tmp_path / "natbox-0.2.0.fw").write_bytes(make(key, version="0.2.0"))
    assert main(["firmware", "manifest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "natbox-0.2.0-health-fails.fw" in err and "natbox-0.2.0.fw" in err
    assert not (tmp_path / "latest.json").exists()
