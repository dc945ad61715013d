"""Step fetch: resolve and download the Debian packages with mmdebstrap into a cache.

The cache (~/.cache/natbox/debs/<key>/, or $NATBOX_CACHE/debs) is keyed by the package
list, suite, architecture and the host's APT sources, lives outside the tree and so
survives `make clean`. A build with a complete cache entry needs no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from natbox.imagebuild.config import BoardConfig
from natbox.imagebuild.util import hash_strings

APT_SOURCES = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]


def cache_root() -> Path:
    base = os.environ.get("NATBOX_CACHE") or Path.home() / ".cache" / "natbox"
    return Path(base) / "debs"


def host_sources() -> list[Path]:
    """The host's own APT sources (mmdebstrap accepts .list and .sources files as mirrors)."""
    return [
        p
        for p in APT_SOURCES
        if p.is_file() and p.suffix in (".list", ".sources") and p.stat().st_size > 0
    ]


@dataclass(frozen=True)
class Fetched:
    directory: Path
    rootfs_debs: tuple[Path, ...]
    kernel_deb: Path
    key: str


def _key(cfg: BoardConfig) -> str:
    sources = [(str(p), p.read_text()) for p in host_sources()]
    return hash_strings(
        "fetch-v1", cfg.suite, cfg.arch, sorted(cfg.packages), cfg.kernel_package, sources
    )[:16]


def _load(directory: Path, key: str) -> Fetched:
    index = json.loads((directory / "index.json").read_text())
    return Fetched(
        directory, tuple(directory / n for n in index["rootfs"]), directory / index["kernel"], key
    )


def fetch(cfg: BoardConfig, log) -> Fetched:
    key = _key(cfg)
    dest = cache_root() / key
    if (dest / "index.json").exists():
        log(f"cached in {dest}")
        return _load(dest, key)
    tmp = dest.with_name(key + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "rootfs").mkdir(parents=True)
    (tmp / "kernel").mkdir()
    chroot = tmp / "chroot"
    # Runs inside mmdebstrap with its APT_CONFIG: copy the resolved .debs out, then fetch the
    # real kernel package behind the metapackage (not installed in the rootfs).
    hook = (
        f'cp "$1"/var/cache/apt/archives/*.deb {tmp}/rootfs/ && cd {tmp}/kernel && '
        f"pkg=$(apt-cache depends {cfg.kernel_package} | "
        "awk '/Depends: linux-image-/ {print $2; exit}') && "
        'apt-get -q -o APT::Sandbox::User=root download "$pkg"'
    )
    cmd = [
        "mmdebstrap",
        "--quiet",
        "--variant=extract",
        f"--architectures={cfg.arch}",
        "--skip=cleanup/apt,download/empty",
        f"--include={','.join(cfg.packages)}",
        f"--extract-hook={hook}",
        cfg.suite,
        str(chroot),
        *map(str, host_sources()),
    ]
    log(f"mmdebstrap {cfg.suite}: {' '.join(cfg.packages)} + {cfg.kernel_package}")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(chroot)
    kernels = sorted((tmp / "kernel").glob("linux-image-*.deb"))
    if len(kernels) != 1:
        raise RuntimeError(f"expected one kernel package, got {kernels}")
    for deb in (tmp / "rootfs").glob("*.deb"):
        os.replace(deb, tmp / deb.name)
    os.replace(kernels[0], tmp / kernels[0].name)
    (tmp / "rootfs").rmdir()
    (tmp / "kernel").rmdir()
    rootfs = sorted(p.name for p in tmp.glob("*.deb") if p.name != kernels[0].name)
    (tmp / "index.json").write_text(
        json.dumps({"rootfs": rootfs, "kernel": kernels[0].name}, indent=1)
    )
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    log(f"{len(rootfs)} packages + {kernels[0].name} in {dest}")
    return _load(dest, key)
