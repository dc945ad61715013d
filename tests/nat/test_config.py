"""Configuration from plain data: refused field by field, round-trips losslessly."""

import pytest

from nat import ConfigError, NatConfig, PortForward
from nat.config import Behaviour, PortAllocation


def refused(data):
    with pytest.raises(ConfigError) as error:
        NatConfig.from_dict(data)
    return error.value.field, error.value.message


def test_defaults_meet_the_rfc_minimums():
    t = NatConfig().timeouts
    assert t.tcp_established >= 7440 and t.tcp_transitory >= 240 and t.tcp_rst >= 240
    assert t.udp == 300 and t.icmp >= 60 and t.port_reuse_delay == 120


def test_round_trip_through_plain_data():
    config = NatConfig(
        profile="full-cone",
        mapping=Behaviour.ENDPOINT_INDEPENDENT,
        filtering=Behaviour.ENDPOINT_INDEPENDENT,
        port_forwards=(PortForward("udp", 5060, "192.168.1.5", 5060, ext_port_end=5062),),
        dmz_host="192.168.1.99",
        helpers=(("sip", True),),
        wan_addresses=("203.0.113.1", "203.0.113.2"),
    )
    assert NatConfig.from_dict(config.to_dict()) == config


def test_profile_then_overrides():
    config = NatConfig.from_dict({"profile": "symmetric", "port_allocation": "random"})
    assert config.mapping is Behaviour.ADDRESS_AND_PORT_DEPENDENT
    assert config.port_allocation is PortAllocation.RANDOM


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"lan_address": "192.168.1.300"}, "lan_address"),
        ({"mapping": "sideways"}, "mapping"),
        ({"port_parity": "yes"}, "port_parity"),
        ({"port_range": [2000, 1000]}, "port_range"),
        ({"wan_addresses": []}, "wan_addresses"),
        ({"wan_addresses": ["192.168.1.7"]}, "wan_addresses"),
        ({"timeouts": {"udp": 30}}, "timeouts.udp"),
        ({"timeouts": {"tcp_established": 3600}}, "timeouts.tcp_established"),
        ({"timeouts": {"nap": 3}}, "timeouts.nap"),
        (
            {"port_forwards": [{"proto": "sctp", "ext_port": 1, "host": "192.168.1.2"}]},
            "port_forwards[0].proto",
        ),
        (
            {"port_forwards": [{"proto": "tcp", "ext_port": 80, "host": "10.0.0.1"}]},
            "port_forwards[0].host",
        ),
        (
            {
                "port_forwards": [
                    {"proto": "tcp", "ext_port": 80, "host": "192.168.1.2"},
                    {"proto": "tcp", "ext_port": 79, "ext_port_end": 81, "host": "192.168.1.3"},
                ]
            },
            "port_forwards[1].ext_port",
        ),
        ({"port_forwards": [{"proto": "tcp", "ext_port": 80}]}, "port_forwards[0].host"),
        ({"dmz_host": "8.8.8.8"}, "dmz_host"),
        ({"helpers": {"pptp": "on"}}, "helpers.pptp"),
        ({"lan_mtu": 100}, "lan_mtu"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_settings_are_refused_with_the_field_named(data, field):
    got_field, message = refused(data)
    assert got_field == field
    assert message


def test_linux_masquerade_may_use_linux_timeouts():
    config = NatConfig.from_dict({"profile": "linux-masquerade", "timeouts": {"udp": 30}})
    assert config.timeouts.udp == 30


def test_engine_keeps_its_config_when_new_input_is_refused():
    from nat import Engine

    engine = Engine(NatConfig(), helpers=[])
    before = engine.config
    with pytest.raises(ConfigError):
        engine.configure(NatConfig.from_dict({"mapping": "nonsense"}), 1.0)
    assert engine.config is before


def test_helper_ports_round_trip_sorted_and_refused_with_the_field_named():
    config = NatConfig.from_dict({"helper_ports": {"8554": "rtsp", "554": "rtsp"}})
    assert config.helper_ports == ((554, "rtsp"), (8554, "rtsp"))
    assert config.to_dict()["helper_ports"] == {"554": "rtsp", "8554": "rtsp"}
    refusals = (({"0": "rtsp"}, "helper_ports.0"), ({"08554": "rtsp"}, "helper_ports.08554"),
                ({"70000": "rtsp"}, "helper_ports.70000"), ({"554": "RTSP!"}, "helper_ports.554"),
                ([554], "helper_ports"))  # fmt: skip
    for bad, field in refusals:
        with pytest.raises(ConfigError) as refused:
            NatConfig.from_dict({"helper_ports": bad})
        assert refused.value.field == field
