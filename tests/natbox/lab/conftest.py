"""Fixtures for the netns tier: real labs (namespaces, the router process, dnsmasq...)."""

from __future__ import annotations

import os

import pytest

from natbox.lab import names
from natbox.lab.lab import Lab, LabOptions


def pytest_collection_modifyitems(items):
    if os.geteuid() != 0:
        for item in items:
            if item.get_closest_marker("netns"):
                item.add_marker(pytest.mark.skip(reason="the netns tier needs root"))


@pytest.fixture(scope="session")
def lab():
    """One lab for most netns tests: two DHCP clients, natbox in netns mode, two servers."""
    built = Lab(f"t{names.new_id()}", LabOptions(clients=2)).up()
    yield built
    built.down()
