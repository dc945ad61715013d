"""NAT behaviour discovery (RFC 5780) with real programs: coturn's STUN server on the internet
host's two addresses, its natdiscovery client on a LAN client. The ports are not the lab's
3478/3479, which natbox's own test services hold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from natbox.hil.hosts import Background, Host
from natbox.peers.started import sockets, wait_until_ready

PORT, ALT_PORT = 3480, 3481
BEHAVIOURS = ("Endpoint Independent", "Address Dependent", "Address and Port Dependent")
HAIRPIN_SEEN = "Received a request (maybe a successful hairpinning)"
REFLEXIVE = "UDP reflexive addr"  # the server's answer: the client's mapped address


def server(host: Host, directory: Path, addresses: tuple[str, str]) -> Background:
    directory.mkdir(parents=True, exist_ok=True)
    process = host.start(["turnserver", "--stun-only", "-L", addresses[0], "-L", addresses[1],
                          "--listening-port", str(PORT), "--alt-listening-port", str(ALT_PORT),
                          "--no-cli", "--no-tls", "--no-dtls", "-n", "--simple-log",
                          "--log-file", "stdout", "--db", str(directory / "turndb"),
                          "--pidfile", str(directory / "turnserver.pid")],
                         name="turnserver")  # fmt: skip
    # Bound on both server addresses: an RFC 5780 server answers from either.
    wait_until_ready(process, lambda: sockets(host, "udp", PORT) >= 2, "turnserver")
    return process


@dataclass(frozen=True)
class Discovery:
    mapping: str  # one of BEHAVIOURS, or "" when natdiscovery reached no verdict
    filtering: str
    hairpinning: bool | None  # None: the hairpin test never reached the server
    output: str


def discover(client: Host, server_address: str) -> Discovery:
    """natdiscovery's mapping, filtering and hairpinning tests (-m -f, then -H)."""
    behaviour = client.run(["turnutils_natdiscovery", "-m", "-f", "-p", str(PORT),
                            server_address], check=False, timeout=60).stdout  # fmt: skip
    hairpin = client.run(["turnutils_natdiscovery", "-H", "-p", str(PORT), server_address],
                         check=False, timeout=60).stdout  # fmt: skip
    if HAIRPIN_SEEN in hairpin:
        hairpinned: bool | None = True
    else:  # "no" only if the server answered, so the test ran and its request never came back
        hairpinned = False if REFLEXIVE in hairpin else None
    return Discovery(_verdict(behaviour, "Mapping"), _verdict(behaviour, "Filtering"),
                     hairpinned, behaviour + hairpin)  # fmt: skip


def _verdict(output: str, kind: str) -> str:
    found = re.search(rf"NAT with (.+?) {kind}!", output)
    return found.group(1) if found else ""
