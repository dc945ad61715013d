"""Scale of the hardware-in-the-loop kit on this machine: the example project (examples/hil)
under pytest-xdist, one router per worker, as a user's CI would run it.

- hil.netns_router_setup_s: a netns router (lab, datapath, web UI, API logged in), median
  over the workers of a `-n 2` netns run;
- hil.vm_router_ready_s: an appliance booted to a logged-in API, alone (`-n 1`): the anchor;
- hil.vm_router_ready_parallel_s: the same with the most appliances side by side;
- hil.appliance_rss_mb: QEMU's peak resident memory per appliance (384 MiB guest);
- hil.parallel_appliances: the most appliances that booted and forwarded side by side: every
  worker's router up and every test passed (the VPN grid and the UDP forward, vm mode, all
  profiles), trying 1, 2, 4, 6 and 8 workers until a run fails or the memory would not hold
  another appliance (each worker's router boots only when it gets a test: 11 tests here).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent
EXAMPLE = TREE / "examples" / "hil"
WORKERS = (1, 2, 4, 6, 8)  # the vm grid has 11 tests: every worker gets one


def run_example(mode: str, workers: int, *select: str) -> tuple[bool, list[dict], float]:
    with tempfile.TemporaryDirectory() as tmp:
        metrics = Path(tmp) / "metrics.jsonl"
        env = {**os.environ, "NATBOX_HIL_METRICS": str(metrics), "NATBOX_TREE": str(TREE)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "--rootdir", str(EXAMPLE), "-c", str(EXAMPLE / "pyproject.toml"),
                   "--natbox-mode", mode, "-n", str(workers), *select, str(EXAMPLE)]  # fmt: skip
        started = time.monotonic()
        result = subprocess.run(command, cwd=TREE, env=env, capture_output=True, text=True,
                                timeout=3600)  # fmt: skip
        seconds = time.monotonic() - started
        rows = [json.loads(line) for line in metrics.read_text().splitlines()] if (
            metrics.exists()) else []  # fmt: skip
    if result.returncode:
        print(result.stdout[-3000:], file=sys.stderr)
    return result.returncode == 0, rows, seconds


def available_kb() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))


def main() -> None:
    ok, rows, _ = run_example("netns", 2, "-k", "not update")
    netns = [r["ready_s"] for r in rows if r["mode"] == "netns"]
    if ok and netns:
        print(f"BENCH hil.netns_router_setup_s {statistics.median(netns):.2f} s", flush=True)
    best, alone, parallel, rss = 0, None, None, []
    for workers in WORKERS:
        if rss and workers * max(rss) * 1024 > available_kb():
            break
        ok, rows, seconds = run_example("vm", workers, "-k", "not update")
        booted = [r for r in rows if r["mode"] == "vm"]
        print(f"hil: {workers} appliance(s): {'passed' if ok else 'FAILED'}, "
              f"{len(booted)} booted, {seconds:.0f} s", flush=True)  # fmt: skip
        if not ok or len(booted) < workers:
            break
        best = workers
        ready = statistics.median(r["ready_s"] for r in booted)
        alone = ready if alone is None else alone
        parallel = ready
        rss += [r["rss_kb"] / 1024 for r in booted if r["rss_kb"]]
    tried = "" if best < WORKERS[-1] else f" (all tried; {os.cpu_count()} CPUs)"
    print(f"BENCH hil.parallel_appliances {best} appliances{tried}")
    if alone is not None:
        print(f"BENCH hil.vm_router_ready_s {alone:.1f} s")
        print(f"BENCH hil.vm_router_ready_parallel_s {parallel:.1f} s ({best} side by side)")
    if rss:
        print(f"BENCH hil.appliance_rss_mb {statistics.median(rss):.0f} MB")
