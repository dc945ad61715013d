"""Test tiers: a test is `unit` unless it is marked `netns`, `vm` or `image`."""

import pytest

_TIERS = {"netns", "vm", "image"}


def pytest_collection_modifyitems(items):
    for item in items:
        if not _TIERS & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)
