"""The redundant environment byte for byte as libubootenv's fw_printenv / fw_setenv read and
write it: both copies, a corrupt copy, the flag wrap-around, and the tools' own writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from router.update import bootenv
from router.update.bootenv import BootEnv, EnvError
from router.update.layout import ENV_COPY_OFFSETS, ENV_SIZE, fw_env_config


@pytest.fixture
def envfile(tmp_path: Path) -> Path:
    path = tmp_path / "env.img"
    with open(path, "wb") as f:
        f.truncate(ENV_COPY_OFFSETS[1] + ENV_SIZE)
    (tmp_path / "fw_env.config").write_text(fw_env_config(str(path)))
    return path


def printenv(path: Path) -> dict[str, str]:
    out = subprocess.run(["fw_printenv", "-c", str(path.parent / "fw_env.config")],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def setenv(path: Path, name: str, value: str) -> None:
    subprocess.run(["fw_setenv", "-c", str(path.parent / "fw_env.config"), name, value],
                   check=True, capture_output=True)  # fmt: skip


def write_copy(path: Path, index: int, variables: dict[str, str], flag: int) -> None:
    with open(path, "r+b") as f:
        f.seek(ENV_COPY_OFFSETS[index])
        f.write(bootenv.encode(variables, flag))


def test_what_we_save_fw_printenv_reads(envfile):
    BootEnv(envfile).save({"BOOT_ORDER": "A B", "BOOT_A_LEFT": "3"})
    assert printenv(envfile) == {"BOOT_ORDER": "A B", "BOOT_A_LEFT": "3"}


def test_what_fw_setenv_writes_we_read(envfile):
    BootEnv(envfile).save({"BOOT_ORDER": "A B"})
    setenv(envfile, "BOOT_B_LEFT", "2")
    setenv(envfile, "BOOT_ORDER", "B A")
    assert BootEnv(envfile).load() == {"BOOT_ORDER": "B A", "BOOT_B_LEFT": "2"}


def test_a_save_writes_both_copies_the_older_first(envfile):
    env = BootEnv(envfile)
    env.save({"N": "1"})
    seen = []
    env.save({"N": "2"}, between=lambda: seen.append(env.read_copies()))
    first, second = env.read_copies()
    assert first.variables == second.variables == {"N": "2"}
    # Between the two writes one copy is new (newer flag), the other still old: both good.
    mid = seen[0]
    assert sorted(c.variables["N"] for c in mid) == ["1", "2"]
    assert mid[bootenv.newest(*mid)].variables == {"N": "2"}


@pytest.mark.parametrize("flags, newer", [((5, 6), 1), ((6, 5), 0), ((255, 0), 1), ((0, 255), 0)])
def test_the_newer_flag_wins_including_wrap_around_as_fw_printenv_decides(envfile, flags, newer):
    write_copy(envfile, 0, {"COPY": "first"}, flags[0])
    write_copy(envfile, 1, {"COPY": "second"}, flags[1])
    expected = ["first", "second"][newer]
    assert BootEnv(envfile).load()["COPY"] == expected
    assert printenv(envfile)["COPY"] == expected


@pytest.mark.parametrize("corrupt", [0, 1])
def test_a_corrupt_copy_is_ignored_by_both_readers(envfile, corrupt):
    write_copy(envfile, 0, {"COPY": "first"}, 1)
    write_copy(envfile, 1, {"COPY": "second"}, 2)
    with open(envfile, "r+b") as f:  # one flipped bit inside the data
        f.seek(ENV_COPY_OFFSETS[corrupt] + 10)
        byte = f.read(1)[0]
        f.seek(-1, 1)
        f.write(bytes([byte ^ 0x01]))
    good = ["second", "first"][corrupt]
    assert BootEnv(envfile).load()["COPY"] == good
    assert printenv(envfile)["COPY"] == good
    # The next save overwrites the corrupt copy first; both are good again afterwards.
    BootEnv(envfile).save({"COPY": "third"})
    assert all(c.good and c.variables == {"COPY": "third"} for c in BootEnv(envfile).read_copies())


def test_no_good_copy_is_an_error_naming_both(envfile):
    with pytest.raises(EnvError, match="no good environment copy"):
        BootEnv(envfile).load()


def test_values_that_cannot_be_stored_are_refused():
    for name, value in [("A=B", "x"), ("", "x"), ("N", "a\0b")]:
        with pytest.raises(EnvError):
            bootenv.encode({name: value}, 1)
    with pytest.raises(EnvError, match="does not fit"):
        bootenv.encode({"BIG": "x" * ENV_SIZE}, 1)


def test_random_bytes_never_decode_to_a_good_copy():
    import random

    rng = random.Random(5)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(64)) + bytes(ENV_SIZE - 64)
        assert not bootenv.decode(raw).good
