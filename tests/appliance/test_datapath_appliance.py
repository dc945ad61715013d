"""The appliance's datapath under load: flow offloading moves established flows into the
guest kernel, and a flood from a LAN host and from the WAN leaves an established TCP flow,
the console and the web UI working (no receive livelock)."""

from __future__ import annotations

import sys
import time

import pytest

from natbox.lab import names as N

pytestmark = [pytest.mark.vm, pytest.mark.natbox(mode="vm")]  # on natbox.hil's vm router

S1, S2 = N.SERVERS
FLOOD_S = 120  # longer than the checks take: they are stopped when those are done


@pytest.fixture(scope="module")
def leased(appliance):
    result = appliance.lab.lease(1)
    assert result.returncode == 0, result.stderr
    appliance.lab.lease(2)
    return result.stderr


def bulk(device, size: int) -> dict:
    return device.lab.python(device.lab.names.client(1), "natbox.lab.probe", "tcp-bulk", S1,
                             "7", str(size), "--timeout", "100", timeout=120)  # fmt: skip


def datapath_frames(router) -> int:
    counters = router.counters()
    return counters["driver_lan_rx_frames"] + counters["driver_wan_rx_frames"]


def test_flow_offloading_takes_an_established_flow_out_of_the_datapath(router, device, leased):
    size = 16 << 20
    start = datapath_frames(router)
    assert bulk(device, size) == {"sent": size, "received": size, "intact": True}
    through_engine = datapath_frames(router) - start
    router.set_flow_offload(True)
    assert router.api.get("/nat")["flow_offload"] is True
    start, offloaded = datapath_frames(router), router.counters().get("driver_flows_offloaded", 0)
    assert bulk(device, size) == {"sent": size, "received": size, "intact": True}
    with_offload = datapath_frames(router) - start
    assert router.counters()["driver_flows_offloaded"] > offloaded
    # Only what came before the flow was in the kernel's table (and its FINs) reached Python.
    assert with_offload < through_engine / 4, (with_offload, through_engine)


def flood(lab, role: str, ns: str, *args: str):
    return lab.spawn(role, ns, sys.executable, "-m", "natbox.lab.probe", "flood", *args,
                     "--seconds", str(FLOOD_S))  # fmt: skip


def test_a_flood_from_both_sides_leaves_the_flows_the_console_and_the_ui_working(
    router, device, leased
):
    lab = device.lab
    c1, c2, inet = lab.names.client(1), lab.names.client(2), lab.names.internet
    before = router.counters()
    floods = [
        flood(lab, "flood-lan", c2, S2, "9", "--size", "18"),
        flood(lab, "flood-lan-new", c2, S2, "20000", "--size", "18", "--ports", "64"),
        flood(lab, "flood-wan", inet, N.ROUTER_WAN, "30000", "--size", "18", "--ports", "256"),
    ]
    try:
        time.sleep(5)  # the floods are on, and the guard has seen them
        started = time.monotonic()
        assert bulk(device, 2 << 20) == {"sent": 2 << 20, "received": 2 << 20, "intact": True}
        took = time.monotonic() - started
        assert '"forwarding": true' in device.console.check("routerctl status", 60)
        request = f"GET /login HTTP/1.0\r\nHost: {N.ROUTER_LAN}\r\n\r\n"
        page = lab.python(c1, "natbox.lab.probe", "tcp", N.ROUTER_LAN, "80", "--message",
                          request, "--timeout", "20", timeout=40)  # fmt: skip
        assert page.get("data", "").startswith("HTTP/1.") and " 200 " in page["data"][:20]
        assert all(process.poll() is None for process in floods), "a flood ended too soon"
    finally:
        for role in ("flood-lan", "flood-lan-new", "flood-wan"):
            lab.stop(role)
    after = router.counters()
    seen = {k: after[k] - before.get(k, 0) for k in after if k.startswith("driver_")}
    assert seen["driver_lan_rx_frames"] + seen["driver_lan_kernel_drops"] > 5000  # a real flood
    print(f"2 MB echoed in {took:.1f} s under the floods; shed by the rings: "
          f"{seen['driver_lan_kernel_drops']} + {seen['driver_wan_kernel_drops']}, by the "
          f"guard: {seen['driver_guard_shed']}")  # fmt: skip
