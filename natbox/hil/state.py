"""The router state a test asks for with ``@pytest.mark.natbox(...)``, and its expansion into
parameters: a list where one value is expected (``profile=PROFILE_NAMES``,
``passthrough={"ipsec": [True, False]}``, ``mode=["netns", "vm"]``) runs the test once per
combination, each with its own id (``symmetric-ipsec_off-vm``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from natbox.hil.router import PROFILE_NAMES, Forward

MODES = ("netns", "vm")
KEYS = {"mode", "profile", "passthrough", "netem", "forwards"}
LINKS = ("lan", "wan", "inet")
FORWARD_KEYS = {"proto", "port", "host", "host_port", "end"}


class StateError(ValueError):
    pass


@dataclass(frozen=True)
class RouterState:
    """One combination: the mode, and what is set on the router before the test (None:
    the router's default, left alone)."""

    mode: str = "netns"
    profile: str | None = None
    passthrough: dict[str, bool] = field(default_factory=dict)
    netem: dict[str, str] = field(default_factory=dict)
    forwards: tuple[Forward, ...] = ()

    @property
    def id(self) -> str:
        words = [self.profile] if self.profile else []
        words += [f"{k}_{'on' if v else 'off'}" for k, v in sorted(self.passthrough.items())]
        return "-".join([*words, self.mode])


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def expand(kwargs: dict[str, Any], modes: list[str],
           vm_profiles: list[str] | None = None) -> list[RouterState]:  # fmt: skip
    """Every combination the marker's keywords ask for. ``modes``: the run's (from the
    command line or ini) unless the marker names its own; ``vm_profiles``: the profiles a
    profile-parametrized test runs over in vm mode (boots are slow)."""
    unknown = sorted(set(kwargs) - KEYS)
    if unknown:
        raise StateError(f"@pytest.mark.natbox: unknown keyword {unknown[0]!r}; "
                         f"expected some of {', '.join(sorted(KEYS))}")  # fmt: skip
    chosen_modes = _listed(kwargs.get("mode", modes))
    for mode in chosen_modes:
        if mode not in MODES:
            raise StateError(f"@pytest.mark.natbox: mode {mode!r}: expected netns or vm")
    profiles = _listed(kwargs.get("profile"))
    for profile in profiles:
        if profile is not None and profile not in PROFILE_NAMES:
            raise StateError(f"@pytest.mark.natbox: profile {profile!r}: expected one of "
                             f"{', '.join(PROFILE_NAMES)}")  # fmt: skip
    switches = kwargs.get("passthrough") or {}
    if not isinstance(switches, dict):
        raise StateError("@pytest.mark.natbox: passthrough: expected {name: True/False}")
    names = sorted(switches)
    choices = [_listed(switches[n]) for n in names]
    for name, values in zip(names, choices, strict=True):
        if not all(isinstance(v, bool) for v in values):
            raise StateError(f"@pytest.mark.natbox: passthrough {name!r}: True or False")
    netem = kwargs.get("netem") or {}
    if not isinstance(netem, dict):
        raise StateError('@pytest.mark.natbox: netem: expected {"wan": "delay 20ms loss 1%"}')
    for link, spec in netem.items():
        if link not in LINKS or not isinstance(spec, str) or not spec.split():
            raise StateError(f"@pytest.mark.natbox: netem {link!r}: expected a link of "
                             f"{', '.join(LINKS)} and a netem string")  # fmt: skip
    forwards = tuple(_forward(f) for f in kwargs.get("forwards", ()))
    states = []
    for mode, profile, values in itertools.product(chosen_modes, profiles,
                                                   itertools.product(*choices)):  # fmt: skip
        if (mode == "vm" and vm_profiles and len(profiles) > 1
                and profile not in vm_profiles):  # fmt: skip
            continue
        states.append(RouterState(mode, profile, dict(zip(names, values, strict=True)),
                                  dict(netem), forwards))  # fmt: skip
    return states


def _forward(given: Any) -> Forward:
    if isinstance(given, Forward):
        return given
    if not isinstance(given, dict) or set(given) - FORWARD_KEYS or not {
            "proto", "port", "host"} <= set(given):  # fmt: skip
        raise StateError(f"@pytest.mark.natbox: forwards: {given!r}: expected proto, port "
                         "and host (host_port, end optional)")  # fmt: skip
    return Forward(**given)


def apply(router, state: RouterState) -> None:
    """Set what the state asks for, through the router's API and the lab's links."""
    if state.profile is not None:
        router.set_profile(state.profile)
    if state.passthrough:
        router.set_passthrough(state.passthrough)
    for forward in state.forwards:
        router.add_forward(forward.proto, forward.port, forward.host, forward.host_port,
                           forward.end)  # fmt: skip
    for link, spec in state.netem.items():
        router.impair(link, spec)
