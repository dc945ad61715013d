"""Test firmware that misbehaves on purpose: each fault's name in /etc/natbox/test-fault, the
init script it needs, executable, and placed where in the boot it must act."""

from __future__ import annotations

from pathlib import Path

import pytest

from natbox.imagebuild import config, overlay

pytestmark = pytest.mark.unit

TREE = Path(__file__).resolve().parents[3]
SKELETON_INIT = TREE / "rootfs" / "etc" / "init.d"
SCRIPTED = ("panic-at-boot", "hang-at-boot", "never-commit")


def test_the_faults():
    assert config.TEST_FAULTS == ("health-fails", "panic-at-boot", "hang-at-boot", "never-commit")
    assert set(overlay.TEST_FAULT_SCRIPTS) == set(SCRIPTED)


@pytest.mark.parametrize("fault", config.TEST_FAULTS)
def test_every_fault_is_named_in_the_image(fault):
    files = overlay.test_fault_files(fault)
    assert files["etc/natbox/test-fault"] == f"{fault}\n"


def test_health_fails_needs_only_its_name():
    assert overlay.test_fault_files("health-fails") == {"etc/natbox/test-fault": "health-fails\n"}


@pytest.mark.parametrize("fault", SCRIPTED)
def test_a_scripted_fault_adds_its_init_script(fault):
    files = overlay.test_fault_files(fault)
    path, _ = overlay.TEST_FAULT_SCRIPTS[fault]
    assert set(files) == {"etc/natbox/test-fault", path}
    assert path.startswith("etc/init.d/S")
    assert files[path].startswith("#!/bin/sh\n")


def test_no_fault_no_files():
    assert overlay.test_fault_files("") == {}


def test_the_scripts_run_where_in_the_boot_they_must():
    """rcS runs S??* in name order: the panic comes before the router starts, the hang after
    it and before the health check, and never-commit replaces the health check itself."""
    skeleton = sorted(p.name for p in SKELETON_INIT.glob("S??*"))
    assert "S50natbox" in skeleton and "S60update" in skeleton
    name = {fault: Path(overlay.TEST_FAULT_SCRIPTS[fault][0]).name for fault in SCRIPTED}
    assert name["panic-at-boot"] < "S50natbox"
    assert "S50natbox" < name["hang-at-boot"] < "S60update"
    assert name["never-commit"] == "S60update"
    assert name["panic-at-boot"] not in skeleton and name["hang-at-boot"] not in skeleton


def test_the_scripts_act_only_on_start():
    for fault in ("panic-at-boot", "hang-at-boot"):
        _, body = overlay.TEST_FAULT_SCRIPTS[fault]
        assert '[ "$1" = start ] &&' in body, fault


def test_write_files_makes_init_scripts_executable_and_nothing_else(tmp_path):
    root = tmp_path / "root"
    (root / "etc" / "init.d").mkdir(parents=True)
    existing = root / "etc" / "init.d" / "S60update"
    existing.write_text("#!/bin/sh\necho SKELETON-S60\n")
    existing.chmod(0o644)  # even a skeleton script that was not executable
    files = overlay.test_fault_files("never-commit") | overlay.test_fault_files("hang-at-boot")
    files["etc/natbox/version"] = "0.2.0\n"
    overlay.write_files(root, files)
    for rel, text in files.items():
        path = root / rel
        assert path.read_text() == text
        mode = path.stat().st_mode & 0o777
        if rel.startswith("etc/init.d/"):
            assert mode == 0o755, rel
        else:
            assert mode & 0o111 == 0, rel
    assert "SKELETON-S60" not in existing.read_text()  # replaced


def test_a_test_fault_build_generates_its_files():
    cfg = config.override(config.load(TREE), version="0.2.0", test_fault="hang-at-boot")
    files = overlay.generated_files(cfg, "6.1.0-test", [], 0)
    assert files["etc/natbox/test-fault"] == "hang-at-boot\n"
    assert files["etc/init.d/S55test-fault"].startswith("#!/bin/sh\n")
    plain = overlay.generated_files(config.load(TREE), "6.1.0-test", [], 0)
    assert not any(rel.startswith(("etc/init.d/", "etc/natbox/test-fault")) for rel in plain)
