"""The real firmware: budget, signature, contents, stripping, reproducibility, boot."""

from __future__ import annotations

import fnmatch
import stat
import subprocess
from pathlib import Path

import pytest

from natbox.imagebuild import cpio, packages, pycompile
from natbox.imagebuild.build import Build, make_build
from router.firmware.format import unpack
from router.firmware.keyring import Keyring
from router.firmware.verify import validate

pytestmark = pytest.mark.image
TREE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rootfs(built: Build) -> dict[str, cpio.Entry]:
    fw = unpack(built.firmware_path.read_bytes())
    return {e.name: e for e in cpio.read_newc(cpio.decompress(fw.payloads["rootfs"]))}


def test_signed_firmware_within_budget(built: Build) -> None:
    data = built.firmware_path.read_bytes()
    assert len(data) <= 25_000_000
    report = validate(
        data,
        Keyring.from_dir(built.build_dir / "keyring"),
        built.cfg.compatible,
        built.cfg.compat_version,
    )
    assert report.valid, report.lines()
    m = report.unpacked.manifest
    assert (m.board, m.version, m.compat_version) == (
        "natbox_x86_64",
        built.cfg.version,
        built.cfg.compat_version,
    )


def test_firmware_for_another_board_is_refused(built: Build) -> None:
    report = validate(
        built.firmware_path.read_bytes(),
        Keyring.from_dir(built.build_dir / "keyring"),
        "natbox,some-other-board",
    )
    assert report.checks["board"].status == "fail"
    assert not report.valid


def test_tampering_with_each_part_is_detected(built: Build) -> None:
    data = built.firmware_path.read_bytes()
    ring = Keyring.from_dir(built.build_dir / "keyring")
    fw = unpack(data)
    kernel_at = len(data) - sum(len(p) for p in fw.payloads.values())
    rootfs_at = kernel_at + len(fw.payloads["kernel"])
    for where in (
        0,
        9,
        21,
        100,
        rootfs_at - 80,
        kernel_at,
        kernel_at + 4096,
        rootfs_at,
        rootfs_at + 1000,
        len(data) - 1,
    ):
        bad = bytearray(data)
        bad[where] ^= 0x10
        assert not validate(bytes(bad), ring, built.cfg.compatible).valid, where


def test_image_has_what_the_board_needs(built: Build, rootfs: dict[str, cpio.Entry]) -> None:
    release = (built.build_dir / "kernel" / "release").read_text().strip()
    needed = [
        "init",
        "sbin/init",
        "bin/busybox",
        "bin/sh",
        "sbin/getty",
        "bin/login",
        "sbin/syslogd",
        "sbin/insmod",
        "sbin/sysctl",
        "etc/inittab",
        "etc/init.d/rcS",
        "etc/init.d/S01mount",
        "etc/init.d/S05modules",
        "etc/init.d/S10sysctl",
        "etc/init.d/S20syslog",
        "etc/init.d/S40network",
        "etc/init.d/S50natbox",
        "etc/sysctl.conf",
        "etc/passwd",
        "etc/shadow",
        "etc/natbox/factory.json",
        "etc/init.d/S15data",
        "etc/init.d/S02webui",
        "usr/lib/python3/dist-packages/router/routerctl.pyc",
        "usr/sbin/routerctl",
        "etc/natbox/board",
        "etc/natbox/keyring/dev-ed25519.pub",
        "dev/console",
        "usr/bin/python3.11",
        "usr/sbin/dnsmasq",
        "lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/python3.11/os.pyc",
        "usr/lib/python3/dist-packages/nat/__init__.pyc",
        "usr/lib/python3/dist-packages/nat/engine.pyc",
        "usr/lib/python3/dist-packages/flask/__init__.pyc",
    ]
    missing = [n for n in needed if n not in rootfs]
    assert not missing
    # Host tools and the replaced LAN servers never ship: dnsmasq serves DHCP and DNS.
    assert not [n for n in rootfs if n.startswith("usr/lib/python3/dist-packages/natbox/")]
    assert "usr/sbin/udhcpd" not in rootfs and "sbin/udhcpc" in rootfs
    mods = rootfs["etc/natbox/modules"].data.decode().split()
    assert [Path(m).stem for m in mods] == list(built.cfg.kernel_modules)
    # The kernel's NAT ships for the benchmark's anchor, listed apart: never loaded at boot.
    nat = rootfs["etc/natbox/kernel-nat-modules"].data.decode().split()
    assert [Path(m).stem for m in nat] == list(built.cfg.kernel_nat_modules)
    for m in mods + nat:
        assert m.startswith(f"lib/modules/{release}/") and m in rootfs
    assert rootfs["etc/shadow"].mode == stat.S_IFREG | 0o600
    assert rootfs["etc/init.d/S01mount"].mode & 0o111
    assert rootfs["etc/natbox/board"].data.decode().strip() == built.cfg.compatible


def test_nothing_listed_as_stripped_is_left(built: Build, rootfs: dict[str, cpio.Entry]) -> None:
    patterns = [g for g, _ in packages.strip_patterns(built.cfg, set(built.cfg.recipes))]
    leftovers = [
        n
        for n in rootfs
        for g in patterns
        if fnmatch.fnmatchcase(n, g) or fnmatch.fnmatchcase(n, g + "/*")
    ]
    assert not leftovers
    for name in rootfs:
        assert not name.startswith(("usr/share/doc/", "usr/share/man/", "usr/share/locale/"))
        assert not name.endswith(".py") or not name.startswith("usr/lib/python3"), name
        assert "/__pycache__/" not in name and not name.startswith("usr/bin/dpkg")
    all_modules = [n for n in rootfs if n.endswith(".ko")]
    assert len(all_modules) == len(built.cfg.kernel_modules) + len(built.cfg.kernel_nat_modules)


def test_target_python_imports_everything_it_ships(built: Build) -> None:
    target = built.build_dir / "target"
    code = (
        "import importlib, pathlib, sys\n"
        "d = pathlib.Path(sys.prefix) / 'lib/python3.11/lib-dynload'\n"
        "for so in sorted(d.glob('*.so')): importlib.import_module(so.name.split('.')[0])\n"
        "import nat, nat.engine, webui, flask, werkzeug, jinja2, ssl, hashlib, json\n"
        "print('ok', nat.__file__)"
    )
    r = pycompile.target_python(target, "-c", code, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok ") and r.stdout.strip().endswith("nat/__init__.pyc")


def test_target_dnsmasq_finds_every_library_it_loads(built: Build) -> None:
    """Run through the target's own dynamic loader and libraries only (as on the device)."""
    target = built.build_dir / "target"
    libs = [target / "lib" / pycompile.MULTIARCH, target / "usr/lib" / pycompile.MULTIARCH]
    loader = [str(libs[0] / "ld-linux-x86-64.so.2"), "--library-path", ":".join(map(str, libs))]
    r = subprocess.run(
        [*loader, str(target / "usr/sbin/dnsmasq"), "--version"], capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.startswith("Dnsmasq version"), r.stderr


def test_webui_device_tests_pin_the_flask_stack_the_image_ships(built: Build) -> None:
    """tox -e webui-device runs the web UI's tests on pinned versions; they must be the ones
    in the firmware (Debian's version without its revision: 2.2.2-3+deb12u1 -> 2.2.2)."""
    import configparser
    import json
    import re

    tox = configparser.ConfigParser()
    tox.read(TREE / "tox.ini")
    pins = dict(
        line.strip().split("==") for line in tox["testenv:webui-device"]["deps"].splitlines()
        if "==" in line
    )  # fmt: skip
    shipped = json.loads((built.build_dir / "packages.json").read_text())["versions"]
    for name, pinned in pins.items():
        debian = shipped[f"python3-{name}"]
        assert re.sub(r"-[^-]+$", "", debian) == pinned, (name, debian)
    assert {"flask", "werkzeug", "jinja2", "waitress"} <= set(pins)


def test_rebuild_without_changes_skips_every_step(built: Build) -> None:
    again = make_build(
        TREE, build_dir=built.build_dir, out_dir=built.out_dir, key_dir=built.key_dir, quiet=True
    )
    again.run()
    assert again.ran == []  # (how long that takes is make bench's image figure, not a test's)


def test_reproducible(built: Build, tmp_path_factory) -> None:
    base = tmp_path_factory.mktemp("image2")
    second = make_build(
        TREE, build_dir=base / "build", out_dir=base / "out", key_dir=built.key_dir, quiet=True
    )
    second.run()
    assert second.firmware_path.read_bytes() == built.firmware_path.read_bytes()


def test_boots_to_a_login_on_ttyS0(built: Build, guest) -> None:
    from natbox.firmware import kernel_payload

    fw = unpack(built.firmware_path.read_bytes())
    kinds = {p["name"]: p["type"] for p in fw.manifest.payloads}
    assert kinds["kernel"] == kernel_payload.VMLINUX_ZSTD
    cmdline = fw.manifest.extra["kernel_cmdline"]
    assert cmdline == built.cfg.kernel_cmdline and "console=ttyS0" in cmdline
    # The guest fixture booted that kernel with that command line and logged in.
    out, rc = guest.run("cat /etc/natbox/board /proc/sys/net/ipv4/ip_forward")
    assert (out.split(), rc) == ([built.cfg.compatible, "1"], 0)
    out, rc = guest.run("python3 -c 'import nat; print(nat.__file__)'", 30)
    assert rc == 0 and out.endswith("/usr/lib/python3/dist-packages/nat/__init__.pyc")
    out, rc = guest.run("lsmod")
    assert rc == 0 and "virtio_net" in out


def test_dnsmasq_runs_in_the_guest(guest) -> None:
    out, rc = guest.run("dnsmasq --version")
    assert rc == 0 and out.startswith("Dnsmasq version 2."), out
    assert "DHCP" in out.split("Compile time options:")[1]
    assert guest.run("dnsmasq --test --conf-file=/dev/null") == ("dnsmasq: syntax check OK.", 0)
    # As a daemon under its own user, with its lease and pid files in /run/natbox. Alternate
    # ports: on a booted appliance the router's own dnsmasq holds 53 and 67.
    run = "/run/natbox/dnsmasq-test"
    guest.check(
        f"dnsmasq --conf-file=/dev/null --user=dnsmasq --port=5353 "
        f"--dhcp-alternate-port=1067,1068 --dhcp-range=192.168.1.100,192.168.1.150,12h "
        f"--dhcp-leasefile={run}.leases --pid-file={run}.pid --no-resolv "
        "--address=/router.lan/192.168.1.1"
    )
    try:
        out, rc = guest.run(f"stat -c %U /proc/$(cat {run}.pid); test -f {run}.leases")
        assert (out, rc) == ("dnsmasq", 0)
        out, rc = guest.run("nslookup -type=a -port=5353 router.lan 127.0.0.1")
        assert rc == 0 and "Address: 192.168.1.1" in out, out
    finally:
        guest.run(f"kill $(cat {run}.pid)")
