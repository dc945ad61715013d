"""The example project's own fixture: the firmware its update test installs. Pass your build
with --new-firmware FILE; without it, a checkout of natbox (NATBOX_TREE) builds its own image
as version 0.2.0 (natbox's `make test` runs the example that way)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NEW_VERSION = "0.2.0"


def pytest_addoption(parser):
    parser.addoption("--new-firmware", metavar="FILE", help="the firmware the update test "
                     "installs (default: natbox's own image, built as 0.2.0)")  # fmt: skip


@pytest.fixture(scope="session")
def new_firmware(request) -> Path:
    given = request.config.getoption("--new-firmware", None)
    if given:
        return Path(given)
    tree = Path(os.environ.get("NATBOX_TREE", request.config.rootpath))
    if not (tree / "image").is_dir():
        pytest.fail("no --new-firmware FILE, and no natbox checkout to build one (NATBOX_TREE)")
    from natbox.imagebuild.build import make_build

    build = make_build(tree, quiet=True, version=NEW_VERSION)
    build.run()  # once: a build whose inputs did not change is not run again
    return build.firmware_path
