"""Passthrough helpers and ALGs, one module per protocol (see nat.helpers for the protocol).

``default_helpers`` is what an engine loads when it is not given a list: every helper
listed in ``HELPER_CLASSES``. Adding a protocol means adding a module here and a line to
that tuple; the engine core does not change.
"""

from __future__ import annotations

from nat.helpers import Helper

HELPER_CLASSES: tuple[type[Helper], ...] = ()


def default_helpers() -> list[Helper]:
    return [cls() for cls in HELPER_CLASSES]
