"""Firmware image: size of the signed firmware and the time of a build from a clean tree.

The build goes to a temporary directory, which is what `make clean` leaves behind (the .deb
cache in ~/.cache/natbox survives `make clean`, so no download is timed once it is warm).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent


def main() -> None:
    from natbox.imagebuild.build import make_build

    with tempfile.TemporaryDirectory(prefix="natbox-bench-") as tmp:
        b = make_build(TREE, build_dir=Path(tmp) / "build", out_dir=Path(tmp) / "out", quiet=True)
        t0 = time.monotonic()
        b.run()
        elapsed = time.monotonic() - t0
        s = b.stats()
    print(f"BENCH image.firmware_bytes {s['firmware_bytes']} bytes")
    print(f"BENCH image.build_s {elapsed:.1f} s")
    # Baselines from the same build: every rootfs package as Debian ships it, unstripped and
    # uncompressed, against what the image holds (uncompressed) and its initramfs (xz).
    print(f"BENCH image.unstripped_bytes {s['unstripped_bytes']} bytes")
    print(f"BENCH image.rootfs_bytes {s['rootfs_bytes']} bytes")
    print(f"BENCH image.initramfs_bytes {s['initramfs_bytes']} bytes")


if __name__ == "__main__":
    main()
