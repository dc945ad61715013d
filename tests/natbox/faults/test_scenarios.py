"""The fault scenarios as data: unique names, groups in order, every cut at a trigger that
parses (and, together, at every point the firmware announces), expectations the runner can
compare, and the report's one-line description. Nothing is booted: the scenarios run against
a rig that only records what they ask for."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from unittest import mock

import pytest

from natbox.faults import badfiles, scenarios
from natbox.faults import disk as disk_faults
from natbox.faults.checkpoints import POINTS, Trigger
from natbox.imagebuild.config import TEST_FAULTS
from router.update import slots
from router.update.journal import STATES

pytestmark = pytest.mark.unit

CUT_GROUPS = ("cuts-before-switch", "cuts-after-switch")


class RecordingRig:
    """Stands in for scenarios.Rig: records the cuts, answers the rest with nothing."""

    def __init__(self):
        self.cuts: list[list[str]] = []
        self.evidence: dict = {}
        self.box = mock.MagicMock()
        self.files = defaultdict(lambda: Path("files/some.fw"))
        self.commands: list[str] = []

    def cut(self, triggers, command: str, timeout: float = 300) -> None:
        self.cuts.append([triggers] if isinstance(triggers, str) else list(triggers))
        self.commands.append(command)

    def server_install(self, which: str = "new", force: bool = False) -> str:
        return f"server-install {which}" + (" --force" if force else "")

    def file_install(self, name: str, force: bool = False) -> str:
        return f"install {name}"

    def sh(self, command: str, timeout: float = 120) -> str:
        self.commands.append(command)
        return ""

    def journal(self) -> dict:
        return {"state": "failed", "reason": "interrupted while writing", "history": []}


def cut_scenarios() -> list[scenarios.Scenario]:
    """Named for where they cut: "cut write@8M" (the two cut groups and the rollback's)."""
    return [s for s in scenarios.SCENARIOS if s.name.startswith("cut ")]


def cuts_of(scenario: scenarios.Scenario) -> list[list[str]]:
    rig = RecordingRig()
    scenario.run(rig)
    return rig.cuts


def test_names_are_unique_and_found_by_name():
    names = [s.name for s in scenarios.SCENARIOS]
    assert len(names) == len(set(names))
    for name in names:
        assert scenarios.by_name(name).name == name
    with pytest.raises(KeyError):
        scenarios.by_name("no such scenario")


def test_the_groups_in_order():
    assert scenarios.GROUPS == ("cuts-before-switch", "cuts-after-switch", "variants",
                                "watchdog")  # fmt: skip
    assert sorted(scenarios.RUN_ORDER) == sorted(scenarios.GROUPS)
    assert {s.group for s in scenarios.SCENARIOS} == set(scenarios.GROUPS)
    # A group's scenarios run one after another on one appliance: they are listed together.
    order = [s.group for s in scenarios.SCENARIOS]
    assert order == sorted(order, key=scenarios.GROUPS.index)


def update_cut_points() -> list[str]:
    """Every point an update is cut at, over all scenarios (a chain counts each; the cuts in
    the variants' attempts go through the driver's cut_at)."""
    points = []
    for s in scenarios.SCENARIOS:
        if s.name.startswith(("bad file", "downgrade")) or "corrupted" in s.name:
            continue  # the bad files, the downgrade and the disk are refused or damaged, not cut
        rig = RecordingRig()
        s.run(rig)
        points += [text for chain in rig.cuts for text in chain]
        for call in rig.box.cut_at.call_args_list:
            triggers = call.args[0]
            points += [triggers] if isinstance(triggers, str) else list(triggers)
    return [p for p in points if not p.startswith("save:")]


def test_there_are_enough_cuts():
    """20 or more power cuts spread over the whole update (the configuration saves apart)."""
    points = update_cut_points()
    assert len(points) >= 20, points
    # Spread: the upload, each step of the write (three offsets), both environment saves, the
    # switch, the new slot's boots (of good firmware and of each bad variant), the commit.
    assert len(set(points)) >= 16, points
    assert {s.group for s in cut_scenarios()} == set(CUT_GROUPS)


@pytest.mark.parametrize("scenario", cut_scenarios(), ids=lambda s: s.name)
def test_every_cut_is_at_a_trigger_that_parses(scenario):
    cuts = cuts_of(scenario)
    assert cuts, "a cut scenario that cuts nowhere"
    for chain in cuts:
        for text in chain:
            Trigger.parse(text)  # TriggerError fails the test
    # The name says where: "cut write@8M"; a chain of cuts, "cut trial-boot, healthy, ...".
    assert [", ".join(chain) for chain in cuts] == [scenario.name.removeprefix("cut ")]


def test_together_the_cuts_reach_every_point():
    saves = [t for s in cut_scenarios() for c in cuts_of(s) for t in c if t.startswith("save:")]
    points = {Trigger.parse(text).point for text in update_cut_points() + saves}
    announced = {name.replace("<file>", "config.json") for name in POINTS}
    assert points == announced


def test_the_retry_installs_again_after_the_cut_before_it():
    names = [s.name for s in scenarios.SCENARIOS]
    assert names[names.index("interrupted, then retried") - 1] == "cut config-kept"
    rig = RecordingRig()
    scenarios.by_name("interrupted, then retried").run(rig)
    assert rig.cuts == []
    rig.box.console.child.sendline.assert_called_once_with("server-install new")
    assert rig.evidence["first try"] == "interrupted while writing"


def test_every_bad_file_kind_and_variant_has_a_scenario():
    names = {s.name for s in scenarios.SCENARIOS}
    assert {f"bad file {kind}" for kind in badfiles.KINDS} <= names
    for variant in scenarios.VARIANTS:
        assert any(n == f"variant {variant}" or n.startswith(f"variant {variant},")
                   for n in names), variant  # fmt: skip
    # The matrix builds each variant as an image test fault.
    assert set(scenarios.VARIANTS) <= set(TEST_FAULTS)


def test_the_disk_scenarios_use_known_disk_faults(monkeypatch):
    known = set(disk_faults.FAULTS)
    asked: list[str] = []

    class Recording(dict):
        def __getitem__(self, key):
            asked.append(key)
            return lambda disk: f"{key} done"

    monkeypatch.setattr(scenarios.disk_faults, "FAULTS", Recording())
    monkeypatch.setattr(scenarios.disk_faults, "env_copies_good", lambda disk: [True, True])
    for s in scenarios.SCENARIOS:
        if "corrupted" in s.name:
            rig = RecordingRig()
            s.run(rig)
            rig.box.power_off.assert_called_once_with()
            rig.box.boot.assert_called_once_with()
    assert asked == ["env-copy-0", "env-both", "config"]
    assert set(asked) <= known


@pytest.mark.parametrize("scenario", scenarios.SCENARIOS, ids=lambda s: s.name)
def test_every_expectation_is_one_the_runner_can_compare(scenario):
    expect = scenario.expect
    assert expect.slot in ("A", "B")
    assert expect.version in (scenarios.OLD, scenarios.NEW)
    assert expect.states and set(expect.states) <= {"A", "B"}
    assert set(expect.states.values()) <= set(slots.STATES)
    assert expect.journal == "unchanged" or expect.journal in STATES
    assert expect.config in ("kept", "factory", "old", "new")


def test_describe():
    expect = scenarios.Expect("A", "0.1.0", {"A": "good", "B": "empty"}, "failed")
    assert scenarios.describe(expect) == "A 0.1.0; A good, B empty; journal failed"
    only_a = scenarios.Expect("B", "0.2.0", {"A": "good"}, "unchanged", says="refused")
    assert scenarios.describe(only_a) == "B 0.2.0; A good; journal unchanged"
