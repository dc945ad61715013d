"""`natbox selfcheck` (what `make run` does until the appliance boots)."""

import io

from nat import NatConfig
from natbox import selfcheck
from natbox.cli import main


def test_selfcheck_passes_and_reports_each_step():
    out = io.StringIO()
    assert selfcheck.run(out) == 0
    text = out.getvalue()
    assert text.count("PASS") == 10 and "FAIL" not in text
    assert "self-check passed" in text


def test_selfcheck_fails_loudly_when_a_check_fails(monkeypatch):
    # An engine whose configuration lost the port forward must fail that step.
    monkeypatch.setattr(selfcheck, "NatConfig", lambda **settings: NatConfig())
    out = io.StringIO()
    assert selfcheck.run(out) == 1
    assert "FAIL  port forward" in out.getvalue() and "self-check FAILED" in out.getvalue()


def test_cli_runs_selfcheck(capsys):
    assert main(["selfcheck"]) == 0
    assert "self-check passed" in capsys.readouterr().out
