"""The initramfs writer: reproducible, parsable, modes normalised, device table applied."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from natbox.imagebuild import cpio


def make_tree(root: Path, umask_mode: int) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow").write_text("root::0:0\n")
    (root / "bin").mkdir()
    (root / "bin" / "busybox").write_bytes(b"\x7fELF" + b"x" * 5)
    os.chmod(root / "bin" / "busybox", 0o700 | umask_mode)
    os.chmod(root / "etc" / "shadow", 0o600 | umask_mode)
    os.symlink("busybox", root / "bin" / "sh")


TABLE = """# comment
/dev/console c 600 0 0 5 1
/tmp d 1777 0 0 - -
/etc/shadow f 600 0 0 - -
"""


def archive(root: Path) -> bytes:
    nodes, modes = cpio.parse_device_table(TABLE)
    return cpio.write_newc(cpio.entries_from_tree(root, modes) + nodes, 1700000000)


def test_same_content_same_bytes_whatever_the_mtimes_and_umask(tmp_path: Path) -> None:
    make_tree(tmp_path / "a", 0o000)
    make_tree(tmp_path / "b", 0o066)
    os.utime(tmp_path / "b" / "bin" / "busybox", (1, 1))
    assert archive(tmp_path / "a") == archive(tmp_path / "b")


def test_read_back(tmp_path: Path) -> None:
    make_tree(tmp_path, 0)
    entries = {e.name: e for e in cpio.read_newc(archive(tmp_path))}
    assert list(entries) == sorted(entries)
    assert entries["bin/busybox"].mode == stat.S_IFREG | 0o755
    assert entries["bin/busybox"].data == b"\x7fELF" + b"x" * 5
    assert entries["bin/sh"].mode == stat.S_IFLNK | 0o777 and entries["bin/sh"].data == b"busybox"
    assert entries["etc/shadow"].mode == stat.S_IFREG | 0o600
    assert entries["dev/console"].mode == stat.S_IFCHR | 0o600
    assert entries["dev/console"].rdev == (5, 1)
    assert entries["tmp"].mode == stat.S_IFDIR | 0o1777


def test_compression_is_deterministic_and_reversible(tmp_path: Path) -> None:
    make_tree(tmp_path, 0)
    raw = archive(tmp_path)
    for method in ("zstd", "xz", "gzip"):
        packed = cpio.compress(raw, method)
        assert packed == cpio.compress(raw, method)
        assert cpio.decompress(packed) == raw


def test_split_archives_concatenate_back_in_order(tmp_path: Path) -> None:
    make_tree(tmp_path, 0)
    nodes, modes = cpio.parse_device_table(TABLE)
    entries = cpio.entries_from_tree(tmp_path, modes) + nodes
    runs = cpio.split(entries, 2)
    assert len(runs) == 2
    whole = cpio.read_newc(cpio.write_newc(entries, 5))
    parts = [cpio.write_newc(r, 5) for r in runs]
    assert cpio.read_newc(b"".join(parts)) == whole
    for method in ("zstd", "xz"):
        packed = cpio.compress_parallel(parts, method)
        assert packed == cpio.compress_parallel(parts, method)
        assert cpio.read_newc(cpio.decompress(packed)) == whole
