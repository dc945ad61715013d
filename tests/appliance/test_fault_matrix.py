"""Update fault injection, end to end: every scenario of natbox.faults.scenarios against the
booted appliance (power cuts at checkpoints across the whole update, bad files, the test
firmware variants, the damaged disk), one test per scenario. The matrix runs once for the
scenarios selected here (its groups side by side, each on its own appliance); each test then
asserts its own row: the booted slot, the version, both slots' states in the environment,
the configuration and the journal. The report goes to out/faults/matrix.json."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from natbox.faults import matrix
from natbox.faults.scenarios import SCENARIOS

pytestmark = pytest.mark.vm

TREE = Path(__file__).resolve().parents[2]
REPORT = TREE / "out" / "faults" / "matrix.json"


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("qemu-system-x86_64") is None:
        pytest.skip("the fault matrix needs root and qemu-system-x86_64")
    here = request.node.nodeid
    selected = [item.callspec.params["name"] for item in request.session.items
                if item.nodeid.startswith(here) and hasattr(item, "callspec")]  # fmt: skip
    results, seconds = matrix.run(TREE, tmp_path_factory.mktemp("faults"), selected,
                                  jobs=int(os.environ.get("NATBOX_FAULT_JOBS", "3")))  # fmt: skip
    matrix.write_json(results, seconds, REPORT)
    print(f"\n{matrix.table(results)}\n{len(results)} scenarios in {seconds:.0f} s: {REPORT}")
    return {o.scenario: o for o in results}


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario(outcomes, name):
    outcome = outcomes[name]
    assert not outcome.bricked, f"{name}: the device no longer boots: {outcome.observed}"
    assert outcome.ok, (
        f"{name}: expected {outcome.expected}; observed {outcome.observed}; "
        f"problems {outcome.problems}; evidence {outcome.evidence}"
    )
