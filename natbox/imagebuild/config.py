"""Board configuration (image/configs/<board>_defconfig) and package recipes (image/package/)."""

from __future__ import annotations

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
