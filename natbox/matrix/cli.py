"""`natbox matrix`: run the passthrough matrix's scenario tests (natbox/matrix/scenarios)
through pytest and natbox.hil, their cells in parallel labs (pytest-xdist), and write
OUT/matrix.json and OUT/matrix.html, each cell's evidence under OUT/evidence/."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from natbox.argtypes import int_in, listed_choices
from natbox.hil import DEFAULT_PROFILE, PROFILE_NAMES
from natbox.matrix import report
from natbox.matrix.expect import ROWS
from natbox.matrix.record import read_behaviours, read_cells

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=("netns", "vm"),
        default="netns",
        help="netns: natbox's datapath in a namespace (the whole grid in "
        "minutes); vm: the booted firmware (default: its default profile)",
    )
    parser.add_argument(
        "--protocols",
        type=listed_choices(ROWS),
        default=None,
        metavar="ROW,...",
        help=f"rows to run: {', '.join(ROWS)} (default all)",
    )
    parser.add_argument(
        "--profiles",
        type=listed_choices(PROFILE_NAMES),
        default=None,
        metavar="PROFILE,...",
        help=f"NAT profiles (default: every one in netns mode, {DEFAULT_PROFILE} in vm mode)",
    )
    parser.add_argument(
        "--jobs",
        type=int_in(1, 8),
        default=2,
        metavar="N",
        help="labs side by side, one per pytest-xdist worker (default 2)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the report's folder")
    parser.add_argument("--firmware", type=Path, default=None,
                        help="vm mode: boot this firmware file (--natbox-firmware)")  # fmt: skip


def pytest_command(args: argparse.Namespace) -> list[str]:
    """The pytest run of the scenarios; writes its own pytest.ini in the report's folder."""
    out = args.out.resolve()
    profiles = args.profiles or (list(PROFILE_NAMES) if args.mode == "netns"
                                 else [DEFAULT_PROFILE])  # fmt: skip
    ini = out / "pytest.ini"  # the run's own: a user's project settings do not leak in
    ini.write_text("[pytest]\naddopts = -ra -p no:cacheprovider\n")
    command = [sys.executable, "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(out),
               "--natbox-mode", args.mode, "--natbox-artifacts", str(out / "evidence"),
               "--natbox-vm-profiles", ",".join(profiles), "--natbox-matrix-out", str(out),
               "--natbox-matrix-profiles", ",".join(profiles)]  # fmt: skip
    if args.protocols:
        command += ["--natbox-matrix-rows", ",".join(args.protocols)]
    if args.jobs > 1:
        command += ["-n", str(args.jobs)]
    if args.firmware:
        command += ["--natbox-firmware", str(args.firmware.resolve())]
    return [*command, str(SCENARIOS)]


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("cells-*.jsonl"), *out.glob("behaviour-*.jsonl")]:
        old.unlink()  # a new run: the old records are not this one's
    started = time.monotonic()
    # From the report's folder: the current one may hold another copy of natbox (a checkout),
    # which stays the tree a vm router's firmware is built from.
    tree = os.environ.get("NATBOX_TREE", os.getcwd())
    result = subprocess.run(pytest_command(args), cwd=out.resolve(),
                            env={**os.environ, "NATBOX_TREE": tree})  # fmt: skip
    cells, behaviours = read_cells(out), read_behaviours(out)
    if not cells:
        print(f"natbox matrix: no cell ran (pytest exited {result.returncode})", file=sys.stderr)
        return result.returncode or 1
    wall_s = time.monotonic() - started
    json_path, html_path = report.write(cells, out, wall_s, behaviours)
    facts = report.summary(cells, wall_s, behaviours)
    print(f"natbox matrix: {facts['cells']} cells, {facts['mismatches']} mismatches, "
          f"{facts['wall_s']} s: {html_path} ({json_path.name} beside it)")  # fmt: skip
    return 0 if facts["mismatches"] == 0 and result.returncode == 0 else 1
