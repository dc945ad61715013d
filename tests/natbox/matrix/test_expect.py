"""The matrix's expectations come from the rules natbox documents, one table of rows."""

import ast
from pathlib import Path

import pytest

from nat.passthrough import HELPER_CLASSES
from natbox.hil import PROFILE_NAMES
from natbox.matrix import expect as E

SCENARIOS = Path(E.__file__).parent / "scenarios"
HELPERS = {cls.name: cls for cls in HELPER_CLASSES}


@pytest.mark.parametrize("row", [r for r in E.ROWS.values() if r.switch != E.ALL],
                         ids=lambda r: r.name)  # fmt: skip
def test_a_helpers_row_says_what_the_helper_documents(row):
    helper = HELPERS[row.switch]
    for profile in PROFILE_NAMES:
        on, off = row.expect(profile, True, 1), row.expect(profile, False, 2)
        assert on.outcome == E.WORKS and not on.exception
        assert helper.when_enabled in on.why and helper.when_disabled in off.why
        # Off it is blocked, unless a documented exception says why it works anyway.
        assert off.outcome == E.BLOCKED or (off.outcome == E.WORKS and off.exception)


@pytest.mark.parametrize("row", [r for r in E.ROWS.values() if r.switch == E.ALL],
                         ids=lambda r: r.name)  # fmt: skip
def test_rows_that_need_no_helper_work_everywhere_and_name_the_filtering(row):
    for profile in PROFILE_NAMES:
        for switch in (True, False):
            expectation = row.expect(profile, switch, 2)
            assert expectation.outcome == E.WORKS
            assert "dependent filtering" in expectation.why


def test_every_row_switches_a_real_helper_or_all_of_them():
    assert {r.switch for r in E.ROWS.values()} <= {*HELPERS, E.ALL}


def _scenario_rows() -> list[str]:
    rows = []
    for module in sorted(SCENARIOS.glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                for decorator in node.decorator_list:
                    if (isinstance(decorator, ast.Call)
                            and getattr(decorator.func, "id", "") == "scenario"):  # fmt: skip
                        rows.append(decorator.args[0].value)
    return rows


def test_every_row_has_exactly_one_scenario_test():
    rows = _scenario_rows()
    assert sorted(rows) == sorted(E.ROWS) and len(rows) == len(set(rows))


def test_rtsp_without_its_alg_works_only_where_the_profile_keeps_ffmpegs_punched_ports():
    working = [p for p in PROFILE_NAMES if E.ROWS["rtsp"].expect(p, False, 1).outcome == E.WORKS]
    assert working == ["full-cone", "restricted-cone", "port-restricted-cone", "linux-masquerade"]
    assert "keeps their numbers" in E.ROWS["rtsp"].expect("full-cone", False, 1).exception
    assert E.ROWS["rtsp"].expect("symmetric", False, 2).outcome == E.BLOCKED


def test_sstp_off_blocks_a_listed_server_only_and_says_why_the_other_passes():
    for profile in PROFILE_NAMES:
        assert E.ROWS["sstp"].expect(profile, False, 1).outcome == E.BLOCKED
        unlisted = E.ROWS["sstp-unlisted"].expect(profile, False, 2)
        assert unlisted.outcome == E.WORKS and "cannot be told from HTTPS" in unlisted.exception
