"""The booted appliance's datapath, against its anchor in the same run: the same firmware,
QEMU and lab, first with natbox's datapath, then with the guest kernel doing the NAT
(conntrack and nftables masquerade, `router.kernelnat`: a benchmark-only switch, never the
default). iperf3 from a LAN client to the lab's server, through the VM:

- appliance.tcp_mbps: one TCP stream, LAN to WAN;
- appliance.udp1400_mbps / appliance.udp64_pps: the highest offered rate received with at most
  0.1 % loss (a search over offered rates, 1400- and 64-byte datagrams);
- appliance.overload_goodput_ratio: the goodput with 1400-byte datagrams at line rate offered
  (iperf3 -b 0, the median of three floods), over the best goodput seen at any rate: 1.0
  levels off, near 0 collapses;
- each with its kernel_ twin and the ratio natbox / kernel;
- the same again with flow offloading on (appliance.flow_offload_*: the engine hands
  established flows to the guest kernel's netdev flow table, router.driver.flows).

And the same overload figure for the netns router (datapath.overload_goodput_ratio).
One VM at a time; TCG here, so the absolute figures are this machine's.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from natbox.lab import names as N

SECONDS = float(os.environ.get("NATBOX_BENCH_SECONDS", "3"))
SERVER = N.SERVERS[0]
MAX_LOSS = 0.001
SEARCH_STEPS = 6


class Trial:
    """One iperf3 run's receiver figures."""

    def __init__(self, summary: dict, payload: int):
        self.packets = summary.get("packets", 0)
        self.lost = summary.get("lost_packets", 0)
        self.seconds = summary.get("seconds", 0) or SECONDS
        self.payload = payload
        self.offered_mbps = summary.get("bits_per_second", 0) / 1e6  # what the client sent

    @property
    def loss(self) -> float:
        return self.lost / self.packets if self.packets else 1.0

    @property
    def received_pps(self) -> float:
        return (self.packets - self.lost) / self.seconds

    @property
    def goodput_mbps(self) -> float:
        return self.received_pps * self.payload * 8 / 1e6


Iperf = Callable[..., dict]  # (*iperf3 arguments) -> the JSON's "end"


def udp(iperf: Iperf, payload: int, bits_per_s: float | None) -> Trial:
    rate = "0" if bits_per_s is None else f"{bits_per_s:.0f}"
    end = iperf("-u", "-l", str(payload), "-b", rate)
    return Trial(end["sum"], payload)


def lossless(iperf: Iperf, payload: int, low_bps: float, high_bps: float) -> tuple[Trial, list]:
    """The best trial with at most 0.1 % loss: bisection on a log scale between ``low`` and
    ``high`` offered bits/s. Returns it (or the lowest tried) and every trial."""
    trials, best = [], None
    for _ in range(SEARCH_STEPS):
        rate = (low_bps * high_bps) ** 0.5
        trial = udp(iperf, payload, rate)
        trials.append(trial)
        if trial.loss <= MAX_LOSS:
            best = trial if best is None or trial.received_pps > best.received_pps else best
            low_bps = rate
        else:
            high_bps = rate
    return best or min(trials, key=lambda t: t.loss), trials


FLOODS = 3  # under TCG one flood's goodput swings by a factor of two: the median of three


def overload(iperf: Iperf, trials: list[Trial]) -> tuple[float, Trial, Trial]:
    """Goodput at line rate offered (the median flood) over the best goodput of any trial;
    the flood; the best."""
    floods = sorted((udp(iperf, 1400, None) for _ in range(FLOODS)), key=lambda t: t.goodput_mbps)
    flood = floods[len(floods) // 2]
    best = max([*floods, *trials], key=lambda t: t.goodput_mbps)
    return (flood.goodput_mbps / best.goodput_mbps if best.goodput_mbps else 0.0), flood, best


def measure(iperf: Iperf) -> dict[str, float]:
    tcp = iperf()["sum_received"]["bits_per_second"] / 1e6
    big, big_trials = lossless(iperf, 1400, 2e6, 2e9)
    small, _ = lossless(iperf, 64, 2e5, 2e8)
    ratio, flood, best = overload(iperf, big_trials)
    return {
        "tcp_mbps": tcp,
        "udp1400_mbps": big.goodput_mbps,
        "udp64_pps": small.received_pps,
        "overload_goodput_ratio": ratio,
        "flood_mbps": flood.goodput_mbps,
        "flood_offered_mbps": flood.offered_mbps,
        "best_mbps": best.goodput_mbps,
    }


def lab_iperf(lab, client: str) -> Iperf:
    def iperf(*args: str) -> dict:
        command = ("iperf3", "-c", SERVER, "-t", str(SECONDS), "-J", *args)
        for attempt in range(3):  # the server takes a moment after the previous test
            result = lab.run(client, *command, check=False, timeout=SECONDS + 60)
            answer = json.loads(result.stdout) if result.stdout.strip() else {}
            if result.returncode == 0 and "error" not in answer:
                return answer["end"]
            time.sleep(1 + attempt)
        raise RuntimeError(f"iperf3 failed: {answer.get('error')} {result.stderr[-500:]}")

    return iperf


def appliance() -> tuple[dict, dict, dict]:
    from natbox.appliance.driver import Appliance

    with tempfile.TemporaryDirectory() as tmp:
        box = Appliance(Path(tmp) / "appliance", clients=2)
        try:
            lab = box.lab
            lab.lease(1).check_returncode()  # the client's address and route from the device
            lab.spawn("iperf3", lab.names.internet, "iperf3", "-s", "-B", SERVER)
            time.sleep(0.5)
            iperf = lab_iperf(lab, lab.names.client(1))
            natbox = measure(iperf)
            box.console.check("routerctl flow-offload on", 60)
            flows = measure(iperf)
            box.console.check("python3 -m router.kernelnat", 60)
            kernel = measure(iperf)
        finally:
            box.close()
    return natbox, flows, kernel


def netns_overload(nat: dict | None = None) -> float:
    from natbox.lab.lab import Lab, LabOptions

    lab = Lab(f"b{N.new_id()}", LabOptions(clients=1, nat=nat or {})).up()
    try:
        lab.spawn("iperf3", lab.names.internet, "iperf3", "-s", "-B", SERVER)
        time.sleep(0.5)
        iperf = lab_iperf(lab, lab.names.client(1))
        _, trials = lossless(iperf, 1400, 2e6, 2e10)
        return overload(iperf, trials)[0]
    finally:
        lab.down()


def main() -> None:
    if os.geteuid() != 0:
        print("appliance bench: needs root (QEMU's lab, network namespaces); nothing measured")
        return
    natbox, flows, kernel = appliance()
    units = {"tcp_mbps": "Mbit/s", "udp1400_mbps": "Mbit/s", "udp64_pps": "packets/s"}
    for metric, unit in units.items():
        print(f"BENCH appliance.{metric} {natbox[metric]:.1f} {unit}", flush=True)
        print(f"BENCH appliance.flow_offload_{metric} {flows[metric]:.1f} {unit}", flush=True)
        print(f"BENCH appliance.kernel_{metric} {kernel[metric]:.1f} {unit}", flush=True)
        for name, figures in (("", natbox), ("flow_offload_", flows)):
            ratio = figures[metric] / kernel[metric] if kernel[metric] else 0.0
            base = metric.rsplit("_", 1)[0]
            print(f"BENCH appliance.{name}{base}_ratio {ratio:.3f} x", flush=True)
    for name, figures in (("", natbox), ("flow_offload_", flows), ("kernel_", kernel)):
        print(f"BENCH appliance.{name}overload_goodput_ratio "
              f"{figures['overload_goodput_ratio']:.3f} x ({figures['flood_mbps']:.1f} Mbit/s "
              f"received of {figures['flood_offered_mbps']:.0f} offered at -b 0, best "
              f"{figures['best_mbps']:.1f})",
              flush=True)  # fmt: skip
    print(f"BENCH datapath.overload_goodput_ratio {netns_overload():.3f} x", flush=True)
    offloaded = netns_overload({"flow_offload": True})
    print(f"BENCH datapath.flow_offload_overload_goodput_ratio {offloaded:.3f} x", flush=True)


if __name__ == "__main__":
    main()
