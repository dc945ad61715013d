"""`natbox firmware verify` prints one line per check and fails on any failed check."""

from __future__ import annotations

from pathlib import Path

from fwfactory import BOARD, make

from natbox.cli import main
from natbox.firmware.keys import load_or_create_dev_key


def test_verify_reports_each_check(tmp_path: Path, capsys) -> None:
    key, _ = load_or_create_dev_key(tmp_path)
    ring = tmp_path / "ring"
    ring.mkdir()
    (ring / "dev.pub").write_bytes((tmp_path / "dev-ed25519.pub").read_bytes())
    good = tmp_path / "good.fw"
    good.write_bytes(make(key))
    assert main(["firmware", "verify", str(good), "--keyring", str(ring), "--board", BOARD]) == 0
    out = capsys.readouterr().out
    for check in ("format", "signature", "board", "size", "hash:kernel", "hash:rootfs"):
        assert f"PASS  {check}" in out
    assert "VALID" in out

    other = tmp_path / "other.fw"
    other.write_bytes(make(key, compatible="natbox,other"))
    assert main(["firmware", "verify", str(other), "--keyring", str(ring), "--board", BOARD]) == 1
    out = capsys.readouterr().out
    assert "FAIL  board" in out and "INVALID" in out


def test_info_prints_the_manifest(tmp_path: Path, capsys) -> None:
    key, _ = load_or_create_dev_key(tmp_path)
    f = tmp_path / "x.fw"
    f.write_bytes(make(key))
    assert main(["firmware", "info", str(f)]) == 0
    assert '"compatible": "natbox,qemu-x86_64"' in capsys.readouterr().out
