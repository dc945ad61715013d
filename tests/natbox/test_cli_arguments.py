"""The host CLI answers a bad argument with one line naming it and exit status 2, never a
traceback, and before anything is built (no lab, no VM, no root needed here)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from natbox import cli
from natbox.lab import cli as lab_cli

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ROUTER = ["router", "--lan", "l", "--wan", "w", "--config", "c.json"]
# (argv, what the one line must name): at least one bad value for every subcommand.
BAD = [
    ([], "command"),
    (["bogus"], "command"),
    (["lab"], "lab_command"),
    (["lab", "up", "--profile", "bogus"], "--profile"),
    (["lab", "up", "--clients", "0"], "--clients"),
    (["lab", "up", "--clients", "-1"], "--clients"),
    (["lab", "up", "--clients", "100"], "--clients"),
    (["lab", "up", "--clients", "two"], "--clients"),
    (["lab", "up", "--clients", "²"], "--clients"),
    (["lab", "up", "--router", "pf"], "--router"),
    (["lab", "up", "--offload", "on"], "--offload"),
    (["lab", "up", "--ui-port", "0"], "--ui-port"),
    (["lab", "up", "--ui-port", "70000"], "--ui-port"),
    (["lab", "up", "--name", "Bad/Name"], "--name"),
    (["lab", "up", "--name", "waytoolongname"], "--name"),
    (["lab", "up", "--netem", "delay 20ms"], "--netem"),
    (["lab", "down", "../etc"], "name"),
    (["lab", "status", "extra"], "unrecognized"),
    (["lab", "ctl", "UPPER", "status"], "name"),
    (["lab", "ctl", "abc"], "cmd"),
    (["ui", "--port", "-1"], "--port"),
    (["ui", "--port", "65536"], "--port"),
    (["ui", "--port", "http"], "--port"),
    (["ui", "--backend", "remote"], "--backend"),
    (["ui", "--wait-for-config", "nan"], "--wait-for-config"),
    (["ui", "--wait-for-config", "-5"], "--wait-for-config"),
    (["boot", "--ui-port", "-1"], "--ui-port"),
    (["boot", "--ui-port", "x"], "--ui-port"),
    (["firmware"], "firmware_command"),
    (["firmware", "info", "/nonexistent/fw.bin"], "file"),
    (["firmware", "verify", "/nonexistent/fw.bin"], "file"),
    (["firmware", "verify", __file__, "--keyring", "/nonexistent"], "--keyring"),
    (["firmware", "build", "--tree", "/nonexistent"], "--tree"),
    (["firmware", "manifest", "/nonexistent"], "dir"),
    (["lab", "serve-firmware", "abc", "/nonexistent"], "dir"),
    (["lab", "serve-firmware", "abc", "/tmp", "--port", "0"], "--port"),
    (["firmware", "build", "--version", "0.2.x"], "--version"),
    (["flash", "/nonexistent/fw.bin", "--url", "http://192.168.1.1"], "file"),
    (["flash", __file__, "--url", "192.168.1.1"], "--url"),
    (["bootenv"], "bootenv_command"),
    (["fault"], "fault_command"),
    (["fault", "points", "extra"], "unrecognized"),
    (["fault", "cut", "--at", "bogus"], "--at"),
    (["fault", "corrupt", "nope"], "what"),
    (["fault", "firmware", "nope", __file__, "o"], "kind"),
    (["fault", "matrix", "--group", "nope"], "--group"),
    (["matrix", "--protocols", "pptp,telnet", "--out", "o"], "--protocols"),
    (["matrix", "--profiles", "cone", "--out", "o"], "--profiles"),
    (["matrix", "--jobs", "0", "--out", "o"], "--jobs"),
    (["matrix", "--mode", "kvm", "--out", "o"], "--mode"),
    (["matrix"], "--out"),
    (["bootenv", "print", "--disk", "/nonexistent/disk.img"], "--disk"),
    (["bootenv", "set", "BOOT_ORDER"], "NAME=VALUE"),
    (["router"], "--lan"),
    ([*ROUTER, "--batch", "0"], "--batch"),
    ([*ROUTER, "--kernel-ports", "80-90"], "--kernel-ports"),
    ([*ROUTER, "--io", "dpdk"], "--io"),
    (["selfcheck", "--now"], "unrecognized"),
]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(a) or "-" for a, _ in BAD])
def test_a_bad_argument_is_one_line_naming_it_and_exit_2(capsys, argv, named):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(argv)
    assert exit_.value.code == 2
    line = one_line_error(capsys)
    assert line.startswith("natbox") and "error:" in line
    assert named in line


def subcommands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from subcommands(sub, (*prefix, name))


def test_every_subcommand_has_a_bad_value_case():
    walked = set(subcommands(cli.build_parser()))
    covered = {tuple(argv[: len(path)]) for argv, _ in BAD for path in walked}
    assert walked <= covered, walked - covered
    assert len(walked) >= 11


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["lab", "up", "--clients", "1", "--netem", "c2=delay 20ms"], "--netem"),
        (["lab", "up", "--ui", "--router", "kernel"], "--ui"),
        (["lab", "down"], "name"),
        (["lab", "ctl", "nosuch1", "status"], "name"),
    ],
)
def test_values_checked_against_each_other_are_refused_before_building(
    capsys, monkeypatch, argv, named
):
    def no_building(*args, **kwargs):
        raise AssertionError("a lab was about to be built")

    monkeypatch.setattr(lab_cli, "Lab", no_building)
    monkeypatch.setattr(lab_cli, "all_lab_ids", lambda: [])
    assert cli.main(argv) == 2
    line = one_line_error(capsys)
    assert named in line and line.startswith("natbox lab")


def test_a_lab_without_state_is_refused_by_name(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(lab_cli, "all_lab_ids", lambda: ["crashed"])

    def no_state(cls, lab_id):
        raise FileNotFoundError(tmp_path / "state.json")

    monkeypatch.setattr(lab_cli.Lab, "load", classmethod(no_state))
    assert cli.main(["lab", "ctl", "crashed", "status"]) == 2
    assert "natbox lab down crashed" in one_line_error(capsys)


def test_firmware_info_on_a_file_that_is_not_firmware(capsys):
    assert cli.main(["firmware", "info", __file__]) == 2
    assert "argument file" in one_line_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "up", "--profile", "bogus"],
        ["lab", "up", "--clients", "0"],
        ["lab", "ctl", "nosuch1", "status"],
        ["firmware", "info", "/nonexistent/fw.bin"],
    ],
)
def test_end_to_end_one_line_and_exit_2(argv):
    result = subprocess.run(
        [sys.executable, "-m", "natbox.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
