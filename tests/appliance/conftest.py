"""natbox's own appliance tests run on natbox.hil's vm router (the plugin the users get): one
boot per session, a console transcript and link captures per test, kept in out/natbox/ when
the test fails, and a reboot when a test left the device unusable. ``device`` is that router's
appliance (natbox.appliance.driver.Appliance) for the tests that drive its console; their
modules ask for the vm router with ``pytest.mark.natbox(mode="vm")``."""

from __future__ import annotations

from pathlib import Path

import pytest

from natbox.appliance.driver import Appliance
from natbox.hil.pool import Unavailable

TREE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def appliance_class():
    """For a test module that needs an appliance of its own (its own disk and boot)."""
    return lambda workdir, **kw: Appliance(workdir, tree=TREE, **kw)


@pytest.fixture(scope="session")
def appliance(natbox_routers):
    """The session's booted appliance, for module fixtures (``device`` for tests)."""
    try:
        return natbox_routers.get("vm").appliance
    except Unavailable as why:
        pytest.skip(str(why))


@pytest.fixture
def device(router):
    return router.appliance
