"""The control rows: plain TCP, UDP and ICMP out of the LAN, under every profile with every
passthrough on and then off. They must work everywhere; a failure here says the lab or the
router is broken, not a passthrough."""

from __future__ import annotations

import json
import sys

from natbox.lab.testservices import TCP_ECHO, WHOAMI_PORT
from natbox.matrix.grid import scenario
from natbox.matrix.together import at_once


def probe(host, *args: str):
    result = host.run([sys.executable, "-m", "natbox.lab.probe", *args], check=False)
    return json.loads(result.stdout) if result.stdout.strip() else {"error": result.stderr}


@scenario("tcp")
def test_tcp(cell, lan_clients, internet, clients):
    def connect(host):
        answer = probe(host, "tcp", internet.address, str(TCP_ECHO), "--message", host.name)
        return answer.get("ok") and answer.get("data") == host.name, answer

    results = at_once(connect, lan_clients[:clients])
    cell.conclude(results)


@scenario("udp")
def test_udp(cell, lan_clients, internet, clients):
    def exchange(host):
        answer = probe(host, "udp", "--timeout", "2", f"{internet.address}:{WHOAMI_PORT}:whoami")
        answers = answer[0]["answers"] if isinstance(answer, list) else []
        return bool(answers), answer

    results = at_once(exchange, lan_clients[:clients])
    cell.conclude(results)


@scenario("icmp")
def test_icmp(cell, lan_clients, internet, clients):
    def ping(host):
        result = host.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", internet.address],
                          check=False)  # fmt: skip
        return result.returncode == 0, result.stdout.strip().splitlines()[-1:]

    results = at_once(ping, lan_clients[:clients])
    cell.conclude(results)
