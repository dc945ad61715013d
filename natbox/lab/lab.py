"""Build and tear down one lab: N clients -- LAN bridge -- router -- WAN bridge -- internet."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from natbox.lab import names as N
from natbox.lab import netns
from natbox.lab.forward import socket_in
from router import control, edits, services
from router.model import RouterConfig
from router.plan import DeviceFacts, plan
from router.store import ConfigStore

FIRMWARE_SERVER = "firmware-server"  # its role in the state's pids and its log's name

# The lab router's interfaces; it shares the host's hostname, so it never sets one.
DEVICE = DeviceFacts(lan_interface="lan0", wan_interface="wan0")
ROUTER_WAIT = 15.0  # seconds for the router to forward (a static WAN)
WAN_DHCP_WAIT = 60.0  # with its WAN from DHCP, which may retry on a lossy link

CLIENT_DHCP_SCRIPT = """#!/bin/sh
case "$1" in
    bound|renew)
        ip addr replace "$ip/${{mask:-24}}" dev "$interface"
        [ -n "$router" ] && ip route replace default via "${{router%% *}}" dev "$interface"
        : > {resolv}
        for server in $dns; do echo "nameserver $server" >> {resolv}; done ;;
esac
exit 0
"""


@dataclass
class LabOptions:
    clients: int = 2
    profile: str = "restricted-cone"
    router: str = "natbox"  # natbox (the datapath) or kernel (nftables masquerade)
    offload: str = "vnet"
    batch: int = 64  # frames the router handles per wake-up and side
    io: str = "ring"  # ring (PACKET_MMAP) or socket (one recv per frame)
    wan_dhcp: bool = False
    pcap_dir: str | None = None
    netem: dict[str, str] = field(default_factory=dict)  # link -> "delay 20ms loss 1%"
    ui_port: int | None = None  # forward 127.0.0.1:PORT to the router's LAN address, port 80
    ui: bool = False  # serve the web UI (live backend) on the router's LAN address, port 80
    nat: dict = field(default_factory=dict)  # extra NatConfig settings


class Lab:
    # The switch's port towards each link users name (--netem, impair).
    LINKS = {"lan": "rl", "wan": "rw", "inet": "in"}

    def __init__(self, lab_id: str, options: LabOptions, owner: int | None = None):
        """``owner``: the PID of the process the lab lives and dies with (a test session); a
        lab whose owner is gone is an orphan that ``remove_orphans`` removes."""
        self.names = N.LabNames(lab_id)
        self.options = options
        self.owner = owner
        self.pids: dict[str, int] = {}
        self.impairments: list[tuple[str, str]] = []  # (kind, switch port), to undo
        self.attached: list[dict[str, str]] = []  # host interfaces put on the LAN bridge

    # -- state --------------------------------------------------------------------------------

    @property
    def state_file(self) -> str:
        return os.path.join(self.names.state_dir, "state.json")

    @property
    def control_path(self) -> str:
        return os.path.join(self.names.state_dir, "router.sock")

    @property
    def config_path(self) -> str:
        """The router's configuration (RouterConfig): daemon, web UI and API share it."""
        return os.path.join(self.names.state_dir, "running.json")  # routerctl's name for it

    @property
    def leases_path(self) -> str:
        return os.path.join(self.names.state_dir, "router-state", "dnsmasq.leases")

    def save(self) -> None:
        state = {"id": self.names.lab_id, "options": asdict(self.options), "pids": self.pids,
                 "owner": self.owner, "attached": self.attached}  # fmt: skip
        netns.write_file(self.state_file, json.dumps(state, indent=2))

    @classmethod
    def load(cls, lab_id: str) -> Lab:
        with open(N.LabNames(lab_id).state_dir + "/state.json") as f:
            state = json.load(f)
        lab = cls(lab_id, LabOptions(**state["options"]), state.get("owner"))
        lab.pids = state["pids"]
        lab.attached = state.get("attached", [])
        return lab

    # -- running things -----------------------------------------------------------------------

    def run(self, ns: str, *args: str, check: bool = True, timeout: float = 60):
        return subprocess.run(
            netns.exec_args(ns, *args),
            check=check,
            text=True,
            capture_output=True,
            timeout=timeout,
        )

    def python(self, ns: str, module: str, *args: str, timeout: float = 30) -> dict:
        """Run ``python -m module args`` in ``ns``; returns the JSON it printed last."""
        result = self.run(ns, sys.executable, "-m", module, *args, timeout=timeout)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def spawn(self, role: str, ns: str | None, *args: str) -> subprocess.Popen:
        log = open(os.path.join(self.names.state_dir, f"{role}.log"), "ab")  # noqa: SIM115
        command = netns.exec_args(ns, *args) if ns else list(args)
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.pids[role] = process.pid
        self.save()
        return process

    def stop(self, role: str, timeout: float = 5.0) -> None:
        pid = self.pids.pop(role, None)
        if pid is not None:
            _terminate(pid, timeout)
            self.save()

    def ctl(self, cmd: str, **fields) -> dict:
        return control.request(self.control_path, cmd, **fields)

    def edit(self, edit, *args) -> dict:
        """Change the router's configuration the way the web UI and routerctl do: an edit of
        router.edits on the stored configuration, saved, then the daemon's ``reload``."""
        store = ConfigStore(self.config_path)
        store.save(edit(store.load(), *args))
        return self.ctl("reload")

    def switch_helper(self, name: str, enabled: bool) -> dict:
        return self.edit(edits.switch_helpers, {name: enabled})

    # -- up -----------------------------------------------------------------------------------

    def up(self) -> Lab:
        if self.options.ui and self.options.router != "natbox":
            raise ValueError("the web UI needs the natbox router (its control socket)")
        os.makedirs(self.names.state_dir, exist_ok=True)
        self.save()  # first, so that `down` finds a half-built lab
        try:
            self._build()
        except BaseException:
            self._dump_logs()
            self.down()
            raise
        return self

    def _build(self) -> None:
        n, o = self.names, self.options
        clients = [n.client(i) for i in range(1, o.clients + 1)]
        for ns in [n.switch, n.router, n.internet, *clients]:
            netns.add(ns)
            # Never the host's resolvers from inside a lab (lookups would hang, then leak):
            # clients get the router's DNS from DHCP, the rest nothing.
            netns.write_file(f"/etc/netns/{ns}/resolv.conf", "")
        self._switch(clients)
        self._internet()
        if o.pcap_dir:
            self._captures()
        for link, spec in o.netem.items():
            self.impair(link, spec)
        if o.offload == "off":  # the whole lab sends MTU-sized frames with full checksums
            for ns, ifname in [(c, "eth0") for c in clients] + [(n.internet, "eth0")]:
                self.run(ns, "ethtool", "-K", ifname, "tso", "off", "gso", "off", "tx", "off",
                         check=False)  # fmt: skip
        if o.router == "natbox":
            self.start_router()
        else:
            self._kernel_router()
        self._leases(clients)
        if o.ui:
            self.start_ui()
        if o.ui_port:
            self.spawn(
                "ui-forward",
                None,
                sys.executable,
                "-m",
                "natbox.lab.forward",
                str(o.ui_port),
                n.router,
                N.ROUTER_LAN,
                "80",
            )

    def impair(self, link: str, spec: str) -> None:
        """netem on the switch port towards ``link``; kernels without sch_netem (like this
        machine's) get delay from a userspace delay line and loss from nftables instead.
        A link's earlier impairment is replaced; ``clear_impairments`` undoes them all."""
        sw, port = self.names.switch, self.LINKS.get(link, link)
        if netns.ip(sw, "link", "show", port, check=False).returncode:
            raise RuntimeError(f"netem on {link!r}: no such link; expected one of "
                               f"{', '.join(self.LINKS)}")  # fmt: skip
        self.clear_impairments(port)
        tc = netns.sh("tc", "-n", sw, "qdisc", "replace", "dev", port, "root", "netem",
                      *spec.split(), check=False)  # fmt: skip
        if tc.returncode == 0:
            self.impairments.append(("netem", port))
            return
        if "unknown" not in tc.stderr:
            raise RuntimeError(f"netem {spec!r} on {link}: {tc.stderr.strip()}")
        words = spec.split()
        impairments = dict(zip(words[::2], words[1::2], strict=False))
        if len(words) % 2 or set(impairments) - {"delay", "loss"}:
            raise RuntimeError(f"netem {spec!r} on {link}: without sch_netem only "
                               "'delay Nms' and 'loss N%' are emulated")  # fmt: skip
        bridge_port = port
        if "delay" in impairments:
            self.impairments.append(("delay", port))  # first: a half-made line is undone too
            bridge_port = self._delay_line(port, float(impairments["delay"].removesuffix("ms")))
        if "loss" in impairments:
            self.impairments.append(("loss", port))
            self._loss(bridge_port, impairments["loss"])

    def clear_impairments(self, port: str | None = None) -> None:
        """Undo the impairments (of the link behind ``port`` only, when given), newest
        first; each one as far as it got."""
        keep = []
        for kind, where in reversed(self.impairments):
            if port is not None and where != port:
                keep.append((kind, where))
            else:
                self._undo(kind, where)
        self.impairments = keep[::-1]

    def _undo(self, kind: str, port: str) -> None:
        sw = self.names.switch
        if kind == "netem":
            netns.sh("tc", "-n", sw, "qdisc", "del", "dev", port, "root", check=False,
                     quiet=True)  # fmt: skip
        elif kind == "loss":  # on the port, or on the delay line's bridge end
            for table in (f"nbx_loss_{port}", f"nbx_loss_{f'e{port}'[:15]}"):
                self.run(sw, "nft", "delete", "table", "bridge", table, check=False)
        else:  # the delay line: its process, its spare veth, the port back on its bridge
            self.stop(f"delay-{port}")
            shown = netns.ip(sw, "-j", "link", "show", f"e{port}"[:15], check=False)
            bridge = json.loads(shown.stdout)[0].get("master") if shown.returncode == 0 else None
            netns.ip(sw, "link", "del", f"d{port}"[:15], check=False)
            netns.ip(sw, "link", "set", port, "master", bridge or _bridge_of(port), check=False)

    def _delay_line(self, port: str, delay_ms: float) -> str:
        """Put a userspace delay line (natbox.lab.delay) between the port and its bridge."""
        sw = self.names.switch
        bridge = json.loads(netns.ip(sw, "-j", "link", "show", port).stdout)[0]["master"]
        spare, spare_peer = f"d{port}"[:15], f"e{port}"[:15]
        netns.ip(sw, "link", "set", port, "nomaster")
        netns.ip(sw, "link", "add", spare, "type", "veth", "peer", "name", spare_peer)
        netns.ip(sw, "link", "set", spare_peer, "master", bridge, "up")
        for ifname in (port, spare):
            netns.ip(sw, "link", "set", ifname, "up", "promisc", "on")
        self.spawn(f"delay-{port}", sw, sys.executable, "-m", "natbox.lab.delay", port, spare,
                   str(delay_ms))  # fmt: skip
        return spare_peer  # the bridge's port towards the link now

    def _loss(self, port: str, percent: str) -> None:
        sw = self.names.switch
        per_mille = round(float(percent.rstrip("%")) * 10)
        # numgen's range is 0-999: nft refuses "< 1000", so all of it is a plain drop.
        chance = "" if per_mille >= 1000 else f"numgen random mod 1000 < {per_mille} "
        ruleset = (
            f"table bridge nbx_loss_{port} {{\n chain forward {{\n"
            "  type filter hook forward priority 0; policy accept;\n"
            f'  oifname "{port}" ether type ip {chance}drop\n }}\n}}\n'
        )
        subprocess.run(netns.exec_args(sw, "nft", "-f", "-"), input=ruleset, text=True, check=True)

    def _dump_logs(self) -> None:
        """A failed build is torn down: show its processes' logs first."""
        state = self.names.state_dir
        for name in sorted(os.listdir(state)) if os.path.isdir(state) else []:
            if name.endswith(".log"):
                with open(os.path.join(state, name), errors="replace") as f:
                    tail = f.readlines()[-20:]
                print(f"--- {name}\n{''.join(tail)}", file=sys.stderr)

    def _switch(self, clients: list[str]) -> None:
        sw = self.names.switch
        netns.sh(
            *netns.exec_args(
                sw,
                "sh",
                "-c",
                "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e $f ] && echo 0 > $f; "
                "done; true",
            )
        )
        for bridge in ("brlan", "brwan"):
            netns.ip(sw, "link", "add", bridge, "type", "bridge")
            netns.ip(sw, "link", "set", bridge, "up")
        links = [(f"c{i}", ns, "eth0", N.client_mac(i), "brlan") for i, ns in enumerate(clients, 1)]
        links += [
            ("rl", self.names.router, "lan0", None, "brlan"),
            ("rw", self.names.router, "wan0", None, "brwan"),
            ("in", self.names.internet, "eth0", None, "brwan"),
        ]
        for port, ns, ifname, mac, bridge in links:
            netns.veth(sw, port, ns, ifname, mac)
            netns.ip(sw, "link", "set", port, "master", bridge, "up")
            netns.ip(ns, "link", "set", ifname, "up")

    def _internet(self) -> None:
        inet = self.names.internet
        netns.ip(inet, "addr", "add", f"{N.WAN_GATEWAY}/24", "dev", "eth0")
        for address in N.SERVERS:  # on lo: the servers sit "behind" the internet's gateway
            netns.ip(inet, "addr", "add", f"{address}/32", "dev", "lo")
        # A multi-homed host whose primary address is server1: a program that binds no address
        # (baresip's RTP, gst-rtsp-server's) speaks from the server it was reached at, not from
        # the gateway, which is only the router's next hop.
        netns.ip(inet, "route", "replace", N.WAN_NET, "dev", "eth0", "src", N.SERVERS[0])
        self.spawn("services", inet, sys.executable, "-m", "natbox.lab.testservices", *N.SERVERS)
        if self.options.wan_dhcp:
            self.spawn(
                "wan-dhcp",
                inet,
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--interface=eth0",
                "--bind-interfaces",
                "--port=0",
                "--no-resolv",
                f"--dhcp-range={N.ROUTER_WAN},{N.ROUTER_WAN},10m",
                f"--dhcp-leasefile={self.names.state_dir}/wan.leases",
                f"--pid-file={self.names.state_dir}/wan-dnsmasq.pid",
            )

    def router_config(self, nat: dict | None = None) -> RouterConfig:
        """The lab as the shared configuration model (what the UI shows and edits)."""
        o = self.options
        nat = {"profile": o.profile, **o.nat} if nat is None else nat
        return RouterConfig.from_dict(
            {
                "nat": {"wan_addresses": [N.ROUTER_WAN], **nat},
                "wan": {
                    "mode": "dhcp" if o.wan_dhcp else "static",
                    "prefix": 24,
                    "gateway": N.WAN_GATEWAY,
                    "dns_servers": [],  # the lab has no upstream resolver
                },
                "dhcp": {
                    "first": f"{N.LAN_NET}.100",
                    "last": f"{N.LAN_NET}.199",
                    "lease_time": 3600,
                    "static_leases": [
                        {"mac": N.client_mac(i), "address": N.client_address(i)}
                        for i in range(1, o.clients + 1)
                    ],
                },
                "dns": {
                    "hosts": [
                        {"name": name, "address": address}
                        for name, address in zip(N.SERVER_NAMES, N.SERVERS, strict=True)
                    ]
                },
            }
        )

    def write_router_config(self, nat: dict | None = None) -> None:
        """(Re)write the configuration; ``nat`` replaces the NAT settings and keeps the rest of
        a stored configuration (e.g. the admin password set in the UI)."""
        store = ConfigStore(self.config_path)
        fresh = self.router_config(nat)
        if nat is not None and os.path.exists(self.config_path):
            fresh = store.load().replace(nat=fresh.nat)
        store.save(fresh)

    def start_router(self, wait: float | None = None, keep_config: bool = False) -> None:
        """``keep_config``: a restart, on the stored configuration (the UI's password...)."""
        if not (keep_config and os.path.exists(self.config_path)):
            self.write_router_config()
        o = self.options
        if wait is None:
            # A WAN lease over an impaired link (netem loss) takes rounds of DHCP retries:
            # seconds each, and a lab must not fail for one unlucky round.
            wait = WAN_DHCP_WAIT if o.wan_dhcp else ROUTER_WAIT
        args = ["router", "--lan", "lan0", "--wan", "wan0", "--offload", o.offload]
        args += ["--batch", str(o.batch), "--io", o.io]
        state = os.path.join(self.names.state_dir, "router-state")
        self.spawn("router", self.names.router, sys.executable, "-m", "natbox.cli", *args,
                   "--config", self.config_path, "--control", self.control_path,
                   "--state-dir", state)  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                status = self.ctl("status")
                # With a DHCP WAN the lease lands in two steps (address, then default
                # route): up means both, or the first packets out have no next hop.
                if status["forwarding"] and (status["wan"]["gateway"] or not o.wan_dhcp):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"router did not come up: see {self.names.state_dir}/router.log")

    def stop_router(self) -> None:
        self.stop("router")

    def start_ui(self, wait: float = 20.0) -> None:
        """The web UI next to the daemon, on the router's LAN address: LAN clients reach it
        directly, the host through the ui_port forward."""
        self.spawn("ui", self.names.router, sys.executable, "-m", "webui.serve",
                   "--backend", "live", "--control", self.control_path,
                   "--config", self.config_path, "--leases", self.leases_path,
                   "--host", N.ROUTER_LAN, "--port", "80")  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            sock = socket_in(self.names.router)
            try:
                sock.settimeout(1.0)
                sock.connect((N.ROUTER_LAN, 80))
                return
            except OSError:
                time.sleep(0.2)
            finally:
                sock.close()
        raise RuntimeError(f"web UI did not come up: see {self.names.state_dir}/ui.log")

    def serve_firmware(self, directory: str, port: int, wait: float = 10.0) -> str:
        """An update server in the internet namespace: ``python -m http.server`` serving
        ``directory`` (its latest.json written by the caller) on the first server address; its
        PID is in the lab's state, so `down` stops it. Serving again replaces it. Returns the
        URL the router (netns or appliance) checks."""
        self.stop(FIRMWARE_SERVER)
        address, inet = N.SERVERS[0], self.names.internet
        process = self.spawn(FIRMWARE_SERVER, inet, sys.executable, "-m", "http.server",
                             "--directory", directory, "--bind", address, str(port))  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process.poll() is None:
            sock = socket_in(inet)
            try:
                sock.settimeout(1.0)
                sock.connect((address, port))
                return f"http://{address}:{port}/"
            except OSError:
                time.sleep(0.1)
            finally:
                sock.close()
        self.stop(FIRMWARE_SERVER)
        raise RuntimeError(f"the firmware server did not start on {address}:{port}: see "
                           f"{self.names.state_dir}/{FIRMWARE_SERVER}.log")  # fmt: skip

    def _kernel_router(self) -> None:
        """The reference: the same topology with Linux forwarding and nftables masquerade."""
        r = self.names.router
        netns.ip(r, "addr", "replace", f"{N.ROUTER_LAN}/24", "dev", "lan0")
        netns.ip(r, "addr", "replace", f"{N.ROUTER_WAN}/24", "dev", "wan0")
        netns.ip(r, "route", "replace", "default", "via", N.WAN_GATEWAY)
        self.use_kernel_nat()
        # The same LAN services as the natbox router's: its plan's dnsmasq configuration.
        lan = plan(self.router_config(), DEVICE).lan_services
        conf = os.path.join(self.names.state_dir, "dnsmasq.conf")
        netns.write_file(conf, services.dnsmasq_conf(lan, self.names.state_dir))
        self.spawn("dnsmasq", r, *services.dnsmasq_command(conf))

    def use_kernel_nat(self) -> None:
        r = self.names.router
        self.run(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ruleset = (
            "table ip nbx_masquerade {\n chain post {\n type nat hook postrouting priority 100;\n"
            ' oifname "wan0" masquerade\n }\n}\n'
        )
        subprocess.run(netns.exec_args(r, "nft", "-f", "-"), input=ruleset, text=True, check=True)

    def stop_kernel_nat(self) -> None:
        r = self.names.router
        self.run(r, "nft", "delete", "table", "ip", "nbx_masquerade", check=False)
        self.run(r, "sysctl", "-qw", "net.ipv4.ip_forward=0")

    def _leases(self, clients: list[str]) -> None:
        waiting = []
        for i, ns in enumerate(clients, 1):
            resolv = f"/etc/netns/{ns}/resolv.conf"
            netns.write_file(resolv, "")
            script = os.path.join(self.names.state_dir, f"dhcp-c{i}.sh")
            netns.write_file(script, CLIENT_DHCP_SCRIPT.format(resolv=resolv), 0o755)
            command = netns.exec_args(
                ns, "udhcpc", "-q", "-f", "-n", "-i", "eth0", "-t", "10", "-T", "1", "-s", script
            )
            waiting.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        for process in waiting:
            if process.wait(timeout=60) != 0:
                raise RuntimeError("a LAN client got no DHCP lease")

    def _captures(self) -> None:
        os.makedirs(self.options.pcap_dir, exist_ok=True)
        ports = [f"c{i}" for i in range(1, self.options.clients + 1)] + ["rl", "rw", "in"]
        for port in ports:
            path = os.path.join(self.options.pcap_dir, f"{_link_name(port)}.pcap")
            self.spawn(
                f"pcap-{port}", self.names.switch, "tcpdump", "-q", "-U", "-i", port, "-w", path
            )
        time.sleep(0.5)  # tcpdump needs a moment before the first packet is worth capturing

    # -- down ---------------------------------------------------------------------------------

    def down(self) -> None:
        for role in list(self.pids):
            self.stop(role, timeout=3.0)
        remove_lab(self.names.lab_id)


def _bridge_of(port: str) -> str:
    """Which lab bridge a switch port belongs on: the WAN's ports (the router's WAN, the
    internet) on brwan, the rest on brlan."""
    return "brwan" if port in ("rw", "in", "twan") else "brlan"


def _link_name(port: str) -> str:
    """Links are named after what they connect (what users pass to --netem), ports after
    the switch."""
    return {v: k for k, v in Lab.LINKS.items()}.get(port, port)


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for its disappearance
            done = 0 if os.path.exists(f"/proc/{pid}") else pid
        if done:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def remove_lab(lab_id: str) -> None:
    """Remove everything of one lab, running or crashed: processes in its namespaces (by PID),
    the namespaces (with their veths and bridges), per-namespace files and the state dir."""
    names = N.LabNames(lab_id)
    mine = [ns for ns in netns.names() if ns.startswith(names.ns(""))]
    state_path = names.state_dir + "/state.json"
    if os.path.exists(state_path):  # the host's own interfaces go home first (a tap dies
        with open(state_path) as f:  # with the namespace it is in)
            from natbox.lab.attach import detach_all

            detach_all(names, json.load(f).get("attached", []))
    for ns in mine:
        for pid in netns.pids(ns):
            _terminate(pid, 3.0)
    state = names.state_dir + "/state.json"
    if os.path.exists(state):  # processes outside the namespaces (the UI forward)
        with open(state) as f:
            for pid in json.load(f).get("pids", {}).values():
                if _is_natbox_process(pid):
                    _terminate(pid, 3.0)
    for ns in mine:
        netns.delete(ns)
        shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
    shutil.rmtree(names.state_dir, ignore_errors=True)


def _is_natbox_process(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"natbox" in f.read()
    except OSError:
        return False


def remove_orphans() -> list[str]:
    """Remove the labs whose owner (a test session that was killed) is gone."""
    removed = []
    for lab_id in all_lab_ids():
        try:
            with open(N.LabNames(lab_id).state_dir + "/state.json") as f:
                owner = json.load(f).get("owner")
        except (OSError, ValueError):
            continue
        if owner and not os.path.exists(f"/proc/{owner}"):
            with contextlib.suppress(OSError):  # another session's start removing it too
                remove_lab(lab_id)
                removed.append(lab_id)
    return removed


def all_lab_ids() -> list[str]:
    ids = {m.group(1) for ns in netns.names() if (m := N.NAMESPACE_RE.match(ns))}
    if os.path.isdir(N.STATE_ROOT):
        ids |= {d[4:] for d in os.listdir(N.STATE_ROOT) if d.startswith("lab-")}
    return sorted(ids)
