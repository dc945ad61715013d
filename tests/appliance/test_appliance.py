"""End to end against the booted appliance: console, LAN DHCP, traffic to the WAN, VPN
passthrough switched from routerctl, configuration across a reboot, malformed commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from natbox.appliance.console import scale
from natbox.lab import names as N
from natbox.lab import netns

pytestmark = [pytest.mark.vm, pytest.mark.natbox(mode="vm")]  # on natbox.hil's vm router

CLIENT_PROBE = """
import socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "tcp":
    s = socket.create_connection((host, port), timeout=3)
    s.sendall(b"natbox\\n"); print(s.recv(100).decode().strip())
elif kind == "connect":
    try:
        socket.create_connection((host, port), timeout=3); print("open")
    except ConnectionRefusedError:
        print("refused")  # an RST came back through the NAT: the path is open
    except OSError:
        print("blocked")
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    s.sendto(b"hello", (host, port)); print(s.recvfrom(100)[0].decode().strip())
"""


# A scapy exchange from the LAN client: one UDP datagram to a lab server port nobody listens
# on. Whether it crossed the NAT is read from the WAN link's capture.
SCAPY_PROBE = """
import os, struct, sys
from scapy.all import IP, UDP, Raw, conf, sr1
conf.verb = 0
host, port = sys.argv[1], int(sys.argv[2])
payload = b"natbox-probe"
if port == 500:  # an IKEv2 IKE_SA_INIT header: the IPsec helper parses it
    header = bytes([33, 0x20, 34, 0x08]) + bytes(4) + struct.pack(">I", 28)
    payload = os.urandom(8) + bytes(8) + header
reply = sr1(IP(dst=host) / UDP(sport=port, dport=port) / Raw(payload), timeout=2)
print("nothing" if reply is None else reply.summary())
"""


def scapy_probe(device, port: int) -> str:
    ns = device.lab.names.client(1)
    result = subprocess.run(netns.exec_args(ns, sys.executable, "-c", SCAPY_PROBE, N.SERVERS[0],
                                            str(port)),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def crossed_to_the_wan(device, port: int, at_least: int = 0, wait: float = 2.0) -> int:
    """UDP datagrams to ``port`` seen leaving the appliance's WAN; waits up to ``wait``
    seconds for ``at_least`` of them (the capture reaches the file a moment later)."""
    from scapy.all import UDP, rdpcap

    deadline = time.monotonic() + wait * scale()
    while True:
        packets = rdpcap(str(device.pcaps / "wan.pcap"))
        seen = sum(1 for p in packets if UDP in p and p[UDP].dport == port)
        if (at_least and seen >= at_least) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def client(device, *args: str) -> str:
    ns = device.lab.names.client(1)
    result = subprocess.run(netns.exec_args(ns, sys.executable, "-c", CLIENT_PROBE, *args),
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(params=["engine", "flow_offload"])
def datapath_mode(request, device):
    """The traffic and passthrough tests run in both datapath modes: every packet through the
    engine, and flow offloading on (established plain flows forwarded by the guest kernel)."""
    on = request.param == "flow_offload"
    device.console.check(f"routerctl flow-offload {'on' if on else 'off'}", 60)
    yield request.param
    if on:
        device.console.check("routerctl flow-offload off", 60)


@pytest.fixture(scope="module")
def leased(appliance):
    result = appliance.lab.lease(1)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_login_and_services(device):
    out, code = device.console.run("cat /etc/natbox/board; ls /run/natbox")
    assert code == 0 and out.splitlines()[0] == "natbox,qemu-x86_64"
    assert "router.sock" in out
    out, code = device.console.run("mount | grep ' /data '")
    assert code == 0 and "/dev/vda4" in out


UI_PROBE = """
import http.cookiejar, json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
with opener.open(base + "/", timeout=10) as page:
    print(json.dumps({"page": page.status, "login_form": b'name="password"' in page.read()}))
def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with opener.open(req, timeout=10) as reply:
        return json.load(reply)
try:
    call("POST", "/api/v1/session", {"username": "admin", "password": "wrong-" + password})
except urllib.error.HTTPError as refused:
    print(json.dumps({"wrong_password": refused.code}))
login = call("POST", "/api/v1/session", {"username": "admin", "password": password})
print(json.dumps(login))
print(json.dumps(call("GET", "/api/v1/status")))
"""


def test_web_ui_on_the_lan_drives_the_live_daemon(device, router, leased):
    """The UI answers on the LAN address (and through the host forward `make run` prints),
    a wrong password is refused and the administrator's is taken (the plugin replaced the
    factory one at its first login, as the UI demands: the forced change itself is
    test_firmware_update's, after a factory reset), and the status comes from the running
    datapath daemon: its WAN address is the one the device leased."""
    import urllib.request

    with urllib.request.urlopen(device.session.ui_url, timeout=10) as page:
        assert page.status == 200
    ns = device.lab.names.client(1)
    result = subprocess.run(netns.exec_args(ns, sys.executable, "-c", UI_PROBE,
                                            "http://192.168.1.1", router.api.password),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    if result.returncode != 0:
        log, _ = device.console.run("tail -40 /var/log/webui.log")
        pytest.fail(f"{result.stderr}\n--- the device's /var/log/webui.log:\n{log}")
    page, refused, login, status = map(json.loads, result.stdout.splitlines())
    assert page == {"page": 200, "login_form": True}
    assert refused == {"wrong_password": 401}
    assert login["username"] == "admin" and login["must_change_password"] is False
    wan, code = device.console.run("ip -4 -o addr show dev eth1 | awk '{print $4}'")
    assert code == 0 and wan
    assert status["wan"]["addresses"] == [wan.split("/")[0]]
    assert status["lan"]["address"] == "192.168.1.1" and status["uptime_s"] > 0


HTTPS_PROBE = """
import hashlib, http.client, json, socket, ssl, sys, time
host, want, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + wait
while True:  # the UI follows the configuration within seconds
    try:
        pem = ssl.get_server_certificate((host, 443), timeout=3)
        break
    except OSError:
        if want == "off" or time.monotonic() > deadline:
            print(json.dumps({"listening": False})); sys.exit()
        time.sleep(0.5)
if want == "off":
    print(json.dumps({"listening": True})); sys.exit()
der = ssl.PEM_cert_to_DER_cert(pem)
context = ssl.create_default_context(cadata=pem)  # trust exactly that one; the name is checked
conn = http.client.HTTPSConnection(host, 443, context=context, timeout=10)
conn.request("GET", "/login")
reply = conn.getresponse()
print(json.dumps({"listening": True, "sha256": hashlib.sha256(der).hexdigest(),
                  "status": reply.status, "cookie": reply.getheader("Set-Cookie") or ""}))
"""


def https_probe(device, want: str) -> dict:
    ns = device.lab.names.client(1)
    wait = 20 * scale()
    result = subprocess.run(netns.exec_args(ns, sys.executable, "-c", HTTPS_PROBE,
                                            "192.168.1.1", want, str(wait)),
                            capture_output=True, text=True, timeout=wait + 60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_https_on_the_lan_with_the_devices_own_certificate(device, leased):
    """routerctl switches HTTPS on: a LAN client gets the UI over TLS with the certificate the
    device made on its data partition (its name checked against the LAN address in it) and a
    Secure cookie; switched off, port 443 closes again."""
    out, code = device.console.run("routerctl https on")
    assert code == 0 and "HTTPS on" in out, out
    try:
        seen = https_probe(device, "on")
        assert seen["listening"] and seen["status"] == 200, seen
        assert seen["cookie"].startswith("__Host-natbox_session=") and "; Secure" in seen["cookie"]
        mode, code = device.console.run("stat -c %a /data/natbox/tls/key.pem")
        assert code == 0 and mode.strip() == "600"
        pem, code = device.console.run("cat /data/natbox/tls/cert.pem")
        assert code == 0
        import hashlib
        import ssl

        kept = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.strip() + "\n")).hexdigest()
        assert seen["sha256"] == kept  # the served certificate is the one kept on /data
    finally:
        out, code = device.console.run("routerctl https off")
    assert code == 0 and "HTTPS off" in out
    assert https_probe(device, "off") == {"listening": False} or _closes_soon(device)


def _closes_soon(device) -> bool:
    deadline = time.monotonic() + 20 * scale()
    while time.monotonic() < deadline:
        if https_probe(device, "off") == {"listening": False}:
            return True
        time.sleep(1)
    return False


def test_lan_client_gets_a_lease(device, leased):
    assert "lease of 192.168.1." in leased and "obtained from 192.168.1.1" in leased


def test_lan_client_resolves_the_routers_name_through_the_device(device, leased):
    ns = device.lab.names.client(1)
    resolved = subprocess.run(
        netns.exec_args(ns, sys.executable, "-m", "natbox.lab.probe", "resolve", "natbox.lan"),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert '"address": "192.168.1.1"' in resolved.stdout, resolved.stdout + resolved.stderr


def test_lan_dhcp_and_dns_are_dnsmasq_configured_from_the_running_config(device, leased):
    out, code = device.console.run("pidof dnsmasq; pidof udhcpd || echo no-udhcpd")
    assert code == 0 and out.splitlines()[0].strip().isdigit() and "no-udhcpd" in out, out
    conf, code = device.console.run("cat /run/natbox/router/dnsmasq.conf")
    assert code == 0 and "dhcp-range=192.168.1.100,192.168.1.199,255.255.255.0," in conf
    assert "host-record=natbox.lan,192.168.1.1" in conf and "interface=eth0" in conf
    # The address the client got is in dnsmasq's lease file, which the Status page reads.
    leases, _ = device.console.run("cat /run/natbox/router/dnsmasq.leases")
    assert N.client_mac(1) in leases


LAN_FORM = """
import http.cookiejar, json, re, sys, urllib.error, urllib.parse, urllib.request
base, hostname, first, last, password = sys.argv[1:6]
jar = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
opener = urllib.request.build_opener(jar)
def call(method, path, body, token=None):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-CSRF-Token", token)
    with opener.open(req, timeout=10) as reply:
        return json.load(reply)
call("POST", "/api/v1/session", {"username": "admin", "password": password})
page = opener.open(base + "/lan", timeout=10).read().decode()
token = re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)
form = {"csrf_token": token, "hostname": hostname, "dhcp_enabled": "on", "first": first,
        "last": last, "lease_time": "600"}
reply = opener.open(base + "/lan", urllib.parse.urlencode(form).encode(), timeout=30)
text = reply.read().decode()
print(json.dumps({"applied": "LAN &amp; DHCP settings saved and applied." in text,
                  "restart": "Restart needed" in text}))
"""


def lan_form(device, hostname: str, first: str, last: str) -> dict:
    from natbox.hil.router import PASSWORD

    ns = device.lab.names.client(1)
    result = subprocess.run(netns.exec_args(ns, sys.executable, "-c", LAN_FORM,
                                            "http://192.168.1.1", hostname, first, last,
                                            PASSWORD),
                            capture_output=True, text=True, timeout=90)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def resolve(device, name: str) -> str:
    ns = device.lab.names.client(1)
    result = subprocess.run(
        netns.exec_args(ns, sys.executable, "-m", "natbox.lab.probe", "resolve", name),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return result.stdout


def test_dhcp_range_and_hostname_changed_in_the_web_ui_take_effect(device, leased):
    """The LAN & DHCP page says "applied", not "restart needed", and it is: a LAN client's
    next lease comes from the new pool and the new name resolves, from the restarted
    dnsmasq; the device's hostname follows."""
    try:
        assert lan_form(device, "edge", "192.168.1.50", "192.168.1.60") == {
            "applied": True, "restart": False}  # fmt: skip
        lease = device.lab.lease(1)
        assert lease.returncode == 0, lease.stderr
        got = re.search(r"lease of 192\.168\.1\.(\d+)", lease.stderr)
        assert got and 50 <= int(got.group(1)) <= 60, lease.stderr
        assert '"address": "192.168.1.1"' in resolve(device, "edge.lan")
        assert device.console.check("hostname", 30) == "edge"
    finally:
        lan_form(device, "natbox", "192.168.1.100", "192.168.1.199")
        device.lab.lease(1)
    assert '"address": "192.168.1.1"' in resolve(device, "natbox.lan")


def test_ping_tcp_and_udp_to_the_wan(device, leased, datapath_mode):
    ns = device.lab.names.client(1)
    ping = subprocess.run(netns.exec_args(ns, "ping", "-c", "2", "-W", "3", N.SERVERS[0]),
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert ping.returncode == 0, ping.stdout
    assert client(device, "tcp", N.SERVERS[0], "7") == "natbox"  # TCP echo
    assert client(device, "udp", N.SERVERS[0], "3478")  # UDP whoami answers through the NAT


def test_pptp_switched_from_routerctl(device, leased, datapath_mode):
    """TCP 1723 (PPTP control) is blocked while PPTP is off, and reaches the server once
    routerctl switches it on (the server has no PPTP daemon: its RST shows the path)."""
    console = device.console
    console.check("routerctl passthrough disable pptp", 60)
    assert client(device, "connect", N.SERVERS[0], "1723") == "blocked"
    counters = console.check("routerctl counters", 60)
    assert "pptp_disabled" in counters
    console.check("routerctl passthrough enable pptp", 60)
    try:
        assert client(device, "connect", N.SERVERS[0], "1723") == "refused"
        assert "pptp   on" in console.check("routerctl passthrough", 60)
    finally:
        console.check("routerctl passthrough disable pptp", 60)


@pytest.mark.parametrize(("helper", "port"), [("l2tp", 1701), ("ipsec", 500)])
def test_udp_vpn_passthrough_before_and_after(device, leased, helper, port, datapath_mode):
    """L2TP (UDP 1701) and IKE (UDP 500), pushed with scapy with the helper off, then on."""
    console = device.console
    console.check(f"routerctl passthrough disable {helper}", 60)
    before = crossed_to_the_wan(device, port, wait=0)
    assert scapy_probe(device, port) == "nothing"
    assert crossed_to_the_wan(device, port) == before  # dropped at the LAN side (waited 2 s)
    console.check(f"routerctl passthrough enable {helper}", 60)
    try:
        scapy_probe(device, port)
        assert crossed_to_the_wan(device, port, at_least=before + 1, wait=10) == before + 1
    finally:
        console.check(f"routerctl passthrough disable {helper}", 60)


PEERS = Path(__file__).resolve().parents[1] / "natbox" / "lab" / "vpn_peers.py"


def exchange(device, tmp_path, server_role: str, client_role: str) -> tuple[dict, dict]:
    """A scapy-built exchange (tests/natbox/lab/vpn_peers.py) from LAN client 1 to a server in
    the internet namespace, through the appliance."""
    lab = device.lab
    out = tmp_path / f"{server_role}.json"
    out.unlink(missing_ok=True)
    server = lab.spawn(server_role, lab.names.internet, sys.executable, str(PEERS), server_role,
                       "--bind", N.SERVERS[0], "--out", str(out), "--timeout", "6")  # fmt: skip
    time.sleep(0.6)  # let it bind
    client_run = lab.run(lab.names.client(1), sys.executable, str(PEERS), client_role,
                         "--server", N.SERVERS[0], "--timeout", "4", timeout=60)  # fmt: skip
    server.wait(timeout=30)
    lab.stop(server_role)
    served = json.loads(out.read_text()) if out.exists() else {}
    return served, json.loads(client_run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("helper", "server_role", "client_role"),
    [("pptp", "pptp-server", "pptp-client"), ("ipsec", "esp-server", "esp-client")],
)
def test_gre_and_esp_through_the_appliance_before_and_after(
    device, leased, tmp_path, helper, server_role, client_role, datapath_mode
):
    """PPTP (TCP 1723 control + GRE) and raw ESP, built with scapy, off then on."""
    console = device.console
    console.check(f"routerctl passthrough disable {helper}", 60)
    served, got = exchange(device, tmp_path, server_role, client_role)
    assert got.get("connected") is False or got.get("reply") is None
    console.check(f"routerctl passthrough enable {helper}", 60)
    try:
        served, got = exchange(device, tmp_path, server_role, client_role)
        assert served["from"] == N.ROUTER_WAN  # translated to the appliance's WAN address
        if helper == "pptp":
            assert served["gre"] == 0x5001  # outbound GRE keeps the server's call ID
            assert got["peer_call_id"] == got["gre_call_id"] == 0x4A11  # the client's, restored
        else:
            assert got == {"reply": "00002000", "from": N.SERVERS[0]}
    finally:
        console.check(f"routerctl passthrough disable {helper}", 60)


def test_configuration_survives_a_reboot(device):
    console = device.console
    console.check("routerctl profile symmetric && routerctl save", 60)
    device.reboot()
    assert device.console.check("routerctl profile", 60) == "symmetric"
    device.console.check("routerctl profile restricted-cone && routerctl save", 60)


def test_malformed_commands_leave_the_device_working(device):
    console = device.console
    before = console.check("routerctl forward list", 60)
    out, code = console.run("routerctl forward add tcp 99999 192.168.1.50", 60)
    assert code == 1 and "invalid nat.port_forwards[0].ext_port" in out and "nothing changed" in out
    out, code = console.run("routerctl forward add tcp 80 10.9.9.9", 60)
    assert code == 1 and "is not in 192.168.1.0/24" in out
    out, code = console.run("routerctl profile no-such-profile", 60)
    assert code == 1 and "unknown NAT profile" in out
    out, code = console.run("routerctl frobnicate", 60)
    assert code == 2
    assert console.check("routerctl forward list", 60) == before
    assert '"forwarding": true' in console.check("routerctl status", 60)
