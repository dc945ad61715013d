"""Step target: the rootfs/ skeleton over the packages, the project's Python packages,
the kernel modules, the device keyring and generated files (os-release, board, modules)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from natbox.imagebuild.config import BoardConfig
from router.update.layout import fw_env_config

SITE = Path("usr/lib/python3/dist-packages")
# Never installed from the project's packages.
PROJECT_SKIP = {"__pycache__", "tests", ".pytest_cache"}


def copy_overlay(src: Path, root: Path) -> list[str]:
    """Copy the skeleton (README.md at its top is documentation, not content)."""
    placed = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        base = Path(dirpath)
        rel_dir = base.relative_to(src)
        (root / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            if rel_dir == Path(".") and name == "README.md":
                continue
            target = root / rel_dir / name
            if target.is_symlink() or target.exists():
                target.unlink()
            shutil.copy2(base / name, target, follow_symlinks=False)
            placed.append(str(rel_dir / name))
    return placed


def install_project(tree: Path, packages: tuple[str, ...], root: Path) -> list[str]:
    """Copy nat/, webui/... (sources and package data, no docs or caches) into dist-packages."""
    placed = []
    for pkg in packages:
        src = tree / pkg
        if src.is_file() and src.suffix == ".py":  # one module of a package (nat/packets.py)
            dest = root / SITE / src.relative_to(tree)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            placed.append(str(SITE / src.relative_to(tree)))
            continue
        if not src.is_dir():
            raise FileNotFoundError(f"project package {pkg}/ not found in {tree}")
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if d not in PROJECT_SKIP)
            base = Path(dirpath)
            dest = root / SITE / base.relative_to(tree)
            dest.mkdir(parents=True, exist_ok=True)
            for name in sorted(filenames):
                if name.endswith((".md", ".pyc")):
                    continue
                shutil.copyfile(base / name, dest / name)
                placed.append(str(SITE / base.relative_to(tree) / name))
    return placed


def generated_files(
    cfg: BoardConfig, release: str, modules: list[Path], build_epoch: int,
    nat_modules: Sequence[Path] = (),
) -> dict[str, str]:  # fmt: skip
    mods = "".join(f"{m}\n" for m in modules)
    return {
        "etc/os-release": (
            f'NAME="natbox"\nID=natbox\nID_LIKE=debian\nVERSION="{cfg.version}"\n'
            f'VERSION_ID="{cfg.version}"\nPRETTY_NAME="natbox {cfg.version}"\n'
            f"BUILD_EPOCH={build_epoch}\n"
        ),
        "etc/natbox/board": f"{cfg.compatible}\n",
        "etc/natbox/version": f"{cfg.version}\n",
        "etc/natbox/compat_version": f"{cfg.compat_version}\n",
        "etc/natbox/kernel-release": f"{release}\n",
        # Paths relative to /, loaded in this order by /etc/init.d/S05modules.
        "etc/natbox/modules": mods,
        # The guest kernel's NAT, in load order, for router.kernelnat only (never at boot).
        "etc/natbox/kernel-nat-modules": "".join(f"{m}\n" for m in nat_modules),
        # Where fw_printenv / fw_setenv find the boot environment: the disk layout's own.
        "etc/fw_env.config": fw_env_config(),
    } | test_fault_files(cfg.raw.get("TEST_FAULT", ""))


# What a test fault (natbox.imagebuild.config.TEST_FAULTS) adds to the image besides its name:
# health-fails needs nothing (router.update.health reads the name).
TEST_FAULT_SCRIPTS = {
    "panic-at-boot": ("etc/init.d/S03test-fault",
                      "# Test firmware: the kernel panics early in boot.\n"
                      "[ \"$1\" = start ] && echo c > /proc/sysrq-trigger\n"),
    "hang-at-boot": ("etc/init.d/S55test-fault",
                     "# Test firmware: the boot stops here, after the router starts and before\n"
                     "# the health check (S60update); only the trial watchdog ends it.\n"
                     "[ \"$1\" = start ] && exec sleep 2147483647\n"),
    "never-commit": ("etc/init.d/S60update",
                     "# Test firmware: no health check, so the slot is never marked good.\n"
                     "exit 0\n"),
}  # fmt: skip


def test_fault_files(fault: str) -> dict[str, str]:
    if not fault:
        return {}
    files = {"etc/natbox/test-fault": f"{fault}\n"}
    if fault in TEST_FAULT_SCRIPTS:
        path, body = TEST_FAULT_SCRIPTS[fault]
        files[path] = "#!/bin/sh\n" + body
    return files


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        if rel.startswith("etc/init.d/"):
            (root / rel).chmod(0o755)  # rcS runs only executable scripts
