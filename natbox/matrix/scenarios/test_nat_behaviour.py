"""Each profile classified by a real RFC 5780 client (coturn's natdiscovery against the
internet host's two server addresses), beside the profile's documented mapping, filtering and
hairpinning; a difference fails."""

from __future__ import annotations

import pytest

from natbox.hil import PROFILE_NAMES
from natbox.lab import names as N
from natbox.peers import stun


@pytest.mark.natbox(profile=list(PROFILE_NAMES))
def test_rfc5780_discovery_finds_the_documented_behaviour(nat_behaviour, lan_client, internet,
                                                          tmp_path):  # fmt: skip
    stun.server(internet, tmp_path / "stun", N.SERVERS)
    found = stun.discover(lan_client, N.SERVERS[0])
    nat_behaviour.observe(found.mapping, found.filtering, found.hairpinning)
    nat_behaviour.check()
