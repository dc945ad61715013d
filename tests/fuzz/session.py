"""Fuzz every target, each in its own process (libFuzzer owns the process it runs in).

Used by the bounded run in tests/fuzz/test_fuzz_bounded.py and by bench/fuzz_bench.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.run import executions

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


@dataclass(frozen=True)
class Result:
    target: str
    execs: int
    crashed: bool
    seconds: float
    log: str  # libFuzzer's output, the traceback included when it crashed
    crash_files: tuple[Path, ...]


def fuzz(target: str, runs: int, crashes: Path, timeout: float | None = None) -> Result:
    """``runs`` executions of ``target``, from its seeds, in a scratch corpus."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]))
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as corpus:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "fuzz.run", target, f"--runs={runs}",
             f"--corpus={corpus}", f"--crashes={crashes}"],
            cwd=TESTS, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
    log = done.stdout + done.stderr
    files = tuple(sorted(crashes.glob(f"{target}-*")))
    return Result(target, executions(log), done.returncode != 0, seconds, log, files)
