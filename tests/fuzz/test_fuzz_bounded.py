"""The bounded fuzz run of `make test`: every target, a few thousand executions, no crash.

The longer run is bench/fuzz_bench.py (`make bench`); seeds are in tests/data/fuzz.
"""

from __future__ import annotations

import pytest

from fuzz import targets
from fuzz.engines import Crash
from fuzz.session import fuzz
from fuzz.targets import TARGETS, frame

# About 2 s a target on a shared 2-core machine, so all of them stay well under a minute.
RUNS = 4000


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_bounded_fuzz_finds_no_crash(target, tmp_path):
    result = fuzz(target, RUNS, tmp_path / "crashes", timeout=120)
    assert not result.crashed, result.log[-4000:]
    assert result.execs >= RUNS, result.log[-2000:]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_seed_passes(target):
    from fuzz.run import SEEDS

    seeds = sorted((SEEDS / target).iterdir())
    assert seeds, f"no seeds for {target}: cd tests && python -m fuzz.seeds"
    for seed in seeds:
        TARGETS[target](seed.read_bytes())


def test_an_engine_internal_error_is_a_crash(monkeypatch):
    # The engine contains exceptions as internal_error: the targets must still see them.
    from nat.passthrough import pptp

    def broken(*args):
        raise RuntimeError("planted")

    monkeypatch.setattr(pptp.PptpHelper, "on_packet", broken)
    with pytest.raises(Crash, match="internal_error"):
        targets.pptp_target(frame(False, b"anything"))


def test_an_unexpected_exception_is_a_crash(monkeypatch):
    from router import model

    def broken(data):
        raise KeyError("planted")

    monkeypatch.setattr(model.RouterConfig, "from_dict", broken)
    with pytest.raises(KeyError):
        targets.config_target(b"{}")


def test_a_crashing_input_stops_the_run_and_is_kept(tmp_path):
    # The whole chain: libFuzzer in its own process, the crash reported, its input saved.
    result = fuzz("selftest", 100_000, tmp_path / "crashes", timeout=120)
    assert result.crashed
    assert result.crash_files, result.log[-2000:]
    assert b"NATBOX" in result.crash_files[0].read_bytes()
