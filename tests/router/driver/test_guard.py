"""The guard in front of the datapath: when it limits, how hard, and when it lets go."""

import json
import subprocess
from collections import Counter

from router.driver import guard

A, B, C = b"\xc0\xa8\x01\x0a", b"\xc0\xa8\x01\x0b", b"\xcb\x00\x71\x01"


def test_one_source_alone_is_never_limited():
    assert guard.fair_limit(Counter({A: 50_000})) is None
    assert guard.fair_limit(Counter({A: 50_000, B: 0})) is None  # B is not competing


def test_a_flow_starved_by_a_flood_still_counts_as_competing():
    assert guard.fair_limit(Counter({A: 6_000, B: 1})) == int(0.8 * 6_001 - 1)


def test_a_flood_is_cut_to_what_the_others_leave_of_the_budget():
    limit = guard.fair_limit(Counter({A: 9_000, B: 1_000}))
    assert limit == 7_000  # 80 % of 10,000 is 8,000; B keeps its 1,000
    even = guard.fair_limit(Counter({A: 6_000, B: 6_000}))
    assert even == 4_800  # two floods share the budget evenly
    assert guard.fair_limit(Counter({A: 200, B: 200})) == guard.MIN_LIMIT  # never below


def test_the_ruleset_meters_each_source_on_both_links():
    text = guard.ruleset("t", "lan0", "wan0", 7000)
    assert text.count("limit rate over 7000/second") == 2
    assert 'hook ingress device "lan0" priority -550' in text  # after the flow table's -600


class FakeNft:
    def __init__(self):
        self.tables: dict[str, str] = {}
        self.shed = 0

    def __call__(self, *args, script=None):
        if args[:1] == ("-f",):
            self.tables["t"], self.shed = script, 0  # a new table's counters start at zero
            return subprocess.CompletedProcess(args, 0, "", "")
        if args[:1] == ("delete",):
            self.tables.pop("t", None)
            return subprocess.CompletedProcess(args, 0, "", "")
        if "t" not in self.tables:
            return subprocess.CompletedProcess(args, 1, "", "no such table")
        listing = {"nftables": [{"rule": {"expr": [{"counter": {"packets": self.shed}}]}}]}
        return subprocess.CompletedProcess(args, 0, json.dumps(listing), "")


def test_it_limits_while_the_ring_overflows_and_lets_go_when_the_flood_is_over():
    nft = FakeNft()
    g = guard.Guard("lan0", "wan0", nft=nft)
    assert g.second(0, 0, None) is False  # the first look only takes the totals
    assert g.second(10_000, 0, None) is False  # no drops: nothing to do, nothing to count
    assert g.second(20_000, 5_000, None) is True  # drops: count the sources next second
    assert g.limit is None
    g.second(30_000, 9_000, Counter({A: 9_000, B: 1_000}))
    assert g.limit == 7_000 and "7000/second" in nft.tables["t"]
    dropped = 9_000
    for _ in range(5):  # the flood goes on and the ring still drops: the limit stays
        nft.shed += 50_000
        dropped += 10
        assert g.second(30_000, dropped, Counter({A: 8_000, B: 1_000})) is True
    assert g.limit == 7_000 and g.shed == 250_000  # 6,200 would not be a fifth less
    for _ in range(guard.LOOSEN_S):  # shed, but the ring no longer drops: the limit rises
        g.second(30_000, dropped, Counter({A: 7_000, B: 1_000}))
    assert g.limit == 8_750 and g.shed == 250_000  # the replaced table's count is kept
    for _ in range(guard.QUIET_S):  # nobody near the limit, no drops: the limit goes
        g.second(30_000, dropped, Counter({A: 900, B: 1_000}))
    assert g.limit is None and "t" not in nft.tables


def test_the_limit_goes_when_only_one_source_is_left():
    nft = FakeNft()
    g = guard.Guard("lan0", "wan0", nft=nft)
    g.second(0, 0, None)
    g.second(10_000, 10, Counter({A: 9_000, B: 1_000}))
    assert g.limit == 7_000
    g.second(20_000, 20, Counter({A: 7_000}))  # B is done: nobody to protect
    assert g.limit is None and "t" not in nft.tables


def test_a_kernel_that_refuses_the_meters_is_not_asked_again():
    class Refusing(FakeNft):
        def __call__(self, *args, script=None):
            if args[:1] == ("-f",):
                self.calls = getattr(self, "calls", 0) + 1
                return subprocess.CompletedProcess(args, 1, "", "Error: no such file\nmore")
            return super().__call__(*args, script=script)

    nft = Refusing()
    g = guard.Guard("lan0", "wan0", nft=nft)
    g.second(0, 0, None)
    g.second(10_000, 10, Counter({A: 9_000, B: 1_000}))
    assert g.limit is None and g.unavailable == "Error: no such file"
    assert g.second(20_000, 20, Counter({A: 9_000, B: 1_000})) is False and nft.calls == 1
