"""The pytest run `natbox matrix` makes (a bad argument: tests/natbox/test_cli_arguments.py)."""

from natbox.cli import build_parser
from natbox.matrix import cli


def test_the_run_is_the_scenarios_under_the_plugin_with_the_chosen_cells(tmp_path):
    args = build_parser().parse_args(["matrix", "--mode", "vm", "--protocols", "pptp,esp",
                                      "--jobs", "3", "--out", str(tmp_path)])  # fmt: skip
    command = cli.pytest_command(args)
    assert command[-1] == str(cli.SCENARIOS)

    def after(option):
        return command[command.index(option) + 1]

    assert after("--natbox-mode") == "vm" and after("-n") == "3"
    assert after("--natbox-matrix-rows") == "pptp,esp"
    assert after("--natbox-matrix-profiles") == "restricted-cone"  # vm: the default profile
    assert (tmp_path / "pytest.ini").exists()  # its own settings, not the caller's project's
