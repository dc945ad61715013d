"""The passthrough matrix's netns grid as `natbox matrix` runs it (two labs side by side):

- matrix.cells: cells that ran (scenario x switch on/off x profile x one or two clients);
- matrix.mismatches: cells whose observed outcome differs from the expected one (must be 0);
- matrix.wall_s: the grid's wall time, with the serial sum of the cells' own durations beside
  it as its anchor (what running them one by one would take without the labs' set-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "matrix"
        natbox = Path(sys.executable).with_name("natbox")  # the package's console script
        result = subprocess.run([str(natbox), "matrix", "--mode", "netns",
                                 "--jobs", "2", "--out", str(out)], cwd=TREE,
                                env={**os.environ, "NATBOX_TREE": str(TREE)},
                                capture_output=True, text=True, timeout=3600)  # fmt: skip
        report = out / "matrix.json"
        if not report.exists():
            print(f"matrix bench: no report (exit {result.returncode}): "
                  f"{result.stdout[-1500:]}{result.stderr[-1500:]}")  # fmt: skip
            return
        facts = json.loads(report.read_text())
        serial = sum(c["seconds"] for c in facts["cell_list"])
        print(f"BENCH matrix.cells {facts['cells']} cells", flush=True)
        print(f"BENCH matrix.mismatches {facts['mismatches']} cells", flush=True)
        print(f"BENCH matrix.wall_s {facts['wall_s']:.1f} s (cells' own durations add up to "
              f"{serial:.1f} s)", flush=True)  # fmt: skip
