"""ConfigStore: atomic replace, defaults when empty, nothing invalid written."""

import json
import os

import pytest

from nat.config import ConfigError
from router.model import RouterConfig
from router.store import ConfigStore


def test_missing_file_means_factory_defaults(tmp_path):
    assert ConfigStore(tmp_path / "none.json").load() == RouterConfig()


def test_save_and_load(tmp_path):
    store = ConfigStore(tmp_path / "sub" / "config.json")
    config = RouterConfig(hostname="lab-router")
    store.save(config)
    assert store.load() == config
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["config.json"]  # no temp left


def test_invalid_config_is_refused_and_old_one_stays(tmp_path):
    store = ConfigStore(tmp_path / "config.json")
    store.save(RouterConfig(hostname="kept"))
    with pytest.raises(ConfigError) as error:
        store.save_dict({"hostname": "kept", "nat": {"dmz_host": "8.8.8.8"}})
    assert error.value.field == "nat.dmz_host"
    assert store.load().hostname == "kept"


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    store = ConfigStore(tmp_path / "config.json")
    store.save(RouterConfig(hostname="before"))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(RouterConfig(hostname="after"))
    monkeypatch.undo()
    assert store.load().hostname == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_corrupt_file_is_a_config_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        ConfigStore(path).load()
    path.write_text(json.dumps({"hostname": "-"}))
    with pytest.raises(ConfigError):
        ConfigStore(path).load()
