"""Step packages: extract the fetched .debs (except DROP recipes) and strip what a router
does not need, remembering which package owns each path for the size report."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import tarfile
from collections import defaultdict
from pathlib import Path

from natbox.imagebuild.config import BoardConfig


def package_name(deb: Path) -> str:
    return deb.name.split("_", 1)[0]


def extract(
    debs: list[Path], cfg: BoardConfig, dest: Path
) -> tuple[dict[str, str], dict[str, int]]:
    """Extract every non-dropped package into dest.

    Returns {relative path: package} and every package's unstripped size (dropped ones too).
    """
    owners: dict[str, str] = {}
    sizes: dict[str, int] = defaultdict(int)
    for deb in sorted(debs):
        name = package_name(deb)
        drop = cfg.recipe(name).drop
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                rel = os.path.normpath(member.name).lstrip("/")
                if rel in ("", "."):
                    continue
                sizes[name] += member.size if member.isfile() else 0
                if drop:
                    continue
                member.name = rel
                tar.extract(member, dest, set_attrs=True, filter="fully_trusted")
                if not member.isdir():
                    owners[rel] = name
        if proc.wait() != 0:
            raise RuntimeError(f"dpkg-deb failed on {deb}")
    return owners, dict(sizes)


def strip_patterns(cfg: BoardConfig, present: set[str]) -> list[tuple[str, str]]:
    """(glob, origin) pairs: the board's STRIP_GLOBAL and each installed package's STRIP."""
    pats = [(g, "global") for g in cfg.strip_global]
    for name in sorted(present):
        pats += [(g, name) for g in cfg.recipe(name).strip]
    return pats


def size_of(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_dir():
        return sum(size_of(p) for p in path.rglob("*") if not p.is_symlink() and p.is_file())
    return path.stat().st_size


def strip(root: Path, patterns: list[tuple[str, str]]) -> dict[str, int]:
    """Remove every path matching a pattern (directories whole); return bytes removed by glob."""
    removed: dict[str, int] = defaultdict(int)
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        base = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            p = base / name
            rel = str(p.relative_to(root))
            for glob, _origin in patterns:
                if fnmatch.fnmatchcase(rel, glob):
                    removed[glob] += size_of(p)
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                        dirnames.remove(name)
                    else:
                        p.unlink()
                    break
    return dict(removed)
