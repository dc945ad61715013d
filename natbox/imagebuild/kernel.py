"""Step kernel: take vmlinuz and only the board's modules (decompressed, loaded in order)."""

from __future__ import annotations

import lzma
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from natbox.imagebuild.util import fresh_dir


@dataclass(frozen=True)
class Kernel:
    release: str
    vmlinuz: Path
    modules: tuple[Path, ...]  # in load order, relative to the kernel output dir


def prepare(deb: Path, wanted: tuple[str, ...], out: Path) -> Kernel:
    fresh_dir(out)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        boot = sorted(Path(tmp, "boot").glob("vmlinuz-*"))
        if len(boot) != 1:
            raise RuntimeError(f"expected one vmlinuz in {deb.name}, got {boot}")
        release = boot[0].name.removeprefix("vmlinuz-")
        (out / "vmlinuz").write_bytes(boot[0].read_bytes())
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
    return Kernel(release, out / "vmlinuz", tuple(modules))
