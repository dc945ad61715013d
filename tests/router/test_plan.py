"""The one configuration pipeline: RouterConfig + DeviceFacts -> the plan -> each service."""

import pytest

from router import services
from router.model import RouterConfig
from router.plan import DeviceFacts, plan, restart_needed

LAB = DeviceFacts("lan0", "wan0", (60000, 65535))


def config(**sections) -> RouterConfig:
    base = {
        "nat": {"profile": "symmetric", "wan_addresses": ["203.0.113.2"]},
        "wan": {"mode": "static", "gateway": "203.0.113.1", "dns_servers": ["192.0.2.53"]},
        "dhcp": {"first": "192.168.1.100", "last": "192.168.1.150", "lease_time": 3600},
    }
    return RouterConfig.from_dict({**base, **sections})


def test_every_service_gets_its_part_of_one_model():
    derived = plan(
        config(
            hostname="edge",
            dhcp={
                "first": "192.168.1.100",
                "last": "192.168.1.150",
                "lease_time": 3600,
                "static_leases": [{"mac": "02:00:00:00:01:01", "address": "192.168.1.101"}],
            },
            dns={"hosts": [{"name": "server1.lab", "address": "198.51.100.10"}]},
        ),
        LAB,
    )
    assert derived.nat.profile == "symmetric"
    assert (derived.addressing.lan, derived.addressing.wan) == ("192.168.1.1/24", "203.0.113.2/24")
    assert derived.addressing.wan_gateway == "203.0.113.1"
    assert derived.driver.kernel_ports == (60000, 65535)
    assert derived.hostname is None  # a lab does not own the host's name
    conf = services.dnsmasq_conf(derived.lan_services, "/tmp/x").splitlines()
    assert "interface=lan0" in conf and "bind-interfaces" in conf
    assert "dhcp-range=192.168.1.100,192.168.1.150,255.255.255.0,3600" in conf
    assert "dhcp-host=02:00:00:00:01:01,192.168.1.101" in conf
    assert "host-record=server1.lab,198.51.100.10" in conf
    assert "host-record=edge,192.168.1.1" in conf and "host-record=edge.lan,192.168.1.1" in conf
    assert "server=192.0.2.53" in conf and "min-port=60000" in conf and "no-resolv" in conf
    assert "dhcp-option=option:dns-server,192.168.1.1" in conf


def test_any_prefix_length_reaches_the_interfaces_and_the_dhcp_netmask():
    wide = config(
        nat={"wan_addresses": ["198.51.100.7"], "lan_address": "10.0.0.1", "lan_prefix": 16},
        wan={"mode": "static", "prefix": 28, "gateway": "198.51.100.1", "dns_servers": []},
        dhcp={"first": "10.0.5.1", "last": "10.0.9.255"},
    )
    derived = plan(wide, LAB)
    assert (derived.addressing.lan, derived.addressing.wan) == ("10.0.0.1/16", "198.51.100.7/28")
    assert derived.lan_services.pool.netmask == "255.255.0.0"
    conf = services.dnsmasq_conf(derived.lan_services, "/tmp/x")
    assert "dhcp-range=10.0.5.1,10.0.9.255,255.255.0.0,86400" in conf


def test_a_disabled_dhcp_server_leaves_dnsmasq_serving_dns_only():
    derived = plan(config(dhcp={"enabled": False}), LAB)
    conf = services.dnsmasq_conf(derived.lan_services, "/tmp/x")
    assert derived.lan_services.pool is None and "dhcp-range" not in conf
    assert "host-record=natbox,192.168.1.1" in conf


def test_the_appliance_owns_its_hostname():
    assert plan(config(hostname="edge"), DeviceFacts(owns_hostname=True)).hostname == "edge"


@pytest.mark.parametrize(
    ("change", "restart"),
    [
        ({"hostname": "edge"}, []),
        ({"dhcp": {"first": "192.168.1.20", "last": "192.168.1.30"}}, []),
        ({"dns": {"hosts": [{"name": "nas.lan", "address": "192.168.1.5"}]}}, []),
        ({"nat": {"profile": "full-cone", "wan_addresses": ["203.0.113.2"]}}, []),
        (
            {"nat": {"wan_addresses": ["203.0.113.2"], "lan_address": "192.168.1.254"}},
            ["nat.lan_address"],
        ),
        (
            {"wan": {"mode": "dhcp", "gateway": None, "dns_servers": []}},
            ["wan.mode"],
        ),
    ],
)
def test_only_addressing_waits_for_a_restart(change, restart):
    assert restart_needed(config(), config(**change)) == restart


def test_the_daemon_refuses_a_bad_configuration_file_before_touching_interfaces(tmp_path, capsys):
    from router import cli

    path = tmp_path / "config.json"
    path.write_text('{"nat": {"profile": "nonsense"}}')
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--lan", "lan0", "--wan", "wan0", "--config", str(path)])
    assert cli.run(args) == 2
    assert "profile" in capsys.readouterr().err
