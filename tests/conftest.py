"""Test tiers: a test is `unit` unless it is marked `netns`, `vm` or `image`, or has a router of
natbox.hil (the example project's tests too): then its tier is the router's mode. Hypothesis
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
            item.add_marker(_router_tier(item) or pytest.mark.unit)


def _router_tier(item):
    try:
        from natbox.hil.plugin import mode_of
    except ImportError:  # the webui-device environment: no natbox.hil, no routers
        return None
    mode = mode_of(item)
    return getattr(pytest.mark, mode) if mode else None
