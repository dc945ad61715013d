"""Board configuration (image/configs/<board>_defconfig) and package recipes (image/package/)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BOARD = "natbox_x86_64"


def parse_kv(text: str, origin: str) -> dict[str, str]:
    """KEY="value" lines, # comments, a trailing backslash continues a line (shell quoting)."""
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.replace("\\\n", " ").split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{origin}:{lineno}: expected KEY=value, got {line!r}")
        words = shlex.split(value, comments=True)
        out[key.strip()] = " ".join(words)
    return out


@dataclass(frozen=True)
class Recipe:
    """What to do with one Debian package beyond extracting it (image/package/<name>.conf)."""

    name: str
    strip: tuple[str, ...] = ()
    drop: bool = False  # pulled in by a dependency but not installed on the target
    links: str = ""  # "busybox": create the applet symlinks


@dataclass(frozen=True)
class BoardConfig:
    board: str
    compatible: str
    version: str
    compat_version: str
    suite: str
    arch: str
    kernel_package: str
    kernel_modules: tuple[str, ...]
    kernel_nat_modules: tuple[str, ...]  # installed, loaded only by router.kernelnat
    kernel_cmdline: str
    packages: tuple[str, ...]
    project_python_packages: tuple[str, ...]
    strip_global: tuple[str, ...]
    pyc_only: bool
    compression: str
    initramfs_parts: int
    overlay: str
    device_table: str
    max_firmware_bytes: int
    dev_key: bool
    recipes: dict[str, Recipe] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    def recipe(self, package: str) -> Recipe:
        return self.recipes.get(package, Recipe(package))


def load_recipes(directory: Path) -> dict[str, Recipe]:
    recipes = {}
    for path in sorted(directory.glob("*.conf")):
        kv = parse_kv(path.read_text(), str(path))
        recipes[path.stem] = Recipe(
            path.stem,
            tuple(kv.get("STRIP", "").split()),
            kv.get("DROP", "n") == "y",
            kv.get("LINKS", ""),
        )
    return recipes


def load(tree: Path, board: str = DEFAULT_BOARD) -> BoardConfig:
    path = tree / "image" / "configs" / f"{board}_defconfig"
    kv = parse_kv(path.read_text(), str(path))
    try:
        return BoardConfig(
            board=kv["BOARD"],
            compatible=kv["COMPATIBLE"],
            version=kv["VERSION"],
            compat_version=kv["COMPAT_VERSION"],
            suite=kv["DEBIAN_SUITE"],
            arch=kv["DEBIAN_ARCH"],
            kernel_package=kv["KERNEL_PACKAGE"],
            kernel_modules=tuple(kv.get("KERNEL_MODULES", "").split()),
            kernel_nat_modules=tuple(kv.get("KERNEL_NAT_MODULES", "").split()),
            kernel_cmdline=" ".join(kv.get("KERNEL_CMDLINE", "console=ttyS0").split()),
            packages=tuple(kv["PACKAGES"].split()),
            project_python_packages=tuple(kv.get("PROJECT_PYTHON_PACKAGES", "").split()),
            strip_global=tuple(kv.get("STRIP_GLOBAL", "").split()),
            pyc_only=kv.get("PYTHON_PYC_ONLY", "n") == "y",
            compression=kv.get("INITRAMFS_COMPRESSION", "xz"),
            initramfs_parts=int(kv.get("INITRAMFS_PARTS", "1")),
            overlay=kv.get("ROOTFS_OVERLAY", "rootfs"),
            device_table=kv.get("DEVICE_TABLE", ""),
            max_firmware_bytes=int(kv.get("MAX_FIRMWARE_BYTES", str(25 * 1024 * 1024))),
            dev_key=kv.get("DEV_KEY", "y") == "y",
            recipes=load_recipes(tree / "image" / "package"),
            raw=kv,
        )
    except KeyError as e:
        raise ValueError(f"{path}: missing {e.args[0]}") from e


def check_version(text: str) -> str:
    """A version the device can order (router.firmware.verify.version_key): "0.2.0"."""
    # Imported here: the CLI's parser uses this, and the keyring behind verify needs
    # cryptography, which `natbox lab` or `natbox ui` do not.
    from router.firmware.verify import version_key

    if version_key(text) is None:
        raise ValueError(f"{text!r} is not a version of dotted numbers such as 0.2.0 (at most 8)")
    return text


def version_arg(text: str) -> str:
    """``check_version`` as an argparse type: a bad value is one line naming the argument."""
    try:
        return check_version(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


version_arg.__name__ = "version"


# Test firmware that misbehaves on purpose (/etc/natbox/test-fault names the fault; only these
# builds have it, and the init script a fault needs: natbox.imagebuild.overlay). Each must be
# rolled back by the old slot within the boot attempts:
#   health-fails   boots, and its health check fails (it reboots into the next attempt);
#   panic-at-boot  the kernel panics early in boot (panic=-1 resets the board);
#   hang-at-boot   the boot stops before the health check (the trial watchdog resets it);
#   never-commit   boots and runs, but never checks its health, so never marks itself good.
TEST_FAULTS = ("health-fails", "panic-at-boot", "hang-at-boot", "never-commit")


def override(
    cfg: BoardConfig,
    version: str | None = None,
    compat_version: str | None = None,
    test_fault: str | None = None,
) -> BoardConfig:
    """The same board under another version (a firmware to test updates with), or built with
    a test fault. ``raw`` follows, so the step keys that hash it see the change."""
    version = cfg.version if version is None else check_version(version)
    compat = cfg.compat_version if compat_version is None else check_version(compat_version)
    raw = {**cfg.raw, "VERSION": version, "COMPAT_VERSION": compat}
    if test_fault:
        if test_fault not in TEST_FAULTS:
            raise ValueError(f"{test_fault!r} is not a test fault ({', '.join(TEST_FAULTS)})")
        raw["TEST_FAULT"] = test_fault
    return dataclasses.replace(cfg, version=version, compat_version=compat, raw=raw)


def test_fault(cfg: BoardConfig) -> str:
    return cfg.raw.get("TEST_FAULT", "")


def compat_tag(default: BoardConfig, cfg: BoardConfig) -> str:
    """Part of an overridden build's names: a compat bump of the same version is another
    firmware, and must not replace the plain one's file."""
    tag = "" if cfg.compat_version == default.compat_version else f"-compat{cfg.compat_version}"
    return tag + (f"-{test_fault(cfg)}" if test_fault(cfg) else "")


def variant_dir_name(default: BoardConfig, cfg: BoardConfig) -> str:
    """build/image/<this>: the board's own for the defconfig's version, <board>@<version>
    (and the compat tag) for an override, so switching versions keeps both builds."""
    if (cfg.version, cfg.compat_version) == (default.version, default.compat_version) and not (
        test_fault(cfg)
    ):
        return cfg.board
    return f"{cfg.board}@{cfg.version}{compat_tag(default, cfg)}"


def find_tree(start: Path) -> Path | None:
    for d in [start, *start.resolve().parents]:
        if (d / "image" / "configs").is_dir():
            return d
    return None


def default_board_compatible(start: Path) -> str | None:
    tree = find_tree(start)
    return load(tree).compatible if tree else None


def default_keyring_dir(start: Path) -> Path:
    """The keyring the last build put into the image (build/image/<board>/keyring)."""
    tree = find_tree(start) or start
    return tree / "build" / "image" / DEFAULT_BOARD / "keyring"
