"""natbox's NAT engine: sans-IO, packets and time in, actions out. See nat.engine and nat.api.

The names below are loaded on first use (PEP 562), so ``import router.model`` (the web
UI, routerctl) does not load the engine: under TCG that is a tenth of a second of boot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "Drop": "nat.actions",
    "Log": "nat.actions",
    "Transmit": "nat.actions",
    "Offload": "nat.actions",
    "Withdraw": "nat.actions",
    "ConfigError": "nat.config_types",
    "NatConfig": "nat.config",
    "PortForward": "nat.config_types",
    "Timeouts": "nat.config_types",
    "Engine": "nat.engine",
    "NatEngine": "nat.api",
    "LAN": "nat.direction",
    "WAN": "nat.direction",
    "Side": "nat.direction",
    "Direction": "nat.direction",
}

__all__ = [  # noqa: RUF022 - the order of _EXPORTS
    "Drop",
    "Log",
    "Transmit",
    "Offload",
    "Withdraw",
    "ConfigError",
    "NatConfig",
    "PortForward",
    "Timeouts",
    "Engine",
    "NatEngine",
    "LAN",
    "WAN",
    "Side",
    "Direction",
]

if TYPE_CHECKING:
    from nat.actions import Drop, Log, Offload, Transmit, Withdraw
    from nat.api import NatEngine
    from nat.config import NatConfig
    from nat.config_types import ConfigError, PortForward, Timeouts
    from nat.direction import LAN, WAN, Direction, Side
    from nat.engine import Engine


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
