"""Validation by meaning: values of the right type that would still break the router are
refused, naming the field; risky but legal ones come back as warnings."""

import json
import math

import pytest

from nat.config import ConfigError
from router import edits
from router.model import RouterConfig
from router.store import ConfigStore, dump_json, parse_json
from webui.passwords import hash_password

GOOD_HASH = hash_password("long-enough-1", method="pbkdf2:sha256:1000")


def refused(data: dict) -> str:
    with pytest.raises(ConfigError) as error:
        RouterConfig.from_dict(data)
    return error.value.field


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, 1e400, 10**12])
def test_timeouts_must_be_finite_and_bounded(seconds):
    assert refused({"nat": {"timeouts": {"udp": seconds}}}) == "nat.timeouts.udp"


def test_json_is_read_and_written_strictly(tmp_path):
    for text in ('{"nat": {"timeouts": {"udp": NaN}}}', '{"nat": {"timeouts": {"udp": Infinity}}}'):
        with pytest.raises(ConfigError, match="not JSON"):
            parse_json(text)
    # Valid JSON syntax that Python reads as Infinity, which cannot be written back (found by
    # the config fuzz target: a port range of [1024, 6E5535]).
    for text in ('{"nat": {"port_range": [1024, 6E5535]}}', "-1e400", '{"udp": 1.5e309}'):
        with pytest.raises(ConfigError, match="out of range"):
            parse_json(text)
    assert parse_json('{"udp": 1.5e308}') == {"udp": 1.5e308}  # large, but a float
    path = tmp_path / "config.json"
    path.write_text('{"nat": {"timeouts": {"udp": NaN}}}')
    with pytest.raises(ConfigError):
        ConfigStore(path).load()
    with pytest.raises(ValueError):
        dump_json({"udp": math.nan})
    with pytest.raises(ConfigError):
        parse_json("[" * 100_000 + "]" * 100_000)  # too deep: refused, not a crash


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"nat": {"lan_address": "127.0.0.1", "lan_prefix": 8}}, "nat.lan_address"),
        ({"nat": {"lan_address": "192.168.1.0"}}, "nat.lan_address"),
        ({"nat": {"lan_address": "192.168.1.255"}}, "nat.lan_address"),
        ({"nat": {"wan_addresses": ["0.0.0.0"]}}, "nat.wan_addresses[0]"),
        ({"nat": {"wan_addresses": ["255.255.255.255"]}}, "nat.wan_addresses[0]"),
        ({"nat": {"wan_addresses": ["224.0.0.1"]}}, "nat.wan_addresses[0]"),
        ({"wan": {"gateway": "203.0.113.1"}}, "wan.gateway"),  # the router's own WAN address
        ({"wan": {"dns_servers": ["127.0.0.53"]}}, "wan.dns_servers[0]"),
        # A static WAN whose prefix covers the LAN.
        ({"nat": {"wan_addresses": ["192.168.200.2"]},
          "wan": {"prefix": 16, "gateway": "192.168.200.1"}}, "wan.prefix"),
        ({"dhcp": {"first": "192.168.1.200", "last": "192.168.1.255"}}, "dhcp.last"),
        ({"nat": {"dmz_host": "192.168.1.1"}}, "nat.dmz_host"),
        ({"nat": {"dmz_host": "192.168.1.255"}}, "nat.dmz_host"),
        # WAN tcp/80 to the router's own UI address would open the UI to the WAN.
        ({"nat": {"port_forwards": [{"proto": "tcp", "ext_port": 80, "host": "192.168.1.1"}]}},
         "nat.port_forwards[0].host"),
        ({"nat": {"port_forwards": [
            {"proto": "tcp", "ext_port": 80, "host": "192.168.1.9", "name": "web\ud800"}]}},
         "nat.port_forwards[0].name"),
        ({"nat": {"port_forwards": [
            {"proto": "tcp", "ext_port": 80, "host": "192.168.1.9", "name": "a\x00b"}]}},
         "nat.port_forwards[0].name"),
        ({"nat": {"port_forwards": [
            {"proto": "tcp", "ext_port": 80, "host": "192.168.1.9", "name": "x" * 65}]}},
         "nat.port_forwards[0].name"),
        ({"hostname": "edge\u00e9"}, "hostname"),
        ({"nat": {"sstp_servers": None}}, "nat.sstp_servers"),
    ],
)  # fmt: skip
def test_addresses_and_text_that_would_break_the_router_are_refused(data, field):
    assert refused(data) == field


@pytest.mark.parametrize(
    "password_hash",
    [
        "pbkdf2:sha256:1000000000$abcdefgh$" + "0" * 64,  # a billion iterations: login DoS
        "scrypt:1048576:8:1$abcdefgh$" + "0" * 128,  # N = 2^20
        "scrypt:garbage",  # nothing could check it: everyone locked out
        "scrypt:32768:8:1$abcdefgh$short",
    ],
)
def test_password_hashes_are_parsed_strictly_with_bounded_cost(password_hash):
    assert refused({"admin": {"password_hash": password_hash}}) == "admin.password_hash"


def test_the_hashes_the_router_writes_are_accepted():
    for method in ("scrypt:32768:8:1", "pbkdf2:sha256:600000", "pbkdf2:sha256:1000"):
        stored = hash_password("long-enough-1", method=method)
        assert RouterConfig.from_dict({"admin": {"password_hash": stored}}).admin.password_hash


@pytest.mark.parametrize("admin", [None, {}, {"password_hash": ""}, {"username": "admin"}])
def test_a_backup_without_the_admin_password_is_not_restored(admin):
    backup = RouterConfig().to_dict()
    if admin is None:
        del backup["admin"]
    else:
        backup["admin"] = admin
    current = RouterConfig.from_dict({"admin": {"password_hash": GOOD_HASH}})
    with pytest.raises(ConfigError) as error:
        edits.restored(current, backup)
    assert error.value.field == "admin"
    backup["admin"] = {"password_hash": GOOD_HASH, "must_change_password": False}
    assert edits.restored(current, backup).admin.password_hash == GOOD_HASH


def test_risky_but_legal_settings_come_back_as_warnings():
    every_port = {"proto": "tcp", "ext_port": 1, "ext_port_end": 65535, "host": "192.168.1.9"}
    config = RouterConfig.from_dict({"nat": {"port_forwards": [every_port]}})
    warnings = dict(config.warnings())
    assert "65535 tcp ports" in warnings["nat.port_forwards[0]"]
    assert RouterConfig().warnings() == []
    json.dumps(config.to_dict(), allow_nan=False)  # what is accepted can be written back
