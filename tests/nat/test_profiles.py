"""Named NAT profiles behave as their names promise, observed from the WAN side."""

import pytest
from playbook import SERVER, SERVER2, Lab, udp_in, udp_out
from scapy.layers.inet import UDP

from nat import ConfigError, NatConfig
from nat.direction import WAN
from nat.profiles import DEFAULT_PROFILE, PROFILES

# profile: (same external port towards another server, admits another port of the same
# server, admits another server)
EXPECTED = {
    "full-cone": (True, True, True),
    "restricted-cone": (True, True, False),
    "port-restricted-cone": (True, False, False),
    "symmetric": (False, False, False),
    "linux-masquerade": (True, False, False),
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_profile_observed_behaviour(profile):
    lab = Lab(NatConfig.from_profile(profile))
    first = lab.lan(udp_out(sport=5000, dst=SERVER, dport=3478)).only(WAN)[UDP].sport
    second = lab.lan(udp_out(sport=5000, dst=SERVER2, dport=3478)).only(WAN)[UDP].sport
    other_port = bool(lab.wan(udp_in(3479, first, src=SERVER)).transmitted)
    other_server = bool(lab.wan(udp_in(3478, first, src="198.51.100.30")).transmitted)
    assert (first == second, other_port, other_server) == EXPECTED[profile]
    assert bool(lab.wan(udp_in(3478, first, src=SERVER)).transmitted)  # replies always pass


def test_every_profile_is_tested():
    assert set(EXPECTED) == set(PROFILES)


def test_default_profile_is_restricted_cone():
    assert DEFAULT_PROFILE == "restricted-cone" == NatConfig().profile
    defaults = NatConfig()
    named = NatConfig.from_profile(DEFAULT_PROFILE)
    assert (defaults.mapping, defaults.filtering) == (named.mapping, named.filtering)


def test_linux_masquerade_uses_linux_timeouts_and_no_hairpin():
    config = NatConfig.from_profile("linux-masquerade")
    assert config.timeouts.udp == 120 and config.timeouts.icmp == 30
    assert config.hairpinning is False


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigError) as error:
        NatConfig.from_dict({"profile": "cone-of-silence"})
    assert error.value.field == "profile"
