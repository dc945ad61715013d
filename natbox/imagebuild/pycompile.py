"""Step pycompile: byte-compile with the TARGET's interpreter (run through the target's own
dynamic loader, no chroot or root needed), as unchecked-hash .pyc so that the bytecode does
not depend on file timestamps. With PYTHON_PYC_ONLY the sources are removed afterwards."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

MULTIARCH = "x86_64-linux-gnu"


def target_python(
    root: Path, *args: str, extra_path: list[str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    libs = [root / "lib" / MULTIARCH, root / "usr" / "lib" / MULTIARCH]
    env = {
        "PYTHONHOME": str(root / "usr"),
        "PYTHONHASHSEED": "0",
        "LC_ALL": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if extra_path:
        env["PYTHONPATH"] = ":".join(extra_path)
    cmd = [
        str(libs[0] / "ld-linux-x86-64.so.2"),
        "--library-path",
        ":".join(map(str, libs)),
        str(root / "usr" / "bin" / "python3.11"),
        *args,
    ]
    # cwd=root: `-c` puts the working directory on sys.path, which must not be the host tree.
    return subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=check)


def compile_tree(root: Path, rel_dirs: list[str], pyc_only: bool) -> int:
    """Compile every .py under root/<rel_dir> (or that one .py file); return how many .pyc
    files were written."""
    dirs = [str(root / d) for d in rel_dirs if (root / d).is_dir() or d.endswith(".py")]
    if not dirs:
        return 0
    args = [
        "-m",
        "compileall",
        "-q",
        "-f",
        "-j",
        "1",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(root),
        "-p",
        "/",
    ]
    if pyc_only:
        args.append("-b")  # legacy location (next to the source) so it imports without it
    # A few files in third-party trees are templates, not Python: compileall reports them
    # and carries on; they are removed with the other sources below when pyc_only.
    target_python(root, *args, *dirs, check=False)
    count = 0
    for d in dirs:
        sources = [Path(d)] if d.endswith(".py") else sorted(Path(d).rglob("*.py"))
        for py in sources:
            pyc = py.with_suffix(".pyc") if pyc_only else None
            if pyc_only and pyc is not None and pyc.exists():
                py.unlink()
                count += 1
        if not pyc_only and not d.endswith(".py"):
            count += len(list(Path(d).rglob("*.pyc")))
    return count
