"""NAT behaviour discovery (RFC 5780) with real programs: coturn's STUN server on the internet
host's two addresses, its natdiscovery client on a LAN client. The ports are not the lab's
3478/3479, which natbox's own test services hold."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from natbox.hil.hosts import Background, Host

PORT, ALT_PORT = 3480, 3481
BEHAVIOURS = ("Endpoint Independent", "Address Dependent", "Address and Port Dependent")
HAIRPIN_SEEN = "Received a request (maybe a successful hairpinning)"


def server(host: Host, directory: Path, addresses: tuple[str, str]) -> Background:
    directory.mkdir(parents=True, exist_ok=True)
    process = host.start(["turnserver", "--stun-only", "-L", addresses[0], "-L", addresses[1],
                          "--listening-port", str(PORT), "--alt-listening-port", str(ALT_PORT),
                          "--no-cli", "--no-tls", "--no-dtls", "-n", "--simple-log",
                          "--log-file", "stdout", "--db", str(directory / "turndb"),
                          "--pidfile", str(directory / "turnserver.pid")],
                         name="turnserver")  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        listening = host.run(["ss", "-Hlun", "sport", "=", f":{PORT}"], check=False).stdout
        if listening.count(f":{PORT}") >= 2:
            return process
        if time.monotonic() > deadline or not process.running:
            raise RuntimeError(f"turnserver did not start: {process.output()[-1500:]}")
        time.sleep(0.1)


@dataclass(frozen=True)
class Discovery:
    mapping: str  # one of BEHAVIOURS, or "" when natdiscovery reached no verdict
    filtering: str
    hairpinning: bool
    output: str


def discover(client: Host, server_address: str) -> Discovery:
    """natdiscovery's mapping, filtering and hairpinning tests (-m -f, then -H)."""
    behaviour = client.run(["turnutils_natdiscovery", "-m", "-f", "-p", str(PORT),
                            server_address], check=False, timeout=60).stdout  # fmt: skip
    hairpin = client.run(["turnutils_natdiscovery", "-H", "-p", str(PORT), server_address],
                         check=False, timeout=60).stdout  # fmt: skip
    return Discovery(_verdict(behaviour, "Mapping"), _verdict(behaviour, "Filtering"),
                     HAIRPIN_SEEN in hairpin, behaviour + hairpin)  # fmt: skip


def _verdict(output: str, kind: str) -> str:
    found = re.search(rf"NAT with (.+?) {kind}!", output)
    return found.group(1) if found else ""
