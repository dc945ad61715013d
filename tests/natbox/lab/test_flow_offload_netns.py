"""Flow offloading in the netns router: established flows are forwarded by the kernel's
flow table, intact, while the engine keeps deciding (and the datapath sees almost nothing).

The module switches offloading on in the shared lab and off again when it is done."""

from __future__ import annotations

import pytest

from natbox.lab import names as N
from router import edits

pytestmark = pytest.mark.netns

S1 = N.SERVERS[0]


def set_offload(lab, on: bool) -> dict:
    answer = lab.edit(lambda config: edits.set_nat(config, config.nat.profile, flow_offload=on))
    assert answer["ok"], answer
    return lab.ctl("status")


@pytest.fixture(scope="module")
def offloading(lab):
    assert set_offload(lab, True)["flow_offload"] == "on"
    yield lab
    assert set_offload(lab, False)["flow_offload"] == "off"


def driver(lab) -> dict:
    return lab.ctl("counters")["driver"]


def probe(lab, *args, timeout=60):
    return lab.python(lab.names.client(1), "natbox.lab.probe", *args, timeout=timeout)


def test_bulk_tcp_both_ways_crosses_intact_through_the_kernel(offloading):
    lab = offloading
    before = driver(lab)
    result = probe(lab, "tcp-bulk", S1, "7", str(64 << 20), "--timeout", "50")
    assert result == {"sent": 64 << 20, "received": 64 << 20, "intact": True}
    after = driver(lab)
    assert after["flows_offloaded"] - before.get("flows_offloaded", 0) >= 1
    # 64 MB each way is >1,000 super-frames per side through the datapath without offloading
    # (and ~46,000 MTU-sized ones); with it the datapath sees the handshake, what came before
    # the flow was in the kernel, and the FINs.
    frames = sum(after[f"{s}_rx_frames"] - before[f"{s}_rx_frames"] for s in ("lan", "wan"))
    assert frames < 400, frames


def test_udp_answers_keep_coming_and_the_session_is_the_engines(offloading):
    lab = offloading
    before = driver(lab)
    exchanges = [f"{S1}:3478:whoami"] * 60
    results = probe(lab, "udp", "--bind-port", "41000", *exchanges)
    seen = {r["answers"][0]["data"] for r in results if r["answers"]}
    assert len(seen) == 1 and next(iter(seen)).startswith(N.ROUTER_WAN + ":")  # one mapping
    assert sum(1 for r in results if r["answers"]) == 60
    after = driver(lab)
    frames = after["lan_rx_frames"] - before["lan_rx_frames"]
    assert frames < 20, frames  # most datagrams never reached the datapath
    (row,) = [m for m in lab.ctl("mappings")["mappings"] if m["internal"].endswith(":41000")]
    assert row["proto"] == "udp" and row["sessions"][0]["remote"] == f"{S1}:3478"


def test_unsolicited_traffic_is_still_the_engines_to_drop(offloading):
    lab = offloading
    before = lab.ctl("counters")["engine"].get("no_mapping", 0)
    probe_wan = lab.python(
        lab.names.internet,
        "natbox.lab.probe",
        "udp",
        f"{N.ROUTER_WAN}:47000:hi",
        "--timeout",
        "0.5",
    )
    assert probe_wan[0]["answers"] == []
    assert lab.ctl("counters")["engine"].get("no_mapping", 0) > before
