"""A saved configuration the router cannot read: factory defaults, the refused file kept aside
(config.json.refused), the defaults saved in its place, and a line on the console and in
syslog. The router starts either way."""

from __future__ import annotations

import json
import subprocess

import pytest

from natbox.faults.disk import GARBAGE  # what `natbox fault corrupt config` writes
from router import paths, startup
from router.model import RouterConfig
from router.store import ConfigStore

pytestmark = pytest.mark.unit

FACTORY = {"hostname": "factory-box"}


@pytest.fixture
def data(tmp_path, monkeypatch):
    """The saved configuration and the image's factory file, both in tmp_path; logger calls
    recorded instead of run."""
    saved = tmp_path / "data" / "config.json"
    factory = tmp_path / "factory.json"
    factory.write_text(json.dumps(FACTORY))
    monkeypatch.setattr(paths, "saved_store", lambda: ConfigStore(saved))
    monkeypatch.setattr(paths, "FACTORY", factory)
    logged: list[list[str]] = []

    def run(argv, **kwargs):
        logged.append(list(argv))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(startup.subprocess, "run", run)
    return saved, factory, logged


def factory_config() -> RouterConfig:
    return RouterConfig.from_dict(FACTORY)


@pytest.mark.parametrize(
    "content",
    [GARBAGE, b"", b"[1, 2", b'{"hostname": "ok", "no-such-setting": 1}', b'{"hostname": NaN}'],
    ids=["fault-garbage", "empty", "truncated-json", "unknown-setting", "nan"],
)
def test_a_refused_configuration_is_kept_aside_and_replaced(data, capsys, content):
    saved, _, logged = data
    saved.parent.mkdir(parents=True)
    saved.write_bytes(content)
    config = startup.load_saved()
    assert config == factory_config()
    refused = saved.with_name("config.json.refused")
    assert refused.read_bytes() == content
    assert ConfigStore(saved).load() == factory_config()  # it parses again
    out = capsys.readouterr().out
    assert "refused" in out and str(refused) in out
    assert len(logged) == 1
    argv = logged[0]
    assert argv[:3] == ["logger", "-t", "natbox"]
    assert "saved configuration refused" in argv[3] and str(refused) in argv[3]


def test_the_next_boot_reads_the_saved_defaults_quietly(data, capsys):
    saved, _, logged = data
    saved.parent.mkdir(parents=True)
    saved.write_bytes(GARBAGE)
    startup.load_saved()
    capsys.readouterr()
    logged.clear()
    assert startup.load_saved() == factory_config()
    assert "refused" not in capsys.readouterr().out
    assert logged == []
    assert saved.with_name("config.json.refused").read_bytes() == GARBAGE


def test_a_good_configuration_is_read_as_it_is(data, capsys):
    saved, _, logged = data
    ConfigStore(saved).save(RouterConfig(hostname="kept-box"))
    assert startup.load_saved().hostname == "kept-box"
    assert not saved.with_name("config.json.refused").exists()
    assert logged == [] and "refused" not in capsys.readouterr().out


def test_no_configuration_yet_saves_the_factory_one(data):
    saved, _, logged = data
    assert startup.load_saved() == factory_config()
    assert ConfigStore(saved).load(missing_ok=False) == factory_config()
    assert not saved.with_name("config.json.refused").exists()
    assert logged == []


def test_a_broken_factory_file_still_gives_a_router(data, capsys):
    saved, factory, _ = data
    factory.write_text("not json")
    saved.parent.mkdir(parents=True)
    saved.write_bytes(GARBAGE)
    assert startup.load_saved() == RouterConfig()
    out = capsys.readouterr().out
    assert "factory configuration refused" in out
    assert ConfigStore(saved).load() == RouterConfig()


def test_no_logger_is_no_failure(data, monkeypatch):
    saved, _, _ = data

    def missing(argv, **kwargs):
        raise FileNotFoundError(argv[0])

    monkeypatch.setattr(startup.subprocess, "run", missing)
    saved.parent.mkdir(parents=True)
    saved.write_bytes(GARBAGE)
    assert startup.load_saved() == factory_config()
    assert saved.with_name("config.json.refused").exists()
