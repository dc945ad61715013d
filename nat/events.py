"""Temporary: ``LAN``/``WAN`` for nat/driver/, which imports them from here until it moves
out of nat/. New code imports them from :mod:`nat.direction`. The engine takes no event
objects: a driver calls ``receive``/``advance``/``configure`` (see :mod:`nat.api`)."""

from __future__ import annotations

from nat.direction import LAN, WAN

__all__ = ["LAN", "WAN"]
