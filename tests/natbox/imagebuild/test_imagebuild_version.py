"""`natbox firmware build --version X`: the same board under another version, built in its own
directory and named by its version, sharing the version-independent steps. No real build: the
heavy steps are replaced by stand-ins that write their outputs; the firmware step is real."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from natbox import cli
from natbox.imagebuild import build, config, fetch, overlay
from router.firmware.format import unpack
from router.firmware.verify import version_key

pytestmark = pytest.mark.unit

TREE = Path(__file__).resolve().parents[3]
FULLWIDTH_ONE = "\uff11"  # a digit to str.isdigit, not to the device
BAD_VERSIONS = ["0.2.x", "", "v0.2.0", "0..2", "1.", "0.2.0-rc1", FULLWIDTH_ONE + ".0", " 0.2"]
BAD_VERSIONS += ["1.2.3.4.5.6.7.8.9"]


def test_override_changes_the_version_and_the_raw_settings() -> None:
    default = config.load(TREE)
    cfg = config.override(default, "0.2.0", "2.0")
    assert (cfg.version, cfg.compat_version) == ("0.2.0", "2.0")
    assert (cfg.raw["VERSION"], cfg.raw["COMPAT_VERSION"]) == ("0.2.0", "2.0")
    assert cfg.packages == default.packages and cfg.board == default.board
    assert default.raw["VERSION"] == default.version != "0.2.0"  # the defconfig's is untouched
    same = config.override(default)
    assert same == default


@pytest.mark.parametrize("bad", BAD_VERSIONS)
def test_a_version_is_dotted_numbers_the_device_can_order(bad: str) -> None:
    assert version_key(bad) is None
    with pytest.raises(ValueError, match="dotted numbers"):
        config.override(config.load(TREE), bad)
    with pytest.raises(ValueError):
        config.override(config.load(TREE), None, bad)


@pytest.mark.parametrize("good", ["0.2.0", "1", "10.0.0.1", "2.0"])
def test_good_versions_are_accepted_and_orderable(good: str) -> None:
    assert config.check_version(good) == good
    assert version_key(good) is not None


def test_build_directories_and_firmware_names() -> None:
    images = TREE / "build" / "image"
    plain = build.make_build(TREE)
    assert plain.build_dir == images / "natbox_x86_64" and plain.shared_dir is None
    assert plain.firmware_path == TREE / "out" / "natbox_x86_64-0.1.0.fw"
    assert plain.common_dir == plain.build_dir

    v2 = build.make_build(TREE, version="0.2.0")
    assert v2.build_dir == images / "natbox_x86_64@0.2.0"
    assert v2.shared_dir == plain.build_dir
    assert v2.firmware_path == TREE / "out" / "natbox_x86_64-0.2.0.fw"

    # A compat bump is another firmware, even under the same version: its own names.
    bump = build.make_build(TREE, version="0.2.0", compat_version="2.0")
    assert bump.build_dir == images / "natbox_x86_64@0.2.0-compat2.0"
    assert bump.firmware_path == TREE / "out" / "natbox_x86_64-0.2.0-compat2.0.fw"

    # The defconfig's own version is no override: the default build.
    again = build.make_build(TREE, version=plain.cfg.version)
    assert again.build_dir == plain.build_dir and again.shared_dir is None

    # An explicit build directory holds every step, override or not.
    mine = build.make_build(TREE, build_dir=Path("/tmp/x"), version="0.2.0")
    assert mine.build_dir == Path("/tmp/x") and mine.shared_dir is None


def test_generated_files_carry_the_override() -> None:
    cfg = config.override(config.load(TREE), "0.2.0", "2.0")
    files = overlay.generated_files(cfg, "6.1.0-test", [], 0)
    assert files["etc/natbox/version"] == "0.2.0\n"
    assert files["etc/natbox/compat_version"] == "2.0\n"
    assert 'VERSION_ID="0.2.0"' in files["etc/os-release"]
    assert 'PRETTY_NAME="natbox 0.2.0"' in files["etc/os-release"]


def test_the_kernel_nat_modules_are_listed_apart_and_never_loaded_at_boot() -> None:
    cfg = config.load(TREE)
    assert "nf_conntrack" in cfg.kernel_nat_modules and "nft_masq" in cfg.kernel_nat_modules
    assert not set(cfg.kernel_nat_modules) & set(cfg.kernel_modules)
    boot, nat = [Path("lib/modules/x/virtio.ko")], [Path("lib/modules/x/nf_nat.ko")]
    files = overlay.generated_files(cfg, "6.1.0-test", boot, 0, nat)
    assert files["etc/natbox/modules"] == "lib/modules/x/virtio.ko\n"  # what S05modules loads
    assert files["etc/natbox/kernel-nat-modules"] == "lib/modules/x/nf_nat.ko\n"


# -- switching versions: stand-ins for the heavy steps, the real step keys and stamps ----------


def _stand_ins(monkeypatch, tmp_path: Path, calls: list[tuple[str, str]]) -> None:
    deb = tmp_path / "linux-image-cloud-amd64_6.1_amd64.deb"
    deb.write_bytes(b"deb")
    fetched = fetch.Fetched(tmp_path, (), deb, "fetch-key")
    monkeypatch.setattr(fetch, "fetch", lambda cfg, log: fetched)

    def packages(self, f, pkg_dir: Path, meta: Path) -> None:
        calls.append(("packages", str(pkg_dir.parent.name)))
        pkg_dir.mkdir(parents=True, exist_ok=True)
        meta.write_text("{}")

    def kernel(self, deb, kdir: Path) -> None:
        calls.append(("kernel", kdir.parent.name))
        kdir.mkdir(parents=True, exist_ok=True)
        (kdir / "vmlinux.zst").write_bytes(b"K" * 64)
        (kdir / "modules.json").write_text(json.dumps({"release": "6.1", "modules": []}))

    def target(self, pkg_dir, pkg_meta, kdir, target: Path, keyring: Path, key) -> None:
        calls.append(("target", target.parent.name))
        assert pkg_dir.parent == kdir.parent == self.common_dir
        target.mkdir(parents=True, exist_ok=True)
        keyring.mkdir(parents=True, exist_ok=True)
        files = overlay.generated_files(self.cfg, "6.1", [], self.epoch)
        (target / "version").write_text(files["etc/natbox/version"])

    def initramfs(self, target: Path, table, out: Path) -> None:
        calls.append(("initramfs", out.parent.name))
        out.write_bytes(b"ROOTFS:" + (target / "version").read_bytes())

    monkeypatch.setattr(build.Build, "_packages", packages)
    monkeypatch.setattr(build.Build, "_kernel", kernel)
    monkeypatch.setattr(build.Build, "_target", target)
    monkeypatch.setattr(build.Build, "_initramfs", initramfs)


def _in_tmp(b: build.Build, tmp_path: Path) -> build.Build:
    """make_build's directory names, under tmp_path instead of the tree."""
    images = tmp_path / "build" / "image"
    return dataclasses.replace(
        b,
        build_dir=images / b.build_dir.name,
        shared_dir=images / b.shared_dir.name if b.shared_dir else None,
        out_dir=tmp_path / "out",
        key_dir=tmp_path / "keys",
        quiet=True,
        epoch=1700000000,
    )


def test_switching_versions_rebuilds_neither_and_shares_packages_and_kernel(
    monkeypatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, str]] = []
    _stand_ins(monkeypatch, tmp_path, calls)

    def run(**override) -> build.Build:
        b = _in_tmp(build.make_build(TREE, **override), tmp_path)
        b.run()
        return b

    first = run()
    assert first.ran == ["packages", "kernel", "target", "initramfs", "firmware"]
    v2 = run(version="0.2.0")
    # packages and kernel are the default build's, up to date: only the version's steps ran.
    assert v2.ran == ["target", "initramfs", "firmware"]
    assert [c for c in calls if c[0] in ("packages", "kernel")] == [
        ("packages", "natbox_x86_64"),
        ("kernel", "natbox_x86_64"),
    ]
    assert ("target", "natbox_x86_64@0.2.0") in calls
    # Back and forth: both builds are still there, nothing runs again.
    assert run().ran == []
    assert run(version="0.2.0").ran == []
    # A compat bump of the same version is its own build too.
    assert run(version="0.2.0", compat_version="2.0").ran == ["target", "initramfs", "firmware"]

    one, two = (unpack(b.firmware_path.read_bytes()) for b in (first, v2))
    assert (one.manifest.version, two.manifest.version) == ("0.1.0", "0.2.0")
    assert two.manifest.compat_version == first.cfg.compat_version
    assert two.payloads["rootfs"] == b"ROOTFS:0.2.0\n"
    assert one.payloads["kernel"] == two.payloads["kernel"]
    assert first.firmware_path.name == "natbox_x86_64-0.1.0.fw"
    assert v2.firmware_path.name == "natbox_x86_64-0.2.0.fw"
    bumped = unpack((tmp_path / "out" / "natbox_x86_64-0.2.0-compat2.0.fw").read_bytes())
    assert (bumped.manifest.version, bumped.manifest.compat_version) == ("0.2.0", "2.0")


def test_one_explicit_build_dir_rebuilds_what_the_version_changes(
    monkeypatch, tmp_path: Path
) -> None:
    _stand_ins(monkeypatch, tmp_path, [])
    where = {"build_dir": tmp_path / "one", "out_dir": tmp_path / "out", "quiet": True}
    where["key_dir"] = tmp_path / "keys"
    build.make_build(TREE, **where).run()
    again = build.make_build(TREE, **where, version="0.2.0")
    again.run()
    # The version is in the target step's key (the raw settings): not taken as up to date.
    assert again.ran == ["target", "initramfs", "firmware"]
    assert unpack(again.firmware_path.read_bytes()).manifest.version == "0.2.0"


# -- the command lines ---------------------------------------------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("flag", ["--version", "--compat-version"])
@pytest.mark.parametrize("bad", ["0.2.x", "", "latest"])
def test_a_bad_version_is_one_line_and_exit_2(capsys, flag: str, bad: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["firmware", "build", flag, bad])
    assert exit_.value.code == 2
    line = _one_line(capsys)
    assert line.startswith("natbox firmware build: error: argument " + flag)
    # The image builder's own command line (make image) says the same.
    with pytest.raises(SystemExit) as exit_:
        build.main([flag, bad])
    assert exit_.value.code == 2
    assert f"argument {flag}" in _one_line(capsys)


def test_natbox_firmware_build_passes_the_versions_on(monkeypatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(build, "main", lambda argv: seen.append(argv) or 0)
    argv = ["firmware", "build", "--tree", str(TREE), "--version", "0.2.0"]
    assert cli.main(argv) == 0
    assert cli.main([*argv, "--compat-version", "2.0", "--board", "natbox_x86_64"]) == 0
    assert cli.main(["firmware", "build", "--tree", str(TREE)]) == 0
    assert seen == [
        ["--tree", str(TREE), "--version", "0.2.0"],
        [
            "--tree",
            str(TREE),
            "--board",
            "natbox_x86_64",
            "--version",
            "0.2.0",
            "--compat-version",
            "2.0",
        ],
        ["--tree", str(TREE)],
    ]
