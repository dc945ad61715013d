"""Step kernel: the kernel ELF out of Debian's vmlinuz (compressed for the firmware, see
vmlinux.py) and only the board's modules (decompressed, loaded in order)."""

from __future__ import annotations

import lzma
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from natbox.firmware import kernel_payload
from natbox.imagebuild import vmlinux
from natbox.imagebuild.util import fresh_dir


@dataclass(frozen=True)
class Kernel:
    release: str
    bzimage_bytes: int  # Debian's vmlinuz, for the build log
    vmlinux_zst: Path  # the firmware's kernel payload (kernel_payload.VMLINUX_ZSTD)
    modules: tuple[Path, ...]  # in load order, relative to the kernel output dir


def prepare(deb: Path, wanted: tuple[str, ...], out: Path) -> Kernel:
    fresh_dir(out)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        boot = sorted(Path(tmp, "boot").glob("vmlinuz-*"))
        if len(boot) != 1:
            raise RuntimeError(f"expected one vmlinuz in {deb.name}, got {boot}")
        release = boot[0].name.removeprefix("vmlinuz-")
        bzimage = boot[0].read_bytes()
        (out / "vmlinux.zst").write_bytes(kernel_payload.pack(vmlinux.extract(bzimage)))
        moddir = Path(tmp, "lib", "modules", release)
        index = {}
        for ko in moddir.rglob("*.ko*"):
            index[ko.name.split(".ko")[0].replace("-", "_")] = ko
        modules = []
        for name in wanted:
            ko = index.get(name.replace("-", "_"))
            if ko is None:
                raise RuntimeError(f"module {name} is not in {deb.name} (built in?)")
            rel = Path("lib", "modules", release, ko.relative_to(moddir)).with_suffix("")
            rel = rel if rel.suffix == ".ko" else rel.with_suffix(".ko")
            data = ko.read_bytes()
            if ko.name.endswith(".xz"):
                data = lzma.decompress(data)
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
            modules.append(rel)
    (out / "release").write_text(release + "\n")
    return Kernel(release, len(bzimage), out / "vmlinux.zst", tuple(modules))
