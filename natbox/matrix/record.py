"""The matrix's side of a scenario test: the ``cell`` fixture says what the cell expects (from
natbox.matrix.expect) and takes what the test observed; with ``--natbox-matrix-out DIR`` every
cell, passing or not, keeps its evidence (the plugin's per-link captures, the peers' logs, the
router's counters and VPN events) and appends its record to DIR/cells-<worker>.jsonl."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from natbox.hil import plugin as hil
from natbox.matrix.expect import ALL, BLOCKED, ROWS, WORKS, Expectation, classification

OUTCOME = pytest.StashKey[str]()


@dataclass
class Cell:
    row: str
    mode: str
    profile: str
    switch: bool
    clients: int
    expected: str
    why: str
    exception: str = ""
    observed: str = ""
    detail: str = ""
    evidence: str = ""
    seconds: float = 0.0
    test: str = ""

    @property
    def matches(self) -> bool:
        return self.observed == self.expected

    def observe(self, outcome: str, detail: str = "") -> None:
        self.observed, self.detail = outcome, detail

    def conclude(self, results: list[tuple[bool, object]]) -> None:
        """Each client's (made it, what it saw): works if all did, blocked if none did, else
        partial; then the verdict."""
        made_it = [ok for ok, _ in results]
        outcome = WORKS if all(made_it) else BLOCKED if not any(made_it) else "partial"
        self.observe(outcome, json.dumps([seen for _, seen in results], default=str)[:2000])
        self.check()

    def check(self) -> None:
        """The test's verdict: the observed outcome is the expected one."""
        assert self.matches, (f"{self.row} [{self.profile}, switch "
                              f"{'on' if self.switch else 'off'}, {self.clients} client(s)]: "
                              f"expected {self.expected} ({self.why}), observed "
                              f"{self.observed or 'nothing'}: {self.detail}")  # fmt: skip


@dataclass
class Behaviour:
    """A profile's NAT behaviour as documented and as an RFC 5780 client classified it."""

    mode: str
    profile: str
    mapping: str
    filtering: str
    hairpinning: bool
    why: str
    seen_mapping: str = ""
    seen_filtering: str = ""
    seen_hairpinning: bool | None = None
    evidence: str = ""

    @property
    def matches(self) -> bool:
        return (self.mapping, self.filtering, self.hairpinning) == (
            self.seen_mapping, self.seen_filtering, self.seen_hairpinning)  # fmt: skip

    def observe(self, mapping: str, filtering: str, hairpinning: bool) -> None:
        self.seen_mapping, self.seen_filtering, self.seen_hairpinning = (
            mapping, filtering, hairpinning)  # fmt: skip

    def check(self) -> None:
        assert self.matches, (
            f"{self.profile}: documented mapping {self.mapping}, filtering {self.filtering}, "
            f"hairpinning {self.hairpinning} ({self.why}); RFC 5780 discovery found "
            f"{self.seen_mapping or '?'}, {self.seen_filtering or '?'}, {self.seen_hairpinning}"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--natbox-matrix-out",
        metavar="DIR",
        default=None,
        help="record every matrix cell (and keep its evidence) in DIR",
    )
    parser.addoption(
        "--natbox-matrix-rows",
        metavar="ROW,...",
        default=None,
        help=f"only these rows: {', '.join(ROWS)}",
    )
    parser.addoption("--natbox-matrix-profiles", metavar="PROFILE,...", default=None,
                     help="only these NAT profiles")  # fmt: skip


def _chosen(config: pytest.Config, name: str) -> set[str] | None:
    text = config.getoption(name)
    return {w for w in text.replace(",", " ").split()} if text else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--natbox-matrix-rows and --natbox-matrix-profiles: the other cells are deselected."""
    rows, profiles = (
        _chosen(config, "natbox_matrix_rows"),
        _chosen(config, "natbox_matrix_profiles"),
    )
    if rows is None and profiles is None:
        return
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("matrix")
        state = getattr(item, "callspec", None) and item.callspec.params.get("natbox_state")
        wanted = marker is None or (
            (rows is None or marker.args[0] in rows)
            and (profiles is None or state is None or state.profile in profiles)
        )
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "matrix(row): the matrix row a scenario test fills")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if report.when == "call" and report.failed and call.excinfo is not None:
        item.stash[OUTCOME] = f"error: {call.excinfo.typename}: {call.excinfo.value}"[:500]
    return report


@pytest.fixture
def cell(request, router, natbox_state) -> Cell:
    marker = request.node.get_closest_marker("matrix")
    if marker is None or marker.args[0] not in ROWS:
        raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.matrix(ROW) with ROW one "
                                f"of {', '.join(ROWS)}")  # fmt: skip
    row = ROWS[marker.args[0]]
    clients = request.node.callspec.params.get("clients", 1) if hasattr(
        request.node, "callspec") else 1  # fmt: skip
    profile = natbox_state.profile or router.profile
    switch = natbox_state.passthrough.get(row.switch, natbox_state.passthrough.get(ALL))
    if switch is None:
        switch = router.passthrough()[row.switch] if row.switch != ALL else True
    expectation: Expectation = row.expect(profile, switch, clients)
    found = Cell(row.name, natbox_state.mode, profile, switch, clients, expectation.outcome,
                 expectation.why, expectation.exception, test=request.node.nodeid)  # fmt: skip
    yield found
    current = request.node.stash.get(hil.CURRENT, None)
    if current is not None:  # from the router's set-up for this test, its state applied
        found.seconds = round(time.time() - current["start"], 2)
    out = request.config.getoption("natbox_matrix_out")
    if not out:
        return
    if request.node.stash.get(OUTCOME, None) and not found.observed:
        found.observed = "error"
        found.detail = request.node.stash[OUTCOME]
    if current is not None:
        folder = Path(current["folder"])
        folder.mkdir(parents=True, exist_ok=True)
        try:
            events = router.vpn_events()
        except Exception as error:  # the router may be what failed: keep the rest
            events = [{"unreadable": str(error)}]
        (folder / "vpn-events.json").write_text(json.dumps(events, indent=2, default=str))
        hil.keep_evidence(current)
        current["kept"] = True
        found.evidence = str(folder)
    record(Path(out), found)


@pytest.fixture
def nat_behaviour(request, router, natbox_state) -> Behaviour:
    """The profile's documented behaviour; the test fills in what discovery found."""
    profile = natbox_state.profile or router.profile
    documented = classification(profile)
    found = Behaviour(natbox_state.mode, profile, documented.mapping, documented.filtering,
                      documented.hairpinning, documented.why)  # fmt: skip
    yield found
    out = request.config.getoption("natbox_matrix_out")
    if out:
        current = request.node.stash.get(hil.CURRENT, None)
        if current is not None:
            hil.keep_evidence(current)
            current["kept"] = True
            found.evidence = str(current["folder"])
        record(Path(out), found, "behaviour")


def record(out: Path, found: Cell | Behaviour, kind: str = "cells") -> None:
    out.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(out / f"{kind}-{worker}.jsonl", "a") as f:
        f.write(json.dumps(asdict(found)) + "\n")


def read_cells(out: Path) -> list[Cell]:
    return [Cell(**row) for row in _read(out, "cells")]


def read_behaviours(out: Path) -> list[Behaviour]:
    return [Behaviour(**row) for row in _read(out, "behaviour")]


def _read(out: Path, kind: str) -> list[dict]:
    rows = []
    for path in sorted(out.glob(f"{kind}-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows
