"""The VPN rows, with real programs on both ends: strongSwan IKEv2 with NAT-T and crafted raw
ESP (IPsec), pptpd and pptp (PPTP), xl2tpd on both ends (L2TP; PPP's framing carried by
natbox.peers.pppstub in both), and the article's "modern VPNs need no passthrough": OpenVPN
over UDP and WireGuard (wireguard-go) under every profile with every passthrough off."""

from __future__ import annotations

import json
import os
import sys
import time

from natbox.matrix.expect import BLOCKED, WORKS
from natbox.matrix.grid import scenario
from natbox.matrix.together import at_once, verdict
from natbox.peers import esp, l2tp, openvpn, pptp, strongswan, wireguard


def observe(cell, results: list[tuple[bool, object]]) -> None:
    cell.observe(verdict([ok for ok, _ in results], WORKS, BLOCKED),
                 json.dumps([detail for _, detail in results], default=str)[:2000])  # fmt: skip
    cell.check()


@scenario("ikev2")
def test_ikev2(cell, lan_clients, internet, clients, tmp_path):
    strongswan.responder(internet, tmp_path / "server", "192.168.1.0/24")
    try:
        initiators = [strongswan.initiator(host, tmp_path / host.name, internet.address)
                      for host in lan_clients[:clients]]  # fmt: skip

        def connect(charon):
            up = strongswan.connect(charon, 10 if cell.expected == WORKS else 4)
            if up.returncode:
                return False, up.stdout[-300:]
            ping = charon.host.run(["ping", "-c", "2", "-i", "0.2", "-W", "2",
                                    strongswan.BEHIND_SERVER], check=False)  # fmt: skip
            return ping.returncode == 0, "tunnel up" + ("" if ping.returncode else ", ping")

        observe(cell, at_once(connect, initiators))
    finally:
        internet.run(["ip", "addr", "del", f"{strongswan.BEHIND_SERVER}/32", "dev", "lo"],
                     check=False)  # fmt: skip


@scenario("esp")
def test_raw_esp(cell, lan_clients, internet, clients):
    esp.start_server(internet, internet.address)

    spis = {n: int.from_bytes(os.urandom(4), "big") | 0x100 for n in (1, 2)}  # as IKE's are

    def exchange(args):
        n, host = args
        result = host.run([sys.executable, "-m", "natbox.peers.esp", "send", "--server",
                           internet.address, "--spi", hex(spis[n])], check=False)  # fmt: skip
        answer = json.loads(result.stdout) if result.stdout.strip() else {"error": result.stderr}
        ok = answer.get("answered") == answer.get("sent") and not answer.get("misdelivered")
        return ok, answer

    observe(cell, at_once(exchange, list(enumerate(lan_clients[:clients], 1))))


@scenario("pptp")
def test_pptp(cell, router, lan_clients, internet, clients, tmp_path):
    pptp.Server(internet, tmp_path / "server")
    callers = [pptp.Client(host, tmp_path / host.name, internet.address)
               for host in lan_clients[:clients]]  # fmt: skip

    def call(client):
        seen = client.opened(8 if cell.expected == WORKS else 4)
        return bool(seen.get("opened") and seen.get("received", {}).get("echo-reply")), seen

    observe(cell, at_once(call, callers))
    if cell.observed == WORKS:  # the VPN monitor ends each call when its client hangs up
        for client in callers:
            client.process.stop()
        hosts = {host.address for host in lan_clients[:clients]}
        assert wait_until(lambda: not active_sessions(router, "pptp", hosts), 5), (
            f"PPTP calls still active after their clients stopped: "
            f"{active_sessions(router, 'pptp', hosts)}")  # fmt: skip


@scenario("l2tp")
def test_l2tp(cell, lan_clients, internet, clients, tmp_path):
    l2tp.Server(internet, tmp_path / "server")
    lacs = [l2tp.Client(host, tmp_path / host.name, internet.address)
            for host in lan_clients[:clients]]  # fmt: skip

    def session(client):
        seen = client.opened(10 if cell.expected == WORKS else 4)
        return bool(seen.get("opened") and seen.get("received", {}).get("echo-reply")), seen

    observe(cell, at_once(session, lacs))


def active_sessions(router, protocol: str, hosts: set[str]) -> list[dict]:
    active = router.api.get("/vpn/sessions").get("active", [])
    return [s for s in active if protocol in s["protocol"].lower() and s["lan_host"] in hosts]


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@scenario("openvpn")
def test_openvpn(cell, lan_clients, internet, clients, tmp_path):
    server = openvpn.Server(internet, tmp_path / "server")
    tunnels = [openvpn.Client(host, tmp_path / host.name, server)
               for host in lan_clients[:clients]]  # fmt: skip

    def connect(client):
        up = client.connected(15)
        return up and client.ping(), "connected" if up else client.process.output()[-300:]

    observe(cell, at_once(connect, tunnels))


@scenario("wireguard")
def test_wireguard(cell, lan_clients, internet, clients, tmp_path):
    server, peers = wireguard.tunnel(internet, list(lan_clients[:clients]), tmp_path / "wg")
    try:

        def ping(peer):
            return wireguard.ping(peer.host, 3), peer.tunnel_address

        observe(cell, at_once(ping, peers))
    finally:
        for peer in [server, *peers]:
            peer.stop()
