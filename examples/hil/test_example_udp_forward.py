"""My UDP application (a server on a LAN client, reached from the internet) needs a port
forward: without it the router drops the datagrams, with it they reach the server and the
answer comes back from the router's WAN address."""

from __future__ import annotations

import json
import time

PORT = 40000
ECHO_SERVER = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", {PORT}))
print("listening", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
"""
ASK = """
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
try:
    data, peer = s.recvfrom(2048)
    print(json.dumps({"answer": data.decode(), "from": peer[0]}))
except socket.timeout:
    print(json.dumps({"answer": None}))
"""


def ask(internet, router) -> dict:
    result = internet.run(["python3", "-c", ASK, router.wan_address, str(PORT)])
    return json.loads(result.stdout)


def echo_server(lan_client):
    server = lan_client.start(["python3", "-u", "-c", ECHO_SERVER], name="echo")
    for _ in range(50):  # until it listens
        if "listening" in server.output():
            return server
        time.sleep(0.1)
    raise RuntimeError(f"the echo server did not start: {server.output()}")


def test_udp_server_on_the_lan_needs_a_port_forward(router, lan_client, internet):
    server = echo_server(lan_client)
    assert ask(internet, router) == {"answer": None}  # dropped: no forward yet
    assert server.running
    router.add_forward("udp", PORT, lan_client.address)
    assert ask(internet, router) == {"answer": "echo:hello", "from": router.wan_address}
    router.remove_forward("udp", PORT)
    assert ask(internet, router) == {"answer": None}
