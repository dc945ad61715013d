"""Recipe LINKS="busybox": one symlink per applet, where no real program is installed."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path


def install_links(root: Path, skip: tuple[str, ...] = ()) -> int:
    """Link every applet busybox lists, except paths matching a skip glob."""
    busybox = root / "bin" / "busybox"
    # busybox-static runs on the build host as is.
    listing = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    made = 0
    for rel in sorted(listing):
        link = root / rel
        if link.exists() or link.is_symlink() or any(fnmatch.fnmatchcase(rel, g) for g in skip):
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(busybox, link.parent), link)
        made += 1
    return made
