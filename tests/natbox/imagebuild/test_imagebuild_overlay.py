"""The skeleton and the project's packages land where the target expects them."""

from __future__ import annotations

from pathlib import Path

from natbox.imagebuild import overlay, report


def test_overlay_and_project(tmp_path: Path) -> None:
    tree, root = tmp_path / "tree", tmp_path / "root"
    (tree / "rootfs" / "etc" / "init.d").mkdir(parents=True)
    (tree / "rootfs" / "README.md").write_text("docs")
    (tree / "rootfs" / "etc" / "init.d" / "S10x").write_text("#!/bin/sh\n")
    (tree / "nat" / "tests").mkdir(parents=True)
    (tree / "nat" / "__pycache__").mkdir()
    (tree / "nat" / "__init__.py").write_text("")
    (tree / "nat" / "README.md").write_text("")
    (tree / "nat" / "tests" / "test_x.py").write_text("")
    (tree / "nat" / "__pycache__" / "x.pyc").write_bytes(b"")
    (tree / "webui").mkdir()
    (tree / "webui" / "README.md").write_text("placeholder")
    root.mkdir()
    assert overlay.copy_overlay(tree / "rootfs", root) == ["etc/init.d/S10x"]
    placed = overlay.install_project(tree, ("nat", "webui"), root)
    assert placed == ["usr/lib/python3/dist-packages/nat/__init__.py"]
    assert (root / "usr/lib/python3/dist-packages/webui").is_dir()  # a namespace package


def test_component_attribution() -> None:
    owners = {"usr/lib/python3.11/os.py": "libpython3.11-stdlib"}
    tags = {"etc/inittab": "skeleton"}
    assert report.component_of("usr/lib/python3.11/os.pyc", owners, tags) == (
        "libpython3.11-stdlib"
    )
    assert report.component_of("etc/inittab", owners, tags) == "skeleton"
    assert report.component_of("lib/modules/6.1/virtio.ko", owners, tags) == "kernel modules"
    assert report.component_of("etc/unknown", owners, tags) == "other"
