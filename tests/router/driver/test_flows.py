"""The kernel's flow table for offloaded flows: the rules it writes, how it batches changes,
what it does when the kernel refuses one, and the counts it reads back."""

from nat.actions import Flow
from nat.ipv4 import addr
from router.driver import flows

HOST_MAC, HOP_MAC = bytes.fromhex("020000000010"), bytes.fromhex("020000000001")
LAN_MAC, WAN_MAC = bytes.fromhex("0200000000aa"), bytes.fromhex("0200000000bb")


def endpoint(ip: str, port: int) -> bytes:
    return addr(ip) + port.to_bytes(2, "big")


FLOW = Flow(
    7,
    17,
    endpoint("192.168.1.10", 5000),
    endpoint("203.0.113.2", 40001),
    endpoint("198.51.100.1", 53),
)


class FakeNft:
    def __init__(self, refuse: str | None = None):
        self.scripts: list[str] = []
        self.refuse = refuse

    def __call__(self, script: str) -> bool:
        self.scripts.append(script)
        return self.refuse is None or self.refuse not in script


def table(nft) -> flows.FlowTable:
    return flows.FlowTable("lan0", "wan0", LAN_MAC, WAN_MAC, nft=nft)


def test_the_base_table_hooks_both_ingresses_and_leaves_what_the_engine_must_see():
    text = flows.base_ruleset("t", "lan0", "wan0", LAN_MAC, WAN_MAC)
    assert 'hook ingress device "lan0" priority -600' in text
    assert 'hook ingress device "wan0" priority -600' in text
    for passes in ("ip ttl < 2 accept", "ip frag-off & 0x3fff != 0 accept", "(fin | syn | rst)"):
        assert text.count(passes) == 2
    assert "chain ttl_64 { ip ttl set 63; }" in text and "chain ttl_1 " not in text
    assert 'ether saddr set 02:00:00:00:00:bb fwd to "wan0"' in text


def test_a_flow_is_two_rewriting_chains_and_two_map_entries():
    commands = flows.add_commands("t", FLOW, HOST_MAC, HOP_MAC)
    out, inn, lan_entry, wan_entry = commands
    assert "ip saddr set 203.0.113.2 udp sport set 40001" in out and "goto to_wan" in out
    assert "ether daddr set 02:00:00:00:00:01" in out
    assert "ip daddr set 192.168.1.10 udp dport set 5000" in inn and "goto to_lan" in inn
    assert "udp . 192.168.1.10 . 5000 . 198.51.100.1 . 53 : jump f7_out" in lan_entry
    assert "udp . 198.51.100.1 . 53 . 203.0.113.2 . 40001 : jump f7_in" in wan_entry


def test_changes_wait_for_commit_and_go_in_one_batch():
    nft = FakeNft()
    kernel = table(nft)
    second = FLOW._replace(ident=8, internal=endpoint("192.168.1.11", 5000))
    kernel.add(FLOW, HOST_MAC, HOP_MAC)
    kernel.add(second, HOST_MAC, HOP_MAC)
    assert len(nft.scripts) == 1  # only the base table so far
    kernel.commit()
    assert len(nft.scripts) == 2 and "f7_out" in nft.scripts[1] and "f8_out" in nft.scripts[1]
    assert set(kernel.installed) == {7, 8}
    kernel.remove(7)
    kernel.commit()
    assert "delete chain netdev natbox_flows_lan0_wan0 f7_out" in nft.scripts[2]
    assert set(kernel.installed) == {8}
    kernel.commit()
    assert len(nft.scripts) == 3  # nothing changed: no nft run


def test_a_flow_added_and_withdrawn_in_one_tick_never_reaches_the_kernel():
    nft = FakeNft()
    kernel = table(nft)
    kernel.add(FLOW, HOST_MAC, HOP_MAC)
    kernel.remove(FLOW.ident)
    kernel.commit()
    assert len(nft.scripts) == 1 and len(kernel) == 0


def test_a_refused_flow_stays_out_and_the_others_go_in_alone():
    nft = FakeNft(refuse="192.168.1.66")
    kernel = table(nft)
    bad = FLOW._replace(ident=9, internal=endpoint("192.168.1.66", 5000))
    kernel.add(FLOW, HOST_MAC, HOP_MAC)
    kernel.add(bad, HOST_MAC, HOP_MAC)
    kernel.commit()
    assert set(kernel.installed) == {7} and kernel.errors == 1


def test_counts_are_read_per_flow_and_direction_from_the_json_listing():
    listing = {
        "nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"rule": {"chain": "f7_out", "expr": [{"counter": {"packets": 12, "bytes": 900}}]}},
            {"rule": {"chain": "f7_in", "expr": [{"counter": {"packets": 30, "bytes": 40000}}]}},
            {"rule": {"chain": "to_wan", "expr": [{"counter": {"packets": 99, "bytes": 1}}]}},
        ]
    }
    assert flows.counts_from_listing(listing) == {7: (12, 30)}
