"""The appliance's datapath under load, on an appliance of its own (no link captures: a
flood would fill them with gigabytes nobody reads): flow offloading moves established flows
into the guest kernel, and a flood from a LAN host and from the WAN leaves an established
TCP flow, the console and the web UI working (no receive livelock)."""

from __future__ import annotations

import json
import sys
import time

import pytest

from natbox.lab import names as N

pytestmark = pytest.mark.vm

S1, S2 = N.SERVERS
FLOOD_S = 120  # longer than the checks take: they are stopped when those are done
# Packets/s per flood: several times what the datapath takes under TCG (a few thousand), and
# no more, or the flooding processes take the host's cores from QEMU itself.
FLOOD_PPS = "20000"


@pytest.fixture(scope="module")
def box(tmp_path_factory, appliance_class):
    appliance = appliance_class(tmp_path_factory.mktemp("datapath"), captures=False)
    try:
        for client in (1, 2):
            leased = appliance.lab.lease(client)
            assert leased.returncode == 0, leased.stderr
        yield appliance
    finally:
        appliance.close()


def bulk(box, size: int) -> dict:
    return box.lab.python(box.lab.names.client(1), "natbox.lab.probe", "tcp-bulk", S1, "7",
                          str(size), "--timeout", "100", timeout=120)  # fmt: skip


def driver(box) -> dict:
    return json.loads(box.console.check("routerctl counters", 60))["driver"]


def datapath_frames(box) -> int:
    counters = driver(box)
    return counters["lan_rx_frames"] + counters["wan_rx_frames"]


def test_flow_offloading_takes_an_established_flow_out_of_the_datapath(box):
    size = 32 << 20
    start = datapath_frames(box)
    assert bulk(box, size) == {"sent": size, "received": size, "intact": True}
    through_engine = datapath_frames(box) - start
    box.console.check("routerctl flow-offload on", 60)
    try:
        assert '"flow_offload": "on"' in box.console.check("routerctl status", 60)
        start, offloaded = datapath_frames(box), driver(box).get("flows_offloaded", 0)
        assert bulk(box, size) == {"sent": size, "received": size, "intact": True}
        with_offload = datapath_frames(box) - start
        assert driver(box)["flows_offloaded"] > offloaded
    finally:
        box.console.check("routerctl flow-offload off", 60)
    # Only what came before the flow was in the kernel's table (and its FINs) reached Python.
    assert with_offload < through_engine / 4, (with_offload, through_engine)


def flood(lab, role: str, ns: str, *args: str, rate: str = FLOOD_PPS):
    return lab.spawn(role, ns, sys.executable, "-m", "natbox.lab.probe", "flood", *args,
                     "--seconds", str(FLOOD_S), "--rate", rate)  # fmt: skip


def test_a_flood_from_both_sides_leaves_the_flows_the_console_and_the_ui_working(box):
    lab = box.lab
    c1, c2, inet = lab.names.client(1), lab.names.client(2), lab.names.internet
    before = driver(box)
    floods = [
        # one LAN host: small datagrams through one mapping, and new flows on 64 ports
        flood(lab, "flood-lan", c2, S2, "9", "--size", "18"),
        flood(lab, "flood-lan-new", c2, S2, "20000", "--size", "18", "--ports", "64", rate="5000"),
        # the WAN: unsolicited datagrams to the router's address, on 256 ports
        flood(lab, "flood-wan", inet, N.ROUTER_WAN, "30000", "--size", "18", "--ports", "256"),
    ]
    try:
        time.sleep(5)  # the floods are on, and the guard has seen them
        started = time.monotonic()
        assert bulk(box, 2 << 20) == {"sent": 2 << 20, "received": 2 << 20, "intact": True}
        took = time.monotonic() - started
        assert '"forwarding": true' in box.console.check("routerctl status", 60)
        request = f"GET /login HTTP/1.0\r\nHost: {N.ROUTER_LAN}\r\n\r\n"
        page = lab.python(c1, "natbox.lab.probe", "tcp", N.ROUTER_LAN, "80", "--message",
                          request, "--timeout", "20", timeout=40)  # fmt: skip
        assert page.get("data", "").startswith("HTTP/1.") and " 200 " in page["data"][:20]
        assert all(process.poll() is None for process in floods), "a flood ended too soon"
    finally:
        for role in ("flood-lan", "flood-lan-new", "flood-wan"):
            lab.stop(role)
    after = driver(box)
    seen = {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}
    # The floods were real: thousands of frames reached the datapath or were shed on the way.
    assert seen["lan_rx_frames"] + seen["lan_kernel_drops"] + seen["guard_shed"] > 5000
    limit = after.get("guard_limit_pps", 0)
    print(f"2 MB echoed in {took:.1f} s under the floods; shed by the rings: "
          f"{seen['lan_kernel_drops']} + {seen['wan_kernel_drops']}, by the guard: "
          f"{seen['guard_shed']} (limit {limit} packets/s)")  # fmt: skip
