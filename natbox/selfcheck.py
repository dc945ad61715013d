"""`natbox selfcheck`: drive the NAT engine through a short scripted lab and report.

It is what `make run` does until the appliance boots under QEMU: a quick, visible proof
that the engine translates, filters, forwards and expires as configured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from nat import Engine, NatConfig, PortForward, Transmit
from nat.direction import LAN, WAN
from nat.engine import verify_engine_invariants
from nat.ipv4 import TCP, UDP, text
from nat.packets import ACK, SYN, echo, segment

CLIENT, CLIENT2, PUBLIC, SERVER = "192.168.1.10", "192.168.1.20", "203.0.113.1", "198.51.100.10"


def _sent(actions: list, side: str) -> list[bytes]:
    return [bytes(a.data) for a in actions if isinstance(a, Transmit) and a.side == side]


def _endpoint(packet: bytes, source: bool) -> str:
    ihl = (packet[0] & 15) * 4
    at = 12 if source else 16
    port_at = ihl if source else ihl + 2
    return f"{text(packet[at : at + 4])}:{int.from_bytes(packet[port_at : port_at + 2], 'big')}"


def _checks(engine: Engine) -> list[tuple[str, Callable[[], bool]]]:
    state: dict[str, int] = {}

    def udp_out() -> bool:
        out = _sent(engine.receive(LAN, segment(UDP, CLIENT, 5000, SERVER, 53), 1.0), WAN)
        state["udp"] = int(_endpoint(out[0], True).split(":")[1]) if out else 0
        return len(out) == 1 and _endpoint(out[0], True) == f"{PUBLIC}:5000"

    def udp_reply() -> bool:
        back = _sent(engine.receive(WAN, segment(UDP, SERVER, 53, PUBLIC, state["udp"]), 2.0), LAN)
        return len(back) == 1 and _endpoint(back[0], False) == f"{CLIENT}:5000"

    def unsolicited() -> bool:
        actions = engine.receive(WAN, segment(UDP, "192.0.2.66", 53, PUBLIC, 5000), 2.0)
        return not _sent(actions, LAN) and engine.counters["filtered"] == 1

    def tcp_handshake() -> bool:
        syn = _sent(engine.receive(LAN, segment(TCP, CLIENT, 40000, SERVER, 443, SYN), 3.0), WAN)
        synack = _sent(
            engine.receive(WAN, segment(TCP, SERVER, 443, PUBLIC, 40000, SYN | ACK), 3.1), LAN
        )
        ack = _sent(engine.receive(LAN, segment(TCP, CLIENT, 40000, SERVER, 443, ACK), 3.2), WAN)
        return bool(syn and synack and ack)

    def port_forward() -> bool:
        got = _sent(engine.receive(WAN, segment(TCP, SERVER, 51000, PUBLIC, 8080, SYN), 4.0), LAN)
        return len(got) == 1 and _endpoint(got[0], False) == f"{CLIENT2}:80"

    def hairpin() -> bool:
        got = _sent(engine.receive(LAN, segment(TCP, CLIENT, 40001, PUBLIC, 8080, SYN), 4.5), LAN)
        return len(got) == 1 and _endpoint(got[0], False) == f"{CLIENT2}:80"

    def ping() -> bool:
        out = _sent(engine.receive(LAN, echo(CLIENT, SERVER, 77), 5.0), WAN)
        back = _sent(engine.receive(WAN, echo(SERVER, PUBLIC, 77, reply=True), 5.1), LAN)
        return len(out) == 1 and len(back) == 1

    def malformed() -> bool:
        actions = engine.receive(LAN, b"\x45\x00\x00\x14garbage-header!!", 6.0)
        return not _sent(actions, WAN) and engine.counters["malformed_checksum"] == 1

    def expiry() -> bool:
        engine.advance(2.0 + 301)
        actions = engine.receive(WAN, segment(UDP, SERVER, 53, PUBLIC, state["udp"]), 303.0)
        return not _sent(actions, LAN)

    def invariants() -> bool:
        return not verify_engine_invariants(engine)

    return [
        ("UDP out is translated to the public address, port preserved", udp_out),
        ("UDP reply comes back to the LAN host", udp_reply),
        ("unsolicited inbound from another server is filtered", unsolicited),
        ("TCP three-way handshake crosses the NAT", tcp_handshake),
        ("port forward 8080 -> 192.168.1.20:80 admits a SYN", port_forward),
        ("hairpin to the forwarded port from the LAN", hairpin),
        ("ICMP echo out and back", ping),
        ("malformed packet counted and dropped", malformed),
        ("UDP mapping expires after 300 s idle", expiry),
        ("table invariants hold", invariants),
    ]


def run(out: TextIO) -> int:
    config = NatConfig(port_forwards=(PortForward("tcp", 8080, CLIENT2, 80, name="web"),))
    engine = Engine(config, helpers=[])
    out.write(f"natbox engine self-check (profile {config.profile}, WAN {PUBLIC})\n")
    failed = 0
    for title, check in _checks(engine):
        ok = check()
        failed += not ok
        out.write(f"  {'PASS' if ok else 'FAIL'}  {title}\n")
    out.write(
        "counters: " + ", ".join(f"{k}={v}" for k, v in engine.counters.snapshot().items()) + "\n"
    )
    out.write(f"mappings now: {len(engine.snapshot())}\n")
    out.write("self-check " + ("passed\n" if not failed else f"FAILED ({failed})\n"))
    return 1 if failed else 0
