"""The router configuration file and the commands it turns into."""

import json

import pytest

from nat import ConfigError
from nat.driver import shield
from natbox.router import services, settings


def test_a_full_file_parses_and_feeds_dnsmasq():
    parsed = settings.parse(
        {
            "nat": {"profile": "symmetric"},
            "lan": {
                "address": "192.168.1.1/24",
                "dhcp": {
                    "range": ["192.168.1.100", "192.168.1.199"],
                    "static": {"02:00:00:00:01:01": "192.168.1.101"},
                },
                "dns": {"hosts": {"server1.lab": "198.51.100.10"}},
            },
            "wan": {"mode": "dhcp"},
            "kernel_ports": [60000, 65535],
        }
    )
    assert parsed.nat_config().profile == "symmetric"
    args = services.dnsmasq_args("lan0", parsed, "/tmp/x")
    assert "--interface=lan0" in args and "--bind-interfaces" in args
    assert "--dhcp-range=192.168.1.100,192.168.1.199,1h" in args
    assert "--dhcp-host=02:00:00:00:01:01,192.168.1.101" in args
    assert "--host-record=server1.lab,198.51.100.10" in args
    assert "--min-port=60000" in args and "--conf-file=/dev/null" in args


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"wan": {"mode": "pppoe"}}, "wan.mode"),
        ({"wan": {"mode": "static"}}, "wan.address"),
        ({"lan": {"address": "192.168.1.300/24"}}, "lan.address"),
        ({"kernel_ports": [80, 90]}, "kernel_ports"),
        ({"nat": {"profile": "no-such-profile"}}, "profile"),
    ],
)
def test_bad_files_are_refused_naming_the_field(data, field):
    with pytest.raises(ConfigError) as error:
        settings.parse(data)
    assert error.value.field == field


def test_the_shield_covers_nat_ports_and_vpn_protocols_but_not_dhcp_replies():
    text = shield.ruleset(
        "lan0", "wan0", [(1, 1023), (1024, 60999)], "192.168.1.1", "192.168.1.255"
    )
    assert 'device "wan0"' in text and "tcp dport { 1-1023, 1024-60999 } drop" in text
    assert "ip protocol { 47, 50, 51 } drop" in text
    assert text.index("udp dport 68 accept") < text.index("udp dport {")
    assert "ip daddr != { 192.168.1.1, 192.168.1.255" in text


def test_the_web_ui_configuration_file_is_read_with_the_site_file(tmp_path):
    """UI, API and daemon share one file: a ConfigStore file, completed by the site's facts."""
    from nat.config_store import ConfigStore
    from nat.router_config import RouterConfig

    config = RouterConfig.from_dict(
        {
            "nat": {"profile": "symmetric", "wan_addresses": ["203.0.113.2"]},
            "wan": {"mode": "static", "gateway": "203.0.113.1", "dns_servers": []},
            "dhcp": {"first": "192.168.1.100", "last": "192.168.1.150", "lease_time": 3600},
        }
    )
    ConfigStore(tmp_path / "config.json").save(config)
    site = {
        "lan": {
            "dhcp": {"static": {"02:00:00:00:01:01": "192.168.1.101"}},
            "dns": {"hosts": {"server1.lab": "198.51.100.10"}},
        },
        "wan": {"mode": "static", "address": "203.0.113.2/24", "gateway": "203.0.113.9"},
        "kernel_ports": [60000, 65535],
    }
    (tmp_path / "site.json").write_text(json.dumps(site))
    loaded = settings.load(str(tmp_path / "config.json"), str(tmp_path / "site.json"))
    assert loaded.nat_config() == config.nat
    assert loaded.lan_address == "192.168.1.1/24"
    assert loaded.dhcp_range == ("192.168.1.100", "192.168.1.150")
    assert loaded.dhcp_static == {"02:00:00:00:01:01": "192.168.1.101"}
    assert loaded.dns_hosts == {"server1.lab": "198.51.100.10"}
    assert (loaded.wan_mode, loaded.wan_address) == ("static", "203.0.113.2/24")
    assert loaded.wan_gateway == "203.0.113.1"  # the configuration wins over the site
    assert loaded.kernel_ports == (60000, 65535)
    args = services.dnsmasq_args("lan0", loaded, "/tmp/x")
    assert "--dhcp-range=192.168.1.100,192.168.1.150,3600" in args


def test_a_web_ui_configuration_is_validated_by_the_shared_model(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hostname": "natbox", "nat": {"profile": "nonsense"}}))
    with pytest.raises(ConfigError):
        settings.load(str(path))


def test_a_site_with_external_lan_services_keeps_the_daemon_from_serving_dhcp(tmp_path):
    """The appliance serves LAN DHCP with udhcpd: the daemon must not start dnsmasq for it."""
    from nat.config_store import ConfigStore
    from nat.router_config import RouterConfig

    config = RouterConfig.from_dict(
        {"wan": {"mode": "dhcp", "gateway": None, "dns_servers": ["192.0.2.53"]}}
    )
    ConfigStore(tmp_path / "running.json").save(config)
    site = {"lan_services": "external", "wan": {"mode": "dhcp"}}
    (tmp_path / "site.json").write_text(json.dumps(site))
    loaded = settings.load(str(tmp_path / "running.json"), str(tmp_path / "site.json"))
    assert loaded.dhcp_range is None and loaded.dns_upstream == ()
    assert loaded.wan_mode == "dhcp"
    with pytest.raises(ConfigError):
        settings.parse({"lan_services": "magic"})
