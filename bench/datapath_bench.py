"""Datapath benchmark: iperf3 from a LAN client to a WAN server through the natbox datapath,
then through the same lab topology with Linux forwarding + nftables masquerade (same run).

Needs root (it builds a lab in network namespaces). Figures are noisy on a shared machine:
each is one iperf3 run; the ratios matter more than the absolute numbers.
"""

from __future__ import annotations

import json
import os
import time

from natbox.lab import names as N
from natbox.lab.lab import Lab, LabOptions

SECONDS = int(os.environ.get("NATBOX_BENCH_SECONDS", "5"))
SERVER = N.SERVERS[0]


def _iperf(lab: Lab, *args: str) -> dict:
    client = lab.names.client(1)
    command = ("iperf3", "-c", SERVER, "-t", str(SECONDS), "-J", *args)
    for attempt in range(3):  # the server takes a moment after the previous test
        result = lab.run(client, *command, check=False, timeout=SECONDS + 30)
        if result.returncode == 0:
            return json.loads(result.stdout)["end"]
        time.sleep(1 + attempt)
    raise RuntimeError(f"iperf3 failed: {result.stdout[-500:]} {result.stderr[-500:]}")


def measure(lab: Lab) -> dict[str, float]:
    tcp = _iperf(lab)["sum_received"]["bits_per_second"] / 1e6
    udp1400 = _iperf(lab, "-u", "-b", "0", "-l", "1400")["sum"]
    udp64 = _iperf(lab, "-u", "-b", "0", "-l", "64")["sum"]

    def received(summary: dict) -> float:
        return (summary["packets"] - summary["lost_packets"]) / summary["seconds"]

    return {
        "tcp_mbps": tcp,
        "udp1400_mbps": received(udp1400) * 1400 * 8 / 1e6,
        "udp64_pps": received(udp64),
    }


def _lab(offload: str, io: str = "ring", nat: dict | None = None) -> Lab:
    options = LabOptions(clients=1, offload=offload, io=io, nat=nat or {})
    lab = Lab(f"b{N.new_id()}", options).up()
    lab.spawn("iperf3", lab.names.internet, "iperf3", "-s", "-B", SERVER)
    time.sleep(0.5)
    return lab


def main() -> None:
    if os.geteuid() != 0:
        print("datapath bench: needs root (network namespaces); nothing measured")
        return
    lab = _lab("vnet")
    try:
        natbox = measure(lab)
        lab.stop_router()
        lab.use_kernel_nat()
        kernel = measure(lab)
    finally:
        lab.down()
    # "Before" figures: one recv() per frame instead of the PACKET_MMAP ring, and offloads
    # turned off everywhere (every frame an MTU-sized packet).
    lab = _lab("vnet", io="socket")
    try:
        socket_io = measure(lab)
    finally:
        lab.down()
    lab = _lab("off")
    try:
        plain_tcp = _iperf(lab)["sum_received"]["bits_per_second"] / 1e6
    finally:
        lab.down()
    # Flow offloading on (nat.offload, router.driver.flows): the kernel forwards established
    # flows the engine hands it.
    lab = _lab("vnet", nat={"flow_offload": True})
    try:
        flows = measure(lab)
    finally:
        lab.down()
    lines = [
        ("datapath.tcp_mbps", natbox["tcp_mbps"], "Mbit/s"),
        ("datapath.kernel_tcp_mbps", kernel["tcp_mbps"], "Mbit/s"),
        ("datapath.tcp_ratio", natbox["tcp_mbps"] / kernel["tcp_mbps"], "x"),
        ("datapath.udp1400_mbps", natbox["udp1400_mbps"], "Mbit/s"),
        ("datapath.kernel_udp1400_mbps", kernel["udp1400_mbps"], "Mbit/s"),
        ("datapath.udp1400_ratio", natbox["udp1400_mbps"] / kernel["udp1400_mbps"], "x"),
        ("datapath.udp64_pps", natbox["udp64_pps"], "packets/s"),
        ("datapath.kernel_udp64_pps", kernel["udp64_pps"], "packets/s"),
        ("datapath.tcp_mbps_socket_io", socket_io["tcp_mbps"], "Mbit/s"),
        ("datapath.udp64_pps_socket_io", socket_io["udp64_pps"], "packets/s"),
        ("datapath.tcp_mbps_offloads_off", plain_tcp, "Mbit/s"),
        ("datapath.flow_offload_tcp_mbps", flows["tcp_mbps"], "Mbit/s"),
        ("datapath.flow_offload_tcp_ratio", flows["tcp_mbps"] / kernel["tcp_mbps"], "x"),
        ("datapath.flow_offload_udp1400_mbps", flows["udp1400_mbps"], "Mbit/s"),
        (
            "datapath.flow_offload_udp1400_ratio",
            flows["udp1400_mbps"] / kernel["udp1400_mbps"],
            "x",
        ),
        ("datapath.flow_offload_udp64_pps", flows["udp64_pps"], "packets/s"),
    ]
    for metric, value, unit in lines:
        print(f"BENCH {metric} {value:.3f} {unit}", flush=True)


if __name__ == "__main__":
    main()
