"""The fault matrix builds the test variants while the first groups run: each group waits only
for the variants its own scenarios install."""

from __future__ import annotations

from natbox.faults import matrix
from natbox.faults import scenarios as S


def in_group(group: str) -> list[S.Scenario]:
    return [s for s in S.SCENARIOS if s.group == group]


def test_each_group_waits_for_the_variants_it_installs_only():
    assert matrix.variants_of(in_group("watchdog")) == ["hang-at-boot", "never-commit"]
    assert matrix.variants_of(in_group("variants")) == ["health-fails", "panic-at-boot"]
    assert matrix.variants_of(in_group("cuts-before-switch")) == []
    assert matrix.variants_of(in_group("cuts-after-switch")) == []
    every = {v for g in S.RUN_ORDER for v in matrix.variants_of(in_group(g))}
    assert every == set(S.VARIANTS)  # none is left unbuilt
    # As the matrix asks: with a generator.
    assert matrix.variants_of(s for s in S.SCENARIOS if s.group == "watchdog") == [
        "hang-at-boot", "never-commit"]  # fmt: skip
