"""In-process NAT engine benchmarks, pinned to one core.

Every figure is printed next to the baseline measured in the same run: a loop that only
copies each packet and parses its IPv4 and port fields, the least any datapath must do.
"""

from __future__ import annotations

import gc
import os
import struct
import time
import tracemalloc

from nat import Engine, NatConfig
from nat.direction import LAN, WAN
from nat.ipv4 import TCP, UDP
from nat.packets import segment

FLOWS = 1000
ROUNDS = 200  # packets per flow in the established-path runs
NEW_FLOWS = 50_000
MEMORY_MAPPINGS = 100_000
PAYLOAD = b"x" * 64


def _segment(proto: int, src: str, sport: int, dst: str, dport: int, flags: int = 0x18) -> bytes:
    return segment(proto, src, sport, dst, dport, flags, PAYLOAD)


def _client(i: int) -> str:
    return f"192.168.{1 + i // 250 % 4}.{2 + i % 250}"


def _config() -> NatConfig:
    # Two WAN addresses: one address has only 64,512 ports per protocol, fewer than
    # the 100,000 mappings the memory figure is taken at.
    return NatConfig(
        lan_address="192.168.1.1",
        lan_prefix=16,
        per_host_quota=65535,
        port_parity=False,
        wan_addresses=("203.0.113.1", "203.0.113.2"),
    )


def _pps(run, packets: list, rounds: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(rounds):
        run(packets)
    elapsed = time.perf_counter() - start
    return len(packets) * rounds / elapsed


def baseline_pps() -> float:
    packets = [_segment(UDP, _client(i), 10000 + i, "198.51.100.10", 53) for i in range(FLOWS)]
    unpack = struct.Struct("!BBHHHBBH4s4sHH").unpack_from

    def run(batch):
        for data in batch:
            buf = bytearray(data)
            unpack(buf, 0)

    return _pps(run, packets, ROUNDS)


def established_pps(proto: int) -> float:
    engine = Engine(_config(), helpers=[])
    now = 1000.0
    packets = []
    for i in range(FLOWS):
        client, sport = _client(i), 10000 + i
        if proto == TCP:
            (syn,) = engine.receive(
                LAN, _segment(TCP, client, sport, "198.51.100.10", 443, 0x02), now
            )
            public = ".".join(str(b) for b in syn.data[12:16])
            engine.receive(WAN, _segment(TCP, "198.51.100.10", 443, public, sport, 0x12), now)
            engine.receive(LAN, _segment(TCP, client, sport, "198.51.100.10", 443, 0x10), now)
        packets.append(_segment(proto, client, sport, "198.51.100.10", 443))
    receive = engine.receive

    def run(batch):
        for data in batch:
            receive(LAN, data, now)

    pps = _pps(run, packets, ROUNDS)
    assert engine.counters.total() == 0, engine.counters  # nothing dropped: measured the path
    return pps


def new_flows_per_s() -> float:
    engine = Engine(_config(), helpers=[])
    packets = [
        _segment(UDP, _client(i), 1024 + i // 1000, "198.51.100.10", 53) for i in range(NEW_FLOWS)
    ]
    receive = engine.receive
    gc.collect()
    start = time.perf_counter()
    for data in packets:
        receive(LAN, data, 1000.0)
    elapsed = time.perf_counter() - start
    assert engine.mapping_count == NEW_FLOWS, engine.mapping_count
    return NEW_FLOWS / elapsed


def bytes_per_mapping() -> float:
    packets = [
        _segment(UDP, _client(i), 1024 + i // 1000, "198.51.100.10", 53)
        for i in range(MEMORY_MAPPINGS)
    ]
    gc.collect()
    tracemalloc.start()
    engine = Engine(_config(), helpers=[])
    receive = engine.receive
    before = tracemalloc.get_traced_memory()[0]
    for data in packets:
        receive(LAN, data, 1000.0)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert engine.mapping_count == MEMORY_MAPPINGS, engine.mapping_count
    return (after - before) / MEMORY_MAPPINGS


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    print(f"BENCH engine.baseline_copy_pps {baseline_pps():.0f} packets/s", flush=True)
    print(f"BENCH engine.tcp_established_pps {established_pps(TCP):.0f} packets/s", flush=True)
    print(f"BENCH engine.udp_established_pps {established_pps(UDP):.0f} packets/s", flush=True)
    print(f"BENCH engine.new_flows_per_s {new_flows_per_s():.0f} flows/s", flush=True)
    print(f"BENCH engine.bytes_per_mapping {bytes_per_mapping():.0f} bytes", flush=True)


if __name__ == "__main__":
    main()
