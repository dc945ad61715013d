"""The update fault matrix (natbox.faults.matrix), the whole of it, timed: how many scenarios
ran, how many left a device that no longer boots a good firmware (must be 0), and the wall
time (the groups side by side, as `make test` runs them). Needs root (lab taps) and QEMU."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent


def main() -> None:
    if os.geteuid() != 0 or shutil.which("qemu-system-x86_64") is None:
        print("faults_bench: skipped (needs root and qemu-system-x86_64)")
        return
    from natbox.faults import matrix

    os.environ.setdefault("NATBOX_TREE", str(TREE))
    with tempfile.TemporaryDirectory(prefix="natbox-faults-bench-") as tmp:
        outcomes, seconds = matrix.run(TREE, Path(tmp), log=lambda line: None)
    matrix.write_json(outcomes, seconds, TREE / "out" / "faults" / "bench-matrix.json")
    print(matrix.table(outcomes))
    print(f"BENCH faults.scenarios {len(outcomes)} count")
    print(f"BENCH faults.as_expected {sum(o.ok for o in outcomes)} count")
    print(f"BENCH faults.bricked {sum(o.bricked for o in outcomes)} count")
    print(f"BENCH faults.matrix_s {seconds:.1f} s")
