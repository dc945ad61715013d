"""The netns tier's lab is natbox.hil's netns router (the plugin the users get): two DHCP
clients, natbox's datapath and web UI, the internet with two servers. ``lab`` is its
natbox.lab.lab.Lab, for the tests that drive namespaces directly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from natbox.hil.pool import Unavailable

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.path).parents:  # their lab is the netns router (not a vm's)
            item.add_marker(pytest.mark.natbox(mode="netns"))
    if os.geteuid() != 0:
        for item in items:
            if item.get_closest_marker("netns"):
                item.add_marker(pytest.mark.skip(reason="the netns tier needs root"))


@pytest.fixture(scope="session")
def lab(natbox_routers):
    """One lab for most netns tests: two DHCP clients, natbox in netns mode, two servers."""
    try:
        return natbox_routers.get("netns").lab
    except Unavailable as why:
        pytest.skip(str(why))
