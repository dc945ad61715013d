"""`routerctl firmware ...` on a fake device: the slots and the boot environment are files, the
reboot a recorder. What the command prints, its exit status, and what it left on the "disk"."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import BOARD, make

from natbox.firmware.keys import public_pem
from router import routerctl
from router.firmware import format as fw
from router.update import slots
from router.update.bootenv import BootEnv
from router.update.device import UpdateDevice
from router.update.service import UpdateService

SLOT_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


class Fake:
    """The device on files, the service over it and what it was asked to do."""

    def __init__(self, tmp: Path, key: Ed25519PrivateKey, booted: str = "A"):
        env = tmp / "env"
        env.write_bytes(b"")
        with open(env, "r+b") as f:
            f.truncate(0x20000)
        BootEnv(env).save(slots.initial("0.1.0"))
        paths = {}
        for s in slots.SLOTS:
            paths[s] = tmp / f"slot{s}"
            paths[s].write_bytes(b"\0" * SLOT_BYTES)
        ring = tmp / "keyring"
        ring.mkdir()
        (ring / "test.pub").write_bytes(public_pem(key.public_key()))
        (tmp / "config.json").write_text("{}")
        self.device = UpdateDevice(
            env=BootEnv(env), slots=paths, slot_size=SLOT_BYTES, work=tmp / "update",
            config=tmp / "config.json", keyring=ring, compatible=BOARD, compat_version="1.0",
            version="0.1.0", booted=booted, lock=tmp / "update.lock",
        )  # fmt: skip
        self.reboots: list[str] = []
        self.service = UpdateService(self.device, reboot=lambda: self.reboots.append("reboot"),
                                     log=lambda line: None)  # fmt: skip
        self.tmp = tmp

    def env(self) -> dict[str, str]:
        return self.device.env.load()

    def file(self, data: bytes, name: str = "new.fw") -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)


@pytest.fixture
def fake(tmp_path, key, monkeypatch) -> Fake:
    device = Fake(tmp_path, key)
    monkeypatch.setattr(routerctl, "update_service", lambda: device.service)
    return device


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = routerctl.main(["firmware", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_shows_the_slots_and_json_is_the_service_status(fake, capsys):
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "running 0.1.0 from slot A; boot order A B" in out
    assert "slot A: good  0.1.0" in out and "attempts left 3 (booted)" in out
    assert "slot B: empty -" in out and "update: idle" in out
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    assert json.loads(out) == json.loads(json.dumps(fake.service.status()))


def test_check_prints_each_check_and_writes_nothing(fake, key, capsys):
    code, out, _ = run(capsys, "check", fake.file(make(key, version="0.2.0")))
    assert code == 0
    for name in ("format", "signature", "board", "compat", "version", "size", "hash:kernel"):
        assert f"PASS  {name}" in out
    assert out.splitlines()[-1] == "VALID"
    assert fake.device.slots["B"].read_bytes() == b"\0" * SLOT_BYTES
    assert fake.env() == slots.initial("0.1.0")


def test_check_of_a_downgrade_is_invalid_and_says_force_would_take_it(fake, key, capsys):
    path = fake.file(make(key, version="0.0.9"))
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert "FAIL  version" in out and "INVALID" in out and "--force" in out
    code, out, _ = run(capsys, "check", path, "--force")
    assert code == 0 and "forced downgrade" in out and out.splitlines()[-1] == "VALID"


def test_a_compat_major_step_needs_factory_settings_and_says_so(fake, key, capsys):
    path = fake.file(make(key, version="0.2.0", compat="2.0"))
    code, out, _ = run(capsys, "check", path)
    assert code == 1 and "FAIL  compat" in out
    assert out.splitlines()[-1] == "--no-keep-settings installs it with factory settings"
    code, out, _ = run(capsys, "check", path, "--no-keep-settings")
    assert code == 0 and "settings reset to factory defaults" in out


def test_check_of_a_missing_file_is_one_line(fake, capsys):
    code, out, err = run(capsys, "check", str(fake.tmp / "nope.fw"))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "nope.fw" in err and "nothing changed" in err


def test_install_writes_slot_b_with_progress_and_reboots(fake, key, capsys):
    data = make(key, version="0.2.0", rootfs=b"R" * (3 * 1024 * 1024))
    code, out, _ = run(capsys, "install", fake.file(data))
    assert code == 0
    lines = out.splitlines()
    writing = [line for line in lines if line.startswith("writing ")]
    # 4 chunks of 1 MiB: one line each, as each is another 10% or more; the last one is 100%.
    assert len(writing) == 4 and writing[-1] == "writing 100% (3.0/3.0 MiB)"
    assert lines[-1] == "installed to slot B; rebooting" and fake.reboots == ["reboot"]
    assert fake.device.slots["B"].read_bytes()[: len(data)] == data
    env = fake.env()
    assert env["BOOT_ORDER"] == "B A" and env["SLOT_B_STATE"] == "trial"
    assert env["SLOT_B_VERSION"] == "0.2.0"


def test_progress_prints_at_most_every_ten_percent(capsys):
    progress = routerctl.progress_printer()
    total = 23 * routerctl.MIB
    for done in range(routerctl.MIB, total + 1, routerctl.MIB):
        progress("writing", done, total)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert lines[1] == "writing 21% (5/23 MiB)" and lines[-1] == "writing 100% (23/23 MiB)"


def test_install_without_reboot_and_without_settings(fake, key, capsys):
    code, out, _ = run(capsys, "install", fake.file(make(key, version="0.2.0")), "--no-reboot",
                       "--no-keep-settings")  # fmt: skip
    assert code == 0 and fake.reboots == []
    assert "installed to slot B; the new slot boots at the next reboot" in out
    # The new firmware's first boot resets them; until then the old one keeps its settings.
    assert fake.service.journal.read()["update"]["keep_settings"] is False


def test_refused_install_prints_the_failed_checks_and_writes_nothing(fake, key, capsys):
    code, out, err = run(capsys, "install", fake.file(make(key, compatible="natbox,other")))
    assert code == 1
    assert "FAIL  board" in out and "INVALID" in out and "installing" not in out
    assert "board: firmware is for 'natbox,other'" in err and "nothing changed" in err
    assert fake.device.slots["B"].read_bytes() == b"\0" * SLOT_BYTES
    assert fake.env() == slots.initial("0.1.0") and fake.reboots == []


def test_install_while_another_update_runs_is_busy(fake, key, capsys):
    path = fake.file(make(key, version="0.2.0"))
    with fake.service.locked():  # another update holds the lock
        code, out, err = run(capsys, "install", path)
    assert code == 1 and out == ""
    assert err == (
        "routerctl: another update is in progress; wait for it to finish; nothing changed\n"
    )
    assert fake.env() == slots.initial("0.1.0")


def test_a_failed_write_is_not_called_nothing_changed(fake, key, capsys, monkeypatch):
    def broken(slot, data, progress):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fake.service, "_write_slot", broken)
    code, _, err = run(capsys, "install", fake.file(make(key, version="0.2.0")))
    assert code == 1 and fake.reboots == []
    assert "install failed" in err and "still running 0.1.0 from slot A" in err
    assert "nothing changed" not in err


def test_rollback_boots_the_other_good_slot(tmp_path, key, monkeypatch, capsys):
    fake = Fake(tmp_path, key, booted="B")
    monkeypatch.setattr(routerctl, "update_service", lambda: fake.service)
    old = make(key)
    fake.device.slots["A"].write_bytes(old.ljust(SLOT_BYTES, b"\0"))
    env = slots.initial("0.1.0") | {"BOOT_ORDER": "B A", "SLOT_B_STATE": "good",
                                    "BOOT_B_LEFT": "3", "SLOT_B_VERSION": "0.2.0"}  # fmt: skip
    fake.device.env.save(env)
    code, out, _ = run(capsys, "rollback")
    assert code == 0 and out == "slot A boots from now on; rebooting\n"
    assert fake.env()["BOOT_ORDER"] == "A B" and fake.reboots == ["reboot"]


def test_rollback_to_an_empty_slot_is_refused(fake, capsys):
    code, _, err = run(capsys, "rollback", "--no-reboot")
    assert code == 1 and "slot B is empty: nothing to go back to" in err
    assert fake.env() == slots.initial("0.1.0")


def test_an_unknown_firmware_command_is_a_usage_error(fake, capsys):
    with pytest.raises(SystemExit) as exit_:
        routerctl.main(["firmware", "flash"])
    assert exit_.value.code == 2


# -- the update server --------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    """A directory served over HTTP on 127.0.0.1; yields (directory, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def publish(directory: Path, data: bytes, version: str) -> None:
    name = f"natbox-{version}.fw"
    (directory / name).write_bytes(data)
    latest = {"version": version, "file": name, "sha256": fw.sha256(data), "size": len(data),
              "compatible": BOARD}  # fmt: skip
    (directory / "latest.json").write_text(json.dumps({"format": 1, "latest": latest}))


def test_server_check_and_install(fake, key, server, capsys):
    directory, url = server
    data = make(key, version="0.2.0")
    publish(directory, data, "0.2.0")
    code, out, _ = run(capsys, "server-check", url)
    assert code == 0 and "newer firmware available: 0.2.0 (running 0.1.0)" in out
    code, out, _ = run(capsys, "server-check", url, "--json")
    assert json.loads(out)["url"] == f"{url}natbox-0.2.0.fw"
    code, out, _ = run(capsys, "server-install", url)
    assert code == 0 and "PASS  signature" in out
    assert out.splitlines()[-1] == "installed to slot B; rebooting"
    assert fake.env()["SLOT_B_VERSION"] == "0.2.0"
    assert fake.device.slots["B"].read_bytes()[: len(data)] == data


def test_server_install_of_nothing_newer_is_refused_unless_forced(fake, key, server, capsys):
    directory, url = server
    publish(directory, make(key), "0.1.0")
    code, out, _ = run(capsys, "server-check", url)
    assert code == 0 and "up to date: the server's latest is 0.1.0, running 0.1.0" in out
    code, out, err = run(capsys, "server-install", url)
    assert code == 1 and "not newer" in err and "downloading" not in out
    code, out, _ = run(capsys, "server-install", url, "--force", "--no-reboot")
    assert code == 0 and "forced reinstall of 0.1.0" in out
    assert fake.env()["SLOT_B_STATE"] == "trial" and fake.reboots == []


def test_server_unreachable_is_one_line(fake, capsys):
    code, out, err = run(capsys, "server-check", "http://127.0.0.1:9/")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "unreachable" in err
