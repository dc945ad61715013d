"""The board defconfig and package recipes parse; strip rules remove what they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from natbox.imagebuild import config, packages

TREE = Path(__file__).resolve().parents[3]


def test_default_board_loads() -> None:
    cfg = config.load(TREE)
    assert cfg.board == "natbox_x86_64"
    assert cfg.compatible == "natbox,qemu-x86_64"
    assert "python3-minimal" in cfg.packages and "busybox-static" in cfg.packages
    assert cfg.kernel_package == "linux-image-cloud-amd64"
    assert cfg.kernel_modules.index("virtio_ring") < cfg.kernel_modules.index("virtio_pci")
    assert cfg.kernel_modules.index("failover") < cfg.kernel_modules.index("virtio_net")
    assert cfg.max_firmware_bytes <= 25_000_000
    assert cfg.recipe("dpkg").drop and not cfg.recipe("python3-minimal").drop
    assert cfg.recipe("busybox-static").links == "busybox"
    assert "usr/share/doc" in cfg.strip_global


def test_parse_kv() -> None:
    kv = config.parse_kv('# c\nA="x y" # trailing\nB=one \\\n  two\n', "t")
    assert kv == {"A": "x y", "B": "one two"}
    with pytest.raises(ValueError, match="t:1"):
        config.parse_kv("not a setting\n", "t")


def test_strip_removes_matches_whole(tmp_path: Path) -> None:
    (tmp_path / "usr/share/doc/pkg").mkdir(parents=True)
    (tmp_path / "usr/share/doc/pkg/changelog.gz").write_bytes(b"x" * 10)
    (tmp_path / "usr/lib/python3.11/encodings").mkdir(parents=True)
    (tmp_path / "usr/lib/python3.11/encodings/mac_roman.py").write_bytes(b"y" * 5)
    (tmp_path / "usr/lib/python3.11/encodings/utf_8.py").write_bytes(b"z")
    removed = packages.strip(
        tmp_path, [("usr/share/doc", "global"), ("usr/lib/python3.11/encodings/mac_*", "p")]
    )
    assert removed == {"usr/share/doc": 10, "usr/lib/python3.11/encodings/mac_*": 5}
    assert not (tmp_path / "usr/share/doc").exists()
    assert (tmp_path / "usr/lib/python3.11/encodings/utf_8.py").exists()
