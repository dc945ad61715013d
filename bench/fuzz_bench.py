"""The long fuzz run: every parser target for 1,000,000 executions, from its seed corpus.

Prints ``BENCH fuzz.execs.<target> <n> execs`` per target, the total as ``BENCH fuzz.execs``
and ``BENCH fuzz.crashes`` (must be 0; a crash's input and traceback are printed too).
NATBOX_FUZZ_EXECS changes the count, NATBOX_FUZZ_JOBS how many targets run at once,
NATBOX_FUZZ_TARGETS (comma-separated) runs only those (a fixed target again, say).
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))  # the harness lives with the tests (tests/fuzz)

from fuzz.session import fuzz  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402

EXECS = int(os.environ.get("NATBOX_FUZZ_EXECS", 1_000_000))
JOBS = int(os.environ.get("NATBOX_FUZZ_JOBS", 2))
ONLY = [t for t in os.environ.get("NATBOX_FUZZ_TARGETS", "").split(",") if t]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-crashes-") as scratch:
        crashes = Path(os.environ.get("NATBOX_FUZZ_CRASHES", scratch))
        with ThreadPoolExecutor(JOBS) as pool:
            targets = sorted(ONLY or TARGETS)
            unknown = sorted(set(targets) - set(TARGETS))
            if unknown:
                raise SystemExit(f"fuzz_bench: no target {unknown[0]!r} (tests/fuzz/targets.py)")
            results = list(pool.map(lambda t: fuzz(t, EXECS, crashes), targets))
        for r in results:
            rate = r.execs / r.seconds if r.seconds else 0.0
            print(f"BENCH fuzz.execs.{r.target} {r.execs} execs", flush=True)
            print(f"BENCH fuzz.seconds.{r.target} {r.seconds:.1f} s ({rate:.0f} execs/s)")
            if r.crashed:
                # From atheris's traceback on; libFuzzer's status lines before it say little.
                start = r.log.find("=== Uncaught Python exception")
                print(r.log[start:][:6000] if start >= 0 else r.log[-6000:])
                for path in r.crash_files:
                    print(f"crash input {path.name}: {path.read_bytes()!r}")
        print(f"BENCH fuzz.execs {sum(r.execs for r in results)} execs")
        print(f"BENCH fuzz.crashes {sum(r.crashed for r in results)} crashes", flush=True)


if __name__ == "__main__":
    main()
