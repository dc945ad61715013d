"""No receive livelock: flooded from a LAN host and from the WAN at once, the router keeps an
established TCP flow going, byte for byte, and its control socket and web UI answer; the
load it could not take is shed (and counted) before it costs the engine anything."""

from __future__ import annotations

import sys
import time

import pytest

from natbox.lab import names as N

pytestmark = pytest.mark.netns

S1, S2 = N.SERVERS
FLOOD_S = 60  # longer than the checks take: they are stopped when those are done


def flood(lab, role: str, ns: str, *args: str):
    return lab.spawn(role, ns, sys.executable, "-m", "natbox.lab.probe", "flood", *args,
                     "--seconds", str(FLOOD_S))  # fmt: skip


def answers_within(lab, seconds: float, ask) -> float:
    started = time.monotonic()
    ask()
    took = time.monotonic() - started
    assert took < seconds, f"took {took:.1f} s"
    return took


def test_a_flood_from_both_sides_leaves_flows_the_control_socket_and_the_ui_working(lab):
    c1, c2, inet = lab.names.client(1), lab.names.client(2), lab.names.internet
    before = lab.ctl("counters")
    floods = [
        # one LAN host: small datagrams through one mapping, and new flows on 64 ports
        flood(lab, "flood-lan", c2, S2, "9", "--size", "18"),
        flood(lab, "flood-lan-new", c2, S2, "20000", "--size", "18", "--ports", "64"),
        # the WAN: unsolicited datagrams to the router's address, on 256 ports
        flood(lab, "flood-wan", inet, N.ROUTER_WAN, "30000", "--size", "18", "--ports", "256"),
    ]
    try:
        time.sleep(3)  # the floods are on, and the guard has seen them (a second or two)
        started = time.monotonic()
        bulk = lab.python(c1, "natbox.lab.probe", "tcp-bulk", S1, "7", str(4 << 20),
                          "--timeout", "40", timeout=50)  # fmt: skip
        took = time.monotonic() - started
        assert bulk == {"sent": 4 << 20, "received": 4 << 20, "intact": True}
        answers_within(lab, 5, lambda: lab.ctl("status"))
        request = f"GET /login HTTP/1.0\r\nHost: {N.ROUTER_LAN}\r\n\r\n"
        page = lab.python(c1, "natbox.lab.probe", "tcp", N.ROUTER_LAN, "80", "--message",
                          request, "--timeout", "10", timeout=30)  # fmt: skip
        assert page["data"].startswith("HTTP/1.") and " 200 " in page["data"].split("\r\n")[0]
        still = [process.poll() is None for process in floods]
        assert all(still), "a flood ended before the checks were done"
    finally:
        for role in ("flood-lan", "flood-lan-new", "flood-wan"):
            lab.stop(role)
    after = lab.ctl("counters")
    driver = {k: after["driver"][k] - before["driver"].get(k, 0) for k in after["driver"]}
    engine = {k: v - before["engine"].get(k, 0) for k, v in after["engine"].items()}
    # The floods were real: the datapath took tens of thousands of their frames, the engine
    # dropped the unsolicited ones, and whatever it could not take was shed by the kernel.
    assert driver["wan_rx_frames"] > 20000 and driver["lan_rx_frames"] > 20000
    assert engine.get("no_mapping", 0) + engine.get("filtered", 0) > 10000
    limit = after["driver"]["guard_limit_pps"]
    print(f"4 MB echoed in {took:.1f} s; shed by the kernel's rings: LAN "
          f"{driver['lan_kernel_drops']}, WAN {driver['wan_kernel_drops']}; by the guard: "
          f"{driver['guard_shed']} (limit {limit} packets/s)")  # fmt: skip
