"""RouterConfig: round trips, field-level errors, what needs a restart."""

import pytest

from nat.config import ConfigError
from nat.profiles import PROFILES
from router.model import RouterConfig
from router.plan import restart_needed


def test_defaults_round_trip():
    config = RouterConfig()
    assert RouterConfig.from_dict(config.to_dict()) == config
    assert RouterConfig.from_dict({}) == config


def test_every_profile_round_trips():
    for profile in PROFILES:
        config = RouterConfig.from_dict({"nat": {"profile": profile}})
        assert RouterConfig.from_dict(config.to_dict()) == config


def test_api_view_hides_the_password_hash():
    assert "password_hash" not in RouterConfig().to_dict(secrets=False)["admin"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"nat": {"dmz_host": "10.9.9.9"}}, "nat.dmz_host"),
        ({"nat": {"port_forwards": [{"proto": "tcp", "ext_port": 0, "host": "192.168.1.5"}]}},
         "nat.port_forwards[0].ext_port"),
        ({"dhcp": {"first": "10.0.0.1"}}, "dhcp.first"),
        ({"dhcp": {"first": "192.168.1.1", "last": "192.168.1.50"}}, "dhcp.first"),
        ({"dhcp": {"first": "192.168.1.50", "last": "192.168.1.40"}}, "dhcp.last"),
        ({"dhcp": {"lease_time": 5}}, "dhcp.lease_time"),
        ({"wan": {"mode": "pppoe"}}, "wan.mode"),
        ({"wan": {"dns_servers": ["x"]}}, "wan.dns_servers[0]"),
        ({"admin": {"password_hash": "plaintext"}}, "admin.password_hash"),
        ({"admin": {"username": "Root Admin"}}, "admin.username"),
        ({"hostname": "bad name"}, "hostname"),
        ({"colour": "blue"}, "colour"),
        ({"wan": {"speed": 1}}, "wan.speed"),
        ({"wan": {"prefix": 33}}, "wan.prefix"),
        ({"dhcp": {"static_leases": [{"mac": "nope", "address": "192.168.1.5"}]}},
         "dhcp.static_leases[0].mac"),
        ({"dhcp": {"static_leases": [{"mac": "02:00:00:00:00:01", "address": "10.1.1.1"}]}},
         "dhcp.static_leases[0].address"),
        ({"dhcp": {"static_leases": [{"mac": "02:00:00:00:00:01", "address": "192.168.1.5"},
                                     {"mac": "02:00:00:00:00:01", "address": "192.168.1.6"}]}},
         "dhcp.static_leases[1]"),
        ({"dns": {"hosts": [{"name": "-bad-", "address": "192.168.1.5"}]}}, "dns.hosts[0].name"),
        ({"dns": {"hosts": [{"name": "nas.lan", "address": "x"}]}}, "dns.hosts[0].address"),
        ({"dns": {"hosts": {"nas": "192.168.1.5"}}}, "dns.hosts"),
        ({"dns": {"hosts": [{"name": "Router.lan", "address": "192.168.1.5"}]}},
         "dns.hosts[0].name"),
        ({"dns": {"hosts": [{"name": "nas", "address": "192.168.1.5"},
                            {"name": "NAS", "address": "192.168.1.6"}]}}, "dns.hosts[1].name"),
        ({"dhcp": {"last": "192.168.1.255"}}, "dhcp.last"),
        ({"dhcp": {"enabled": False, "static_leases": [
            {"mac": "02:00:00:00:00:01", "address": "192.168.1.1"}]}},
         "dhcp.static_leases[0].address"),
        ({"nat": {"lan_address": "192.168.1.0"}}, "nat.lan_address"),
        ({"wan": {"gateway": "198.51.100.1"}}, "wan.gateway"),
        ({"nat": {"wan_addresses": ["203.0.113.254"]}}, "wan.gateway"),
        ({"wan": {"prefix": 32}}, "wan.gateway"),
    ],
)  # fmt: skip
def test_errors_name_the_field(data, field):
    with pytest.raises(ConfigError) as error:
        RouterConfig.from_dict(data)
    assert error.value.field == field


def test_lan_and_wan_changes_need_a_restart_helpers_do_not():
    old = RouterConfig()
    lan = old.replace(nat=old.nat.replace(lan_address="192.168.1.2"))
    assert restart_needed(old, lan) == ["nat.lan_address"]
    helpers = old.replace(nat=old.nat.replace(helpers=(("pptp", True),)))
    assert restart_needed(old, helpers) == []


def test_static_leases_and_host_records_round_trip():
    data = {
        "dhcp": {"static_leases": [{"mac": "02:00:00:00:00:AA", "address": "192.168.1.50"}]},
        "dns": {"hosts": [{"name": "nas.lan", "address": "192.168.1.50"}]},
    }
    config = RouterConfig.from_dict(data)
    assert config.dhcp.static_leases[0].mac == "02:00:00:00:00:aa"
    assert RouterConfig.from_dict(config.to_dict()) == config


def test_a_static_wan_gateway_inside_any_prefix_is_accepted():
    config = RouterConfig.from_dict(
        {"nat": {"wan_addresses": ["198.51.100.7"]},
         "wan": {"prefix": 28, "gateway": "198.51.100.1"}}
    )  # fmt: skip
    assert config.wan.prefix == 28
    # A DHCP WAN has no static gateway to check.
    assert (
        RouterConfig.from_dict({"wan": {"mode": "dhcp", "gateway": "10.0.0.1"}}).wan.mode == "dhcp"
    )
