"""Host-side appliance pieces without a VM: the one QEMU command line, the disk layout, the
boot stage's verification and the console driver's markers (against a local shell)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pexpect
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox.appliance import bootstage, disk, qemu
from natbox.appliance.console import Console, ConsoleError
from natbox.firmware.keys import public_pem, sign
from router.firmware import format as fw
from router.update import slots
from router.update.layout import BY_NAME, DISK_BYTES, LAYOUT


def test_command_with_taps_runs_in_the_switch_namespace():
    nics = [qemu.Nic("lan", "tap", "tlan"), qemu.Nic("wan", "tap", "twan")]
    argv = qemu.command(Path("k"), Path("i"), nics, disk=Path("d.img"), qmp=Path("q.sock"),
                        netns="nbxab-sw")  # fmt: skip
    assert argv[:5] == ["ip", "netns", "exec", "nbxab-sw", "qemu-system-x86_64"]
    joined = " ".join(argv)
    assert "tap,id=lan,ifname=tlan,script=no,downscript=no" in joined
    assert joined.index("netdev=lan") < joined.index("netdev=wan")  # LAN is eth0
    assert "-qmp unix:q.sock,server=on,wait=off" in joined
    assert "file=d.img,format=raw,if=virtio" in joined and "-accel tcg" in joined


def test_user_mode_forwards_the_ui_to_the_lan_address():
    argv = qemu.command(Path("k"), Path("i"), [qemu.Nic("lan", "user", host_ui_port=8080),
                                               qemu.Nic("wan", "user")])  # fmt: skip
    assert argv[0] == "qemu-system-x86_64"
    assert "hostfwd=tcp:127.0.0.1:8080-192.168.1.1:80" in " ".join(argv)


def test_accelerator_can_be_forced(monkeypatch):
    monkeypatch.setenv("NATBOX_ACCEL", "tcg")
    assert qemu.accelerator(Path("nope")) == "tcg"


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")
def test_disk_layout_and_slots(tmp_path):
    path = tmp_path / "disk.img"
    disk.create(path, {"BOOT_ORDER": "A B"})
    raw = path.read_bytes()
    assert raw[510:512] == b"\x55\xaa" and len(raw) == DISK_BYTES
    starts = [struct.unpack_from("<I", raw, 446 + 16 * i + 8)[0] for i in range(4)]
    assert starts == [p.offset // 512 for p in LAYOUT]
    data = BY_NAME["data"]
    assert raw[data.offset + 1024 + 56 : data.offset + 1024 + 58] == b"\x53\xef"  # ext4 magic
    assert disk.environment(path).load() == {"BOOT_ORDER": "A B"}
    assert disk.matches_layout(path)
    with pytest.raises(ValueError, match="holds no firmware"):
        disk.read_slot(path, "B")
    with pytest.raises(ValueError):
        disk.write_slot(path, "B", bytes(BY_NAME["B"].size + 1))


def _firmware(key, kernel=b"K" * 48, kind="linux-bzimage", extra=None) -> bytes:
    parts = [fw.Payload("kernel", kernel, kind), fw.Payload("rootfs", b"R" * 40)]
    manifest = fw.Manifest("natbox_x86_64", bootstage.COMPATIBLE, "0.1.0", "1.0",
                           fw.build_id(parts, "0.1.0"), 1700000000,
                           tuple(p.describe() for p in parts), extra or {})  # fmt: skip
    kid, sig = sign(key, manifest.to_bytes())
    return fw.pack(manifest, parts, kid, sig)


def _signer(tmp_path):
    """A signing key and a device keyring that trusts it."""
    key = Ed25519PrivateKey.generate()
    ring = tmp_path / "keyring"
    ring.mkdir()
    (ring / "dev.pub").write_bytes(public_pem(key.public_key()))
    return key, ring


def _firmware_v(key, version):
    parts = [fw.Payload("kernel", b"K" * 48, "linux-bzimage"), fw.Payload("rootfs", b"R" * 40)]
    manifest = fw.Manifest("natbox_x86_64", bootstage.COMPATIBLE, version, "1.0",
                           fw.build_id(parts, version), 1700000000,
                           tuple(p.describe() for p in parts))  # fmt: skip
    kid, sig = sign(key, manifest.to_bytes())
    return fw.pack(manifest, parts, kid, sig)


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")
def test_boot_stage_boots_only_a_verified_slot(tmp_path):
    key, ring = _signer(tmp_path)
    path = tmp_path / "disk.img"
    image = _firmware(key)
    assert bootstage.install_if_changed(path, image)
    assert not bootstage.install_if_changed(path, image)  # already there
    booted = bootstage.prepare(path, ring, tmp_path / "boot")
    assert booted.kernel.read_bytes() == b"K" * 48 and booted.slot == "A"
    assert booted.cmdline == ""  # none in the manifest: the session uses qemu.CMDLINE
    assert bootstage.kernel_command_line(booted, "console=ttyS0").endswith("natbox.slot=A")
    bad = bytearray(image)
    bad[-1] ^= 1
    disk.write_slot(path, "A", bytes(bad))
    with pytest.raises(bootstage.BootError, match="does not verify"):
        bootstage.prepare(path, ring, tmp_path / "boot2")


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")
def test_boot_stage_takes_attempts_falls_back_and_says_when_nothing_boots(tmp_path):
    key, ring = _signer(tmp_path)
    path = tmp_path / "disk.img"
    bootstage.install_if_changed(path, _firmware_v(key, "0.1.0"))
    env = disk.environment(path)
    disk.write_slot(path, "B", _firmware_v(key, "0.2.0"))
    env.save(slots.switch_to(env.load(), "B", "0.2.0"))
    for left in (2, 1, 0):  # a trial that never becomes healthy: three boots of B
        booted = bootstage.prepare(path, ring, tmp_path / "boot", log=lambda m: None)
        assert booted.slot == "B" and booted.manifest.version == "0.2.0"
        assert slots.attempts(env.load(), "B") == left
    booted = bootstage.prepare(path, ring, tmp_path / "boot", log=lambda m: None)
    assert booted.slot == "A" and booted.manifest.version == "0.1.0"
    # fw_printenv on the disk image shows what the bootloader wrote.
    if shutil.which("fw_printenv"):
        config = tmp_path / "fw_env.config"
        offset = BY_NAME["bootenv"].offset
        config.write_text(f"{path} {offset:#x} 0x4000\n{path} {offset + 0x10000:#x} 0x4000\n")
        shown = pexpect.run(f"fw_printenv -c {config}").decode()
        assert "BOOT_B_LEFT=0" in shown and "SLOT_B_STATE=trial" in shown
    env.save({**env.load(), "SLOT_A_STATE": "bad", "BOOT_A_LEFT": "0"})
    notes: list[str] = []
    with pytest.raises(bootstage.BootError, match="no slot can boot"):
        bootstage.prepare(path, ring, tmp_path / "boot", log=notes.append)
    assert any("slot A: skipped" in n for n in notes) and any("slot B: skipped" in n for n in notes)


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")
def test_a_disk_of_the_old_layout_is_made_anew(tmp_path):
    key, _ = _signer(tmp_path)
    path = tmp_path / "disk.img"
    path.write_bytes(b"NATBOXENV1\n{}" + bytes(4096))
    notes: list[str] = []
    assert bootstage.install_if_changed(path, _firmware(key), log=notes.append)
    assert disk.matches_layout(path) and "older layout" in notes[0]


@pytest.fixture
def shell():
    child = pexpect.spawn("sh", ["-i"], env={"PS1": "$ ", "PATH": "/usr/bin:/bin"})
    console = Console(child)
    child.sendline(f"PS1='{console.prompt}'")
    console.expect(console.prompt.replace("$", r"\$"), 10)
    yield console
    child.terminate(force=True)


def test_run_returns_output_and_exit_code(shell):
    assert shell.run("echo hello; echo world") == ("hello\nworld", 0)
    assert shell.run("false") == ("", 1)
    assert shell.run("(exit 3)") == ("", 3)


def test_output_that_looks_like_a_marker_does_not_end_the_run(shell):
    output, code = shell.run("echo EdeadbeefE 0; echo after")
    assert output.endswith("after") and code == 0


def test_timeouts_are_scaled(shell, monkeypatch):
    monkeypatch.setenv("NATBOX_TIMEOUT_SCALE", "0.1")
    with pytest.raises(ConsoleError, match="within 0 s"):
        shell.run("sleep 2", timeout=2)


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")
def test_boot_stage_unpacks_the_compressed_kernel_and_refuses_unknown_kinds(tmp_path):
    from natbox.firmware import kernel_payload

    key, ring = _signer(tmp_path)
    path = tmp_path / "disk.img"
    elf = b"\x7fELF" + bytes(range(256)) * 64
    extra = {"kernel_cmdline": "console=ttyS0 quiet cryptomgr.notests"}
    image = _firmware(key, kernel_payload.pack(elf), kernel_payload.VMLINUX_ZSTD, extra)
    bootstage.install_if_changed(path, image)
    booted = bootstage.prepare(path, ring, tmp_path / "boot")
    assert booted.kernel.read_bytes() == elf
    assert booted.cmdline == "console=ttyS0 quiet cryptomgr.notests"  # the firmware's own
    bootstage.install_if_changed(path, _firmware(key, b"K" * 48, "linux-uimage"))
    with pytest.raises(bootstage.BootError, match="not bootable"):
        bootstage.prepare(path, ring, tmp_path / "boot2")


def test_without_root_the_session_uses_user_mode_networking_and_says_so(tmp_path, monkeypatch):
    """What `natbox boot` does for a user who is not root: no lab, no taps; the UI forwarded
    from 127.0.0.1 to the guest's LAN address. (The boot itself is the bench's path.)"""
    from natbox.appliance import session as sess

    booted = bootstage.Bootable(tmp_path / "vmlinux", tmp_path / "initramfs", None, "A")
    monkeypatch.setattr(sess.os, "geteuid", lambda: 1000)
    found = (tmp_path / "fw", tmp_path)
    monkeypatch.setattr(sess, "firmware_and_keyring", lambda *args: found)
    monkeypatch.setattr(sess.bootstage, "install_if_changed", lambda *a, **k: False)
    monkeypatch.setattr(sess.bootstage, "prepare", lambda *a, **k: booted)
    monkeypatch.setattr(sess.network, "ApplianceLab", None)  # must not be touched
    monkeypatch.setenv("NATBOX_ACCEL", "tcg")
    (tmp_path / "fw").write_bytes(b"")
    session = sess.open_session(sess.Options(workdir=tmp_path, ui_port=18080), log=print)
    argv = " ".join(session.power_on())
    assert session.lab is None and not argv.startswith("ip netns")
    assert "hostfwd=tcp:127.0.0.1:18080-192.168.1.1:80" in argv and "id=wan" in argv
    assert "tap," not in argv
    assert session.ui_url == "http://127.0.0.1:18080/"
    assert any(n.startswith("not root: QEMU user-mode networking") for n in session.notes)


def test_a_given_firmware_file_is_the_one_slot_a_gets_with_its_keyring(tmp_path, monkeypatch):
    """--natbox-firmware / Options.firmware: the user's own build, verified by their keyring,
    and nothing of the tree's built or looked for."""
    from natbox.appliance import session as sess
    from natbox.imagebuild import build as imagebuild

    theirs, keys = tmp_path / "my-router.natbox", tmp_path / "keyring"
    theirs.write_bytes(b"their firmware")
    installed = []
    monkeypatch.setattr(imagebuild.Build, "run", lambda self: pytest.fail("built the tree"))
    monkeypatch.setattr(sess.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sess.bootstage, "install_if_changed",
                        lambda disk, data, log: installed.append(data))  # fmt: skip
    session = sess.open_session(sess.Options(workdir=tmp_path / "work", firmware=theirs,
                                             keyring=keys, ui_port=18081), log=print)  # fmt: skip
    assert installed == [b"their firmware"] and session.keyring == keys


def test_accelerator_cache_that_cannot_be_written_is_not_fatal(tmp_path, monkeypatch):
    monkeypatch.delenv("NATBOX_ACCEL", raising=False)
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("NATBOX_CACHE", str(blocked / "cache"))  # a file where a dir must go
    monkeypatch.setattr(qemu, "probe_kvm", lambda kernel: False)
    assert qemu.accelerator(Path("k")) == "tcg"
