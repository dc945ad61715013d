"""The plugin's options and their refusals (one line, the option named), what a host without
root is told, where a test's evidence goes, and which tier a router's test is in. No root:
pytest runs on small projects in a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from natbox.hil import pool as hil_pool


def pytest_on(folder: Path, *args: str) -> subprocess.CompletedProcess:
    (folder / "test_one.py").write_text("def test_one(natbox_state):\n    print(natbox_state)\n")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir",
               str(folder), "-s", *args, str(folder / "test_one.py")]  # fmt: skip
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--natbox-mode", "qemu"], "--natbox-mode qemu: expected netns, vm or netns,vm"),
        (["--natbox-clients", "0"], "--natbox-clients 0: expected 1 to 8"),
        (
            ["--natbox-firmware", "/nonexistent.natbox"],
            "--natbox-firmware /nonexistent.natbox: no such file",
        ),
    ],
)
def test_a_bad_option_is_one_line_naming_it(tmp_path, args, said):
    result = pytest_on(tmp_path, *args)
    assert result.returncode == 4  # pytest's usage error
    assert f"ERROR: {said}" in result.stderr and "Traceback" not in result.stderr


def test_the_ini_option_chooses_the_mode_and_the_command_line_wins(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nnatbox_mode = vm\n")
    assert "mode='vm'" in pytest_on(tmp_path).stdout
    assert "mode='netns'" in pytest_on(tmp_path, "--natbox-mode", "netns").stdout
    both = pytest_on(tmp_path, "--natbox-mode", "netns,vm", "-v")
    assert "test_one[netns]" in both.stdout and "test_one[vm]" in both.stdout
    assert "2 passed" in both.stdout


def test_a_marker_mistake_names_the_test_and_the_keyword(tmp_path):
    (tmp_path / "test_one.py").write_text(
        "import pytest\n\n@pytest.mark.natbox(profil='symmetric')\n"
        "def test_one(router):\n    pass\n")  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), str(tmp_path / "test_one.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode != 0
    assert "test_one.py::test_one: @pytest.mark.natbox: unknown keyword 'profil'" in (
        result.stdout + result.stderr)  # fmt: skip


def test_without_root_a_mode_says_what_it_needs(monkeypatch):
    monkeypatch.setattr(hil_pool.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(hil_pool, "capable", lambda *caps: True)  # CAP_NET_ADMIN, SYS_ADMIN
    assert "root" not in hil_pool.Pool.missing("netns")
    monkeypatch.setattr(hil_pool, "capable", lambda *caps: False)
    assert "root" in hil_pool.Pool.missing("netns")
    with pytest.raises(hil_pool.Unavailable, match="natbox vm mode needs root"):
        hil_pool.Pool(Path("/nonexistent")).get("vm")


def test_evidence_goes_to_a_folder_named_after_the_module_and_the_test(tmp_path):
    from natbox.hil.plugin import evidence_folder

    class Config:
        rootpath = tmp_path

        def getoption(self, name):
            return None

        def getini(self, name):
            return "out/natbox"

    class Node:
        path = tmp_path / "tests" / "test_vpn.py"
        name = "test_client[symmetric-ipsec_off-vm]"

    assert evidence_folder(Config(), Node()) == (
        tmp_path / "out" / "natbox" / "tests" / "test_vpn" / "test_client_symmetric-ipsec_off-vm"
    )
