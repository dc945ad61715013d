"""`natbox fault`: the checkpoints listed, a bad trigger or a missing appliance refused in one
line, disk faults on a powered-off disk, a bad firmware file made from a good one, and the
scenario list, and `fault cut` against the two sockets a running QEMU serves (faked here; the
real appliance's power is cut in the vm tier's fault matrix)."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import fwfactory
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from natbox import cli
from natbox.appliance import disk
from natbox.faults import badfiles, scenarios
from natbox.faults import cli as fault_cli
from natbox.faults import disk as disk_faults
from natbox.faults.checkpoints import POINTS
from natbox.firmware.keys import public_pem
from router.firmware.keyring import Keyring
from router.firmware.verify import MAX_FIRMWARE_BYTES, validate

pytestmark = pytest.mark.unit

TREE = Path(__file__).resolve().parents[3]
needs_mkfs = pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="no e2fsprogs")


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_points_lists_every_checkpoint(capsys):
    assert cli.main(["fault", "points"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines()]
    assert listed == list(POINTS)
    assert all(what in out for what in POINTS.values())


# The same shape as tests/natbox/test_cli_arguments.py's BAD: one line naming the argument.
BAD = [
    (["fault"], "fault_command"),
    (["fault", "bogus"], "fault_command"),
    (["fault", "points", "extra"], "unrecognized"),
    (["fault", "cut"], "--at"),
    (["fault", "cut", "--at", "bogus"], "--at"),
    (["fault", "cut", "--at", "write@eight"], "--at"),
    (["fault", "cut", "--at", "write#0"], "--at"),
    (["fault", "cut", "--at", "write@8M", "--timeout", "0"], "--timeout"),
    (["fault", "cut", "--at", "write@8M", "--timeout", "soon"], "--timeout"),
    (["fault", "corrupt", "nope"], "what"),
    (["fault", "corrupt", "env-copy-0", "--disk", "/nonexistent/disk.img"], "--disk"),
    (["fault", "firmware", "nope", __file__, "out.fw"], "kind"),
    (["fault", "firmware", "truncated", "/nonexistent/fw.bin", "out.fw"], "input"),
    (["fault", "firmware", "truncated", __file__, "out.fw", "--key", "/nonexistent"], "--key"),
    (["fault", "matrix", "--group", "nope"], "--group"),
    (["fault", "matrix", "--jobs", "9"], "--jobs"),
]


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_argument_is_one_line_naming_it_and_exit_2(capsys, argv, named):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(argv)
    assert exit_.value.code == 2
    line = one_line_error(capsys)
    assert line.startswith("natbox") and "error:" in line
    assert named in line


def test_cut_without_a_running_appliance_is_refused(capsys, tmp_path):
    assert cli.main(["fault", "cut", "--at", "write@8M", "--workdir", str(tmp_path)]) == 2
    line = one_line_error(capsys)
    assert "no appliance runs" in line and "--workdir" in line and str(tmp_path) in line


def test_corrupt_without_a_disk_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default, build/appliance/disk.img, is not there
    assert cli.main(["fault", "corrupt", "env-copy-0"]) == 2
    line = one_line_error(capsys)
    assert "--disk" in line and "does not exist" in line


@pytest.fixture
def made_disk():
    # A short directory: the running-appliance check opens a unix socket beside the disk.
    with tempfile.TemporaryDirectory(prefix="nbx-fc-", dir="/tmp") as where:
        path = Path(where) / "disk.img"
        disk.create(path, {"BOOT_ORDER": "A B"})
        yield path


@needs_mkfs
def test_corrupt_damages_the_named_copy(capsys, made_disk):
    assert cli.main(["fault", "corrupt", "env-copy-1", "--disk", str(made_disk)]) == 0
    assert "environment copy 1" in capsys.readouterr().out
    assert disk_faults.env_copies_good(made_disk) == [True, False]


@needs_mkfs
def test_corrupt_refuses_the_disk_of_a_running_appliance(capsys, made_disk):
    from natbox.appliance.session import CONTROL_SOCKET

    with socket.socket(socket.AF_UNIX) as control:
        control.bind(str(made_disk.parent / CONTROL_SOCKET))
        control.listen(1)
        assert cli.main(["fault", "corrupt", "env-both", "--disk", str(made_disk)]) == 2
    line = one_line_error(capsys)
    assert "is running" in line and "power it off" in line
    assert disk_faults.env_copies_good(made_disk) == [True, True]  # untouched


@needs_mkfs
@pytest.mark.skipif(shutil.which("debugfs") is None, reason="no debugfs")
def test_corrupt_config_on_a_disk_without_one_fails_and_says_why(capsys, made_disk):
    assert cli.main(["fault", "corrupt", "config", "--disk", str(made_disk)]) == 1
    err = capsys.readouterr().err
    assert "not written" in err and "Traceback" not in err


@pytest.fixture
def signed(tmp_path):
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "k.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    good = tmp_path / "in.fw"
    good.write_bytes(fwfactory.make(key, version="0.2.0"))
    ring = tmp_path / "keyring"
    ring.mkdir()
    (ring / "dev.pub").write_bytes(public_pem(key.public_key()))
    shutil.copyfile(TREE / "image" / "keyring" / "revoked", ring / "revoked")
    return key_file, good, Keyring.from_dir(ring)


def check(data: bytes, ring: Keyring):
    return validate(data, ring, fwfactory.BOARD, "1.0", MAX_FIRMWARE_BYTES, "0.1.0", True, False)


def test_firmware_writes_a_file_its_check_refuses(capsys, signed, tmp_path):
    key_file, good, ring = signed
    assert check(good.read_bytes(), ring).valid
    out = tmp_path / "out.fw"
    argv = ["fault", "firmware", "revoked-key", str(good), str(out), "--key", str(key_file)]
    assert cli.main(argv) == 0
    assert "refused by the signature check" in capsys.readouterr().out
    report = check(out.read_bytes(), ring)
    assert not report.valid and report.failed() == ["signature"], report.lines()
    assert "revoked" in report.problems()


def test_firmware_with_a_key_that_is_not_one_is_refused(capsys, signed, tmp_path):
    _, good, _ = signed
    not_a_key = tmp_path / "nokey.pem"
    not_a_key.write_text("hello\n")
    out = tmp_path / "out.fw"
    argv = ["fault", "firmware", "unsigned", str(good), str(out), "--key", str(not_a_key)]
    assert cli.main(argv) == 2
    assert "--key" in one_line_error(capsys)
    assert not out.exists()


def test_firmware_from_a_file_that_is_not_firmware_is_refused(capsys, signed, tmp_path):
    key_file, _, _ = signed
    out = tmp_path / "out.fw"
    argv = ["fault", "firmware", "bit-flipped", __file__, str(out), "--key", str(key_file)]
    assert cli.main(argv) == 2
    assert "argument input" in one_line_error(capsys)
    assert not out.exists()


def test_matrix_list_names_every_scenario(capsys):
    assert cli.main(["fault", "matrix", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == len(scenarios.SCENARIOS)
    for s in scenarios.SCENARIOS:
        assert s.name in out


def test_matrix_refuses_an_unknown_scenario(capsys):
    assert cli.main(["fault", "matrix", "--scenario", "nope"]) == 2
    line = one_line_error(capsys)
    assert "--scenario" in line and "'nope'" in line


def test_the_cli_copies_agree_with_their_modules():
    assert fault_cli.BAD_FILE_KINDS == badfiles.KINDS
    assert fault_cli.GROUPS == scenarios.GROUPS


class FakeQemu:
    """The two sockets `natbox fault cut` talks to, as QEMU serves them: the checkpoint port
    (the device's side announces) and the control QMP socket (it records the commands)."""

    def __init__(self, workdir: Path):
        import threading

        from natbox.appliance.session import CHECKPOINT_SOCKET, CONTROL_SOCKET

        self.port = socket.socket(socket.AF_UNIX)
        self.port.bind(str(workdir / CHECKPOINT_SOCKET))
        self.port.listen(1)
        self.qmp = socket.socket(socket.AF_UNIX)
        self.qmp.bind(str(workdir / CONTROL_SOCKET))
        self.qmp.listen(2)
        self.commands: list[str] = []
        self.answers: list[str] = []
        threading.Thread(target=self._serve_qmp, daemon=True).start()

    def _serve_qmp(self) -> None:
        import json

        while True:
            try:
                conn, _ = self.qmp.accept()
            except OSError:
                return
            try:
                with conn, conn.makefile("rw") as f:
                    f.write('{"QMP": {"version": {}}}\n')
                    f.flush()
                    for line in f:
                        self.commands.append(json.loads(line)["execute"])
                        f.write('{"return": {}}\n')
                        f.flush()
            except OSError:  # a client that only looked (is anyone there?) and left
                continue

    def device(self, *lines: str) -> list[str]:
        """The device announces ``lines`` one by one; returns what came back for each."""
        conn, _ = self.port.accept()
        conn.settimeout(5)  # a loaded machine answers late; the armed point never does
        for line in lines:
            conn.sendall(line.encode() + b"\n")
            try:
                self.answers.append(conn.recv(100).decode().strip())
            except TimeoutError:
                self.answers.append("")  # no go: the device waits (for the power cut)
        conn.close()
        return self.answers


def test_cut_answers_the_points_before_and_cuts_the_power_at_the_armed_one(capsys, tmp_path):
    import threading

    qemu = FakeQemu(tmp_path)
    device = threading.Thread(
        target=qemu.device,
        args=("reached t1 verified", "reached t2 write 4194304", "reached t3 write 8388608"),
    )
    device.start()
    code = cli.main(["fault", "cut", "--at", "write@8M", "--workdir", str(tmp_path),
                     "--timeout", "60"])  # fmt: skip
    device.join(15)
    assert code == 0
    assert qemu.answers == ["go t1", "go t2", ""]  # the armed point gets no go
    assert "system_reset" in qemu.commands  # the power cut, through the control socket
    out = capsys.readouterr().out
    assert "the power was cut at write@8388608" in out


def test_cut_gives_up_when_the_point_never_comes(capsys, tmp_path):
    import threading

    qemu = FakeQemu(tmp_path)
    threading.Thread(target=qemu.device, args=("reached t1 verified",), daemon=True).start()
    code = cli.main(["fault", "cut", "--at", "written", "--workdir", str(tmp_path),
                     "--timeout", "1"])  # fmt: skip
    assert code == 1
    assert "system_reset" not in qemu.commands
    assert "written not reached; points seen: verified" in capsys.readouterr().err
