"""The natbox marker's keywords become router states: lists multiply, ids name each one, the
vm profile subset applies only to profile grids, and mistakes are refused by name."""

from __future__ import annotations

import pytest

from natbox.hil import PROFILE_NAMES
from natbox.hil.router import Forward
from natbox.hil.state import RouterState, StateError, expand


def test_a_profile_grid_and_both_switch_states_multiply():
    states = expand({"profile": PROFILE_NAMES, "passthrough": {"ipsec": [True, False]}},
                    ["netns"])  # fmt: skip
    assert len(states) == 2 * len(PROFILE_NAMES)
    assert {(s.profile, s.passthrough["ipsec"]) for s in states} == {
        (p, on) for p in PROFILE_NAMES for on in (True, False)}  # fmt: skip
    assert states[0].id == f"{PROFILE_NAMES[0]}-ipsec_on-netns"
    assert len({s.id for s in states}) == len(states)


def test_the_run_modes_apply_unless_the_marker_names_its_own():
    assert [s.mode for s in expand({}, ["netns", "vm"])] == ["netns", "vm"]
    assert [s.mode for s in expand({"mode": "vm"}, ["netns", "vm"])] == ["vm"]
    assert expand({}, ["netns"]) == [RouterState("netns")]


def test_the_vm_profile_subset_trims_only_profile_grids():
    grid = expand({"profile": PROFILE_NAMES}, ["netns", "vm"], vm_profiles=["symmetric"])
    assert [s.profile for s in grid if s.mode == "vm"] == ["symmetric"]
    assert len([s for s in grid if s.mode == "netns"]) == len(PROFILE_NAMES)
    one = expand({"profile": "full-cone"}, ["vm"], vm_profiles=["symmetric"])
    assert [s.profile for s in one] == ["full-cone"]  # asked for by name: kept


def test_forwards_and_netem_are_carried():
    (state,) = expand({"forwards": [{"proto": "udp", "port": 5060, "host": "192.168.1.101"}],
                       "netem": {"wan": "loss 1%"}}, ["netns"])  # fmt: skip
    assert state.forwards == (Forward("udp", 5060, "192.168.1.101"),)
    assert state.netem == {"wan": "loss 1%"}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"profil": "symmetric"}, "'profil'"),
        ({"profile": "nat-type-4"}, "'nat-type-4'"),
        ({"mode": "qemu"}, "'qemu'"),
        ({"passthrough": ["ipsec"]}, "passthrough"),
        ({"passthrough": {"ipsec": "yes"}}, "'ipsec'"),
        ({"netem": {"wlan": "loss 1%"}}, "'wlan'"),
        ({"netem": {"wan": ""}}, "'wan'"),
        ({"forwards": [{"proto": "udp", "port": 5060}]}, "expected proto, port and host"),
        ({"forwards": [{"proto": "udp", "port": 1, "host": "h", "to": 2}]}, "forwards"),
        ({"clients": 3}, "'clients'"),
    ],
)
def test_mistakes_are_refused_by_name(kwargs, named):
    with pytest.raises(StateError, match=named):
        expand(kwargs, ["netns"])
