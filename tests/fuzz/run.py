"""Fuzz one target with atheris (libFuzzer): ``python -m fuzz.run TARGET --runs N``.

Run from tests/ (or with tests/ on PYTHONPATH). Seeds come from tests/data/fuzz/TARGET; new
corpus entries go to --corpus (a scratch directory: the committed seeds stay small), crash
inputs to --crashes. libFuzzer prints its final stats (executions) on stderr and exits 0 when
done, non-zero at the first crash; fuzz.session reads both.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import atheris

SEEDS = Path(__file__).resolve().parents[1] / "data" / "fuzz"
# Instrumented for coverage: the code under fuzz, not the harness or the standard library.
INSTRUMENTED = ["nat", "router", "router.firmware"]
MAX_LEN = {"config": 4096, "firmware": 4096, "manifest": 4096}
DEFAULT_MAX_LEN = 2048


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run")
    parser.add_argument("target")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, help="scratch corpus directory (default: temp)")
    parser.add_argument("--crashes", type=Path, default=Path("fuzz-crashes"))
    parser.add_argument("--max-len", type=int)
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer -seed, for repeatability")
    args, libfuzzer_extra = parser.parse_known_args(argv)

    with atheris.instrument_imports(include=INSTRUMENTED):
        from fuzz.targets import SELFTEST, TARGETS
    target = {**TARGETS, **SELFTEST}[args.target]

    corpus = args.corpus or Path(tempfile.mkdtemp(prefix=f"fuzz-{args.target}-"))
    corpus.mkdir(parents=True, exist_ok=True)
    args.crashes.mkdir(parents=True, exist_ok=True)
    seeds = SEEDS / args.target
    flags = [
        sys.argv[0],
        f"-runs={args.runs}",
        f"-max_len={args.max_len or MAX_LEN.get(args.target, DEFAULT_MAX_LEN)}",
        f"-seed={args.seed}",
        f"-artifact_prefix={args.crashes}/{args.target}-",
        "-print_final_stats=1",
        *libfuzzer_extra,
        str(corpus),
        *([str(seeds)] if seeds.is_dir() else []),
    ]
    atheris.Setup(flags, target)
    atheris.Fuzz()  # does not return: libFuzzer exits the process
    return 0


EXECS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
DONE = re.compile(r"Done (\d+) runs")


def executions(log: str) -> int:
    """Executions libFuzzer reports in its final stats (or its last status line)."""
    found = EXECS.findall(log) or DONE.findall(log) or re.findall(r"^#(\d+)", log, re.M)
    return int(found[-1]) if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
