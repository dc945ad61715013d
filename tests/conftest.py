"""Test tiers: a test is `unit` unless it is marked `netns`, `vm` or `image`. Hypothesis
without its per-example deadline: speed is measured in `make bench`, never in a unit test,
and `make test` runs the tiers beside the fault matrix's appliances on a shared machine."""

import pytest

try:  # not in the webui-device environment, which has no property-based tests
    from hypothesis import settings
except ImportError:
    pass
else:
    settings.register_profile("natbox", deadline=None)
    settings.load_profile("natbox")

_TIERS = {"netns", "vm", "image"}


def pytest_collection_modifyitems(items):
    for item in items:
        if not _TIERS & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)
