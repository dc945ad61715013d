"""The VPN rows, with real programs on both ends: strongSwan IKEv2 with NAT-T and crafted raw
ESP (IPsec), pptpd and pptp (PPTP), xl2tpd on both ends (L2TP; PPP's framing carried by
natbox.peers.pppstub in both), SSTP (sstpc and natbox's SSTP server: TLS, SSTP's framing, LCP
inside), and the article's "modern VPNs need no passthrough": OpenVPN over UDP and WireGuard
(wireguard-go) under every profile with every passthrough off."""

from __future__ import annotations

import json
import os
import sys
import time

from natbox.matrix.grid import scenario
from natbox.matrix.together import at_once
from natbox.peers import esp, l2tp, openvpn, pptp, sstp, strongswan, wireguard

# How long a client gets to come up, whatever the cell expects: a slow success must not pass
# for "blocked".
WAIT = 8


@scenario("ikev2")
def test_ikev2(cell, lan_clients, internet, clients, tmp_path):
    try:
        strongswan.responder(internet, tmp_path / "server", "192.168.1.0/24")
        initiators = [strongswan.initiator(host, tmp_path / host.name, internet.address)
                      for host in lan_clients[:clients]]  # fmt: skip

        def connect(charon):
            up = strongswan.connect(charon, WAIT)
            if up.returncode:
                return False, up.stdout[-300:]
            answered = charon.host.ping(strongswan.BEHIND_SERVER, count=2)
            return answered, "tunnel up" + (", ping" if answered else "")

        cell.conclude(at_once(connect, initiators))
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
        ok = bool(answer.get("sent")) and answer.get("answered") == answer.get("sent") and (
            not answer.get("misdelivered"))  # fmt: skip
        return ok, answer

    cell.conclude(at_once(exchange, list(enumerate(lan_clients[:clients], 1))))


@scenario("pptp")
def test_pptp(cell, router, lan_clients, internet, clients, tmp_path):
    server = pptp.Server(internet, tmp_path / "server")
    callers = [pptp.Client(host, tmp_path / host.name, internet.address)
               for host in lan_clients[:clients]]  # fmt: skip

    def call(client):
        seen = client.opened(WAIT)
        return bool(seen.get("opened") and seen.get("received", {}).get("echo-reply")), seen

    results = at_once(call, callers)

    def answered() -> int:  # LCP both ways: the server's stand-ins opened too
        return sum(1 for seen in server.lcp() if seen.get("opened"))

    # A stand-in writes its status every half second: give the server's a moment to say so.
    if all(ok for ok, _ in results) and not wait_until(lambda: answered() >= clients, 3):
        results.append((False, f"only {answered()} of the server's stand-ins opened LCP"))
    if all(ok for ok, _ in results):  # the VPN monitor ends each call when its client hangs up
        for client in callers:
            client.process.stop()
        hosts = {host.address for host in lan_clients[:clients]}
        if not wait_until(lambda: not active_sessions(router, "pptp", hosts), 5):
            lingering = active_sessions(router, "pptp", hosts)
            cell.observe("works, but its calls stay active after hang-up", json.dumps(lingering))
            cell.check()
    cell.conclude(results)


@scenario("l2tp")
def test_l2tp(cell, lan_clients, internet, clients, tmp_path):
    l2tp.Server(internet, tmp_path / "server")
    lacs = [l2tp.Client(host, tmp_path / host.name, internet.address)
            for host in lan_clients[:clients]]  # fmt: skip

    def session(client):
        seen = client.opened(WAIT)
        return bool(seen.get("opened") and seen.get("received", {}).get("echo-reply")), seen

    cell.conclude(at_once(session, lacs))


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

    cell.conclude(at_once(connect, tunnels))


@scenario("wireguard")
def test_wireguard(cell, lan_clients, internet, clients, tmp_path):
    server, peers = wireguard.tunnel(internet, list(lan_clients[:clients]), tmp_path / "wg")
    try:

        def ping(peer):
            return wireguard.ping(peer.host, 3), peer.tunnel_address

        cell.conclude(at_once(ping, peers))
    finally:
        for peer in [server, *peers]:
            peer.stop()


def _sstp(cell, router, lan_clients, internet, clients, tmp_path, listed: bool):
    # The router's SSTP list names the server (what SSTP off can block), or not.
    router.api.put("/passthrough", {"sstp_servers": [sstp.NAME] if listed else []})
    server = sstp.Server(internet, tmp_path / "server")

    def connect(host):
        client = sstp.Client(host, tmp_path / host.name, server)
        seen = client.opened(WAIT)
        return bool(seen.get("opened") and seen.get("received", {}).get("echo-reply")), seen

    cell.conclude(at_once(connect, lan_clients[:clients]))


@scenario("sstp")
def test_sstp(cell, router, lan_clients, internet, clients, tmp_path):
    _sstp(cell, router, lan_clients, internet, clients, tmp_path, listed=True)


@scenario("sstp-unlisted")
def test_sstp_to_a_server_not_listed(cell, router, lan_clients, internet, clients, tmp_path):
    _sstp(cell, router, lan_clients, internet, clients, tmp_path, listed=False)
