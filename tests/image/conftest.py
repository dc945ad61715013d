"""One real firmware build per test session (downloads Debian packages on first use; the
.deb cache in ~/.cache/natbox/debs makes later sessions offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from natbox.imagebuild.build import Build, make_build

TREE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def built(tmp_path_factory, key_dir) -> Build:
    base = tmp_path_factory.mktemp("image1")
    b = make_build(TREE, build_dir=base / "build", out_dir=base / "out", key_dir=key_dir)
    b.run()
    return b
