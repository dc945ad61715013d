"""The router daemon: two ports, the engine, the shield and the control socket in one loop.

It runs from the one configuration model (a ``RouterConfig`` file, read again on ``reload``)
through the pure plan (router.plan): the engine, the driver and the services each take their
part on every reload; what only a restart can change is reported as such."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

from nat import LAN, WAN, Engine, Log, NatConfig, NatEngine
from nat.config import ConfigError
from router.control import ControlServer
from router.driver import linkinfo, shield
from router.driver.afpacket import Port, RingPort, arp_port
from router.driver.datapath import Datapath, Side
from router.driver.flows import FlowTable
from router.driver.guard import Guard
from router.driver.neighbours import Neighbours
from router.model import RouterConfig
from router.plan import DeviceFacts, ServicePlan, plan, restart_needed, running_plan
from router.services import ServiceError, Services

TICK = 0.25  # engine timers, ARP retries
LINK_POLL = 1.0  # a DHCP client may change the WAN address under us


def effective_config(
    base: NatConfig, lan: linkinfo.LinkInfo, wan: linkinfo.LinkInfo, kernel_ports: tuple[int, int]
) -> NatConfig:
    """The engine's view: addresses as the kernel has them and a NAT pool below the kernel's
    ephemeral ports. (MTUs are the driver's: see router.driver.datapath.)"""
    low, high = base.port_range
    changes: dict = {"port_range": (low, min(high, kernel_ports[0] - 1))}
    if lan.address:
        changes["lan_address"], changes["lan_prefix"] = lan.address, lan.prefix
    if wan.address:
        changes["wan_addresses"] = (wan.address,)
    return base.replace(**changes)


def set_offloads(ifname: str, on: bool) -> None:
    state = "on" if on else "off"
    for feature in ("gro", "lro", "tso", "gso", "tx", "rx"):
        subprocess.run(
            ["ethtool", "-K", ifname, feature, state],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def thread_napi(ifname: str) -> bool:
    """Receive polling (NAPI) in a kernel thread, scheduled beside the daemon instead of in
    softirq context ahead of it: under a flood the kernel can then not take every cycle from
    the datapath (receive livelock); what neither takes waits, and is dropped, in the NIC's
    own queue (QEMU's, for the appliance). False where the interface has no NAPI to thread."""
    try:
        with open(f"/sys/class/net/{ifname}/threaded", "w") as f:
            f.write("1\n")
        return True
    except OSError:  # a veth without GRO or XDP, an older kernel
        return False


class Router:
    def __init__(
        self,
        facts: DeviceFacts,
        load_config: Callable[[], RouterConfig],
        control_path: str,
        services: Services,
        vnet: bool = True,
        batch: int = 64,
        ring: bool = True,
    ):
        lan, wan = facts.lan_interface, facts.wan_interface
        self.lan_name, self.wan_name = lan, wan
        self.facts = facts
        self.load_config = load_config
        self.services = services
        self.vnet = vnet
        self.ring = ring
        self.started = time.monotonic()
        self.stopping = False
        # The configuration whose addressing the interfaces have: only a restart changes it.
        self.started_config = load_config()
        self.plan: ServicePlan = plan(self.started_config, facts)
        self.restart_pending: list[str] = []
        self.offload_error: str | None = None  # why the kernel cannot take offloaded flows
        shield.disable_kernel_forwarding()
        shield.reserve_ephemeral_ports(*self.plan.driver.kernel_ports)
        if not vnet:  # the "offloads off" mode: every frame is a plain MTU-sized packet
            set_offloads(lan, False)
            set_offloads(wan, False)
        self.threaded_napi = [name for name in (lan, wan) if thread_napi(name)]
        services.start(self.plan)
        self.lan_info, self.wan_info = linkinfo.read(lan), linkinfo.read(wan)
        self.engine: NatEngine = Engine(self._effective())
        lan_side = self._side(lan, self.lan_info, vnet, ring)
        wan_side = self._side(wan, self.wan_info, vnet, ring)
        self.datapath = Datapath(self.engine, lan_side, wan_side, batch)
        self._apply_addressing()
        self._install_shield()
        self._switch_flow_table()
        self.guard = Guard(lan, wan)
        self.control = ControlServer(control_path, self.handle_request)

    # -- set-up -------------------------------------------------------------------------------

    @staticmethod
    def _side(name: str, info: linkinfo.LinkInfo, vnet: bool, ring: bool) -> Side:
        port = RingPort(name, vnet) if ring else Port(name, vnet)
        return Side(
            name,
            port,
            info.mac,
            info.mtu,
            Neighbours(info.mac, lambda f: port.send(b"\0" * (port.head), f[:14], f[14:])),
            arp_port=arp_port(name),
        )

    def _effective(self) -> NatConfig:
        driver = self.plan.driver
        config = effective_config(self.plan.nat, self.lan_info, self.wan_info, driver.kernel_ports)
        if config.flow_offload and self.offload_error:
            config = config.replace(flow_offload=False)  # the engine offers nothing then
        return config

    def _switch_flow_table(self) -> None:
        """The kernel's flow table exists while flow offloading is on (router.driver.flows).
        A kernel that refuses it leaves every packet to the engine, and says why."""
        datapath, wanted = self.datapath, self.plan.nat.flow_offload
        if wanted and datapath.flows is None and not self.offload_error:
            lan, wan = datapath.sides[LAN], datapath.sides[WAN]
            try:
                datapath.flows = FlowTable(self.lan_name, self.wan_name, lan.mac, wan.mac)
            except OSError as error:
                self.offload_error = str(error)
                print(f"natbox router: no flow offloading: {error}", file=sys.stderr, flush=True)
                self.engine.configure(self._effective(), time.monotonic())
        elif not wanted:
            self.offload_error = None
            if datapath.flows is not None:
                datapath.flows.remove_table()
                datapath.flows = None

    def _apply_addressing(self) -> None:
        lan, wan = self.datapath.sides[LAN], self.datapath.sides[WAN]
        driver = self.plan.driver
        lan.set_addressing(self.lan_info.network(), self.lan_info.address, None)
        lan.mtu = min(driver.lan_mtu, self.lan_info.mtu)
        wan.set_addressing(self.wan_info.network(), self.wan_info.address, self.wan_info.gateway)
        wan.mtu = min(driver.wan_mtu, self.wan_info.mtu)
        self.datapath.enabled = self.wan_info.address is not None

    def _install_shield(self) -> None:
        config = self.engine.config
        pools = [config.low_port_range, config.port_range]
        network = self.lan_info.network()
        text = shield.ruleset(
            self.lan_name,
            self.wan_name,
            pools,
            self.lan_info.address or "0.0.0.0",
            str(network.broadcast_address) if network else "255.255.255.255",
        )
        shield.install(text, self.lan_name, self.wan_name)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        sides = self.datapath.sides
        lan_fd, wan_fd = sides[LAN].port.fileno(), sides[WAN].port.fileno()
        arp_fds = {sides[LAN].arp_port.fileno(): LAN, sides[WAN].arp_port.fileno(): WAN}
        control_fd = self.control.sock.fileno()
        poller = select.epoll()
        for fd in (lan_fd, wan_fd, control_fd, *arp_fds):
            poller.register(fd, select.EPOLLIN)
        pump = self.datapath.pump
        next_tick = next_poll = time.monotonic()
        try:
            while not self.stopping:
                try:
                    ready = poller.poll(TICK)
                except InterruptedError:
                    continue
                now = time.monotonic()
                for fd, _ in ready:
                    if fd == lan_fd:
                        pump(LAN, now)
                    elif fd == wan_fd:
                        pump(WAN, now)
                    elif fd in arp_fds:
                        self.datapath.pump_arp(arp_fds[fd], now)
                    elif fd == control_fd:
                        conn = self.control.accept()
                        if conn is not None:
                            poller.register(conn.fileno(), select.EPOLLIN)
                    elif fd in self.control.clients:
                        self.control.serve(fd)  # a closed client leaves epoll by itself
                if now >= next_tick:
                    next_tick = now + TICK
                    self._tick(now)
                    # A ring can hold frames that epoll did not report (it only looks at
                    # the slot before the kernel's head): look at both rings once a tick.
                    pump(LAN, now)
                    pump(WAN, now)
                if now >= next_poll:
                    next_poll = now + LINK_POLL
                    self._poll_links(now)
                    self._guard_second()
                flows = self.datapath.flows
                if flows is not None and flows.pending:
                    flows.commit()  # what this wake-up offloaded and withdrew, in one go
        finally:
            self.close()

    def _tick(self, now: float) -> None:
        flows = self.datapath.flows
        if flows is not None and self.engine.offload_due(now):
            # Before the engine expires anything: offloaded traffic refreshes its sessions.
            self.engine.offload_activity(flows.counts(), now)
        self.datapath.act(self.engine.advance(now), now)
        for side in self.datapath.sides.values():
            side.neighbours.tick(now)
        self.datapath.flush()  # the ARP requests the neighbours just asked for

    def _guard_second(self) -> None:
        """The guard's look at the last second (router.driver.guard)."""
        datapath = self.datapath
        ports = [side.port for side in datapath.sides.values()]
        handled = sum(port.rx_frames for port in ports)
        dropped = sum(port.kernel_drops for port in ports)
        count = self.guard.second(handled, dropped, datapath.sources)
        datapath.sources = Counter() if count else None

    def _poll_links(self, now: float) -> None:
        lan, wan = linkinfo.read(self.lan_name), linkinfo.read(self.wan_name)
        if (lan, wan) != (self.lan_info, self.wan_info):
            self.lan_info, self.wan_info = lan, wan
            self._reconfigure(now, "link changed")

    def _reconfigure(self, now: float, reason: str) -> bool:
        """Apply the config; True when the engine flushed its mapping table."""
        self._apply_addressing()
        actions = self.engine.configure(self._effective(), now)
        self.datapath.act(actions, now)
        self._install_shield()
        self._switch_flow_table()
        print(f"natbox router: reconfigured ({reason})", file=sys.stderr, flush=True)
        return any(
            isinstance(a, Log) and a.event == "config_applied" and a.fields.get("flushed")
            for a in actions
        )

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def close(self) -> None:
        shield.remove(self.lan_name, self.wan_name)
        self.guard.remove()
        if self.datapath.flows is not None:
            self.datapath.flows.remove_table()
        self.control.close()
        for side in self.datapath.sides.values():
            side.port.close()
            if side.arp_port is not None:
                side.arp_port.close()

    # -- the control socket -------------------------------------------------------------------

    def handle_request(self, request: dict) -> dict:
        cmd = request.get("cmd")
        now = time.monotonic()
        if cmd == "status":
            return {"ok": True, **self.status(now)}
        if cmd == "counters":
            return {
                "ok": True,
                "engine": dict(self.engine.counters.snapshot()),
                "driver": {
                    **self.datapath.snapshot_counters(),
                    "guard_shed": self.guard.shed,
                    "guard_limit_pps": self.guard.limit or 0,
                    **(
                        {"guard_unavailable": self.guard.unavailable}
                        if self.guard.unavailable
                        else {}
                    ),
                },
            }
        if cmd == "mappings":
            return {"ok": True, "mappings": self.engine.snapshot()}
        if cmd == "neighbours":
            sides = self.datapath.sides
            return {"ok": True, **{n: s.neighbours.snapshot() for n, s in sides.items()}}
        if cmd == "events":
            return {"ok": True, "events": list(self.datapath.events)}
        if cmd == "reload":
            return self.reload(now)
        if cmd == "vpn_sessions":
            return {"ok": True, "sessions": self.engine.vpn_sessions(now)}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def reload(self, now: float) -> dict:
        """Read the configuration again and give every service its part of the new plan."""
        try:
            config = self.load_config()
            new_plan = running_plan(self.started_config, config, self.facts)
            self.services.check(new_plan)  # a service that would refuse it: nothing changes
        except (ConfigError, OSError, ServiceError) as error:
            return {"ok": False, "error": f"{error}; the running configuration stays"}
        self.plan = new_plan
        self.restart_pending = restart_needed(self.started_config, config)
        flushed = self._reconfigure(now, "reload")
        try:
            applied = self.services.apply(new_plan)
        except (OSError, ServiceError) as error:  # e.g. dnsmasq could not be started
            return {"ok": False, "error": f"the engine took the configuration, but {error}"}
        return {
            "ok": True,
            "profile": new_plan.nat.profile,
            "flushed": flushed,
            "applied": applied,
            "restart_required": self.restart_pending,
        }

    def _offload_state(self) -> str:
        if not self.plan.nat.flow_offload:
            return "off"
        return f"unavailable: {self.offload_error}" if self.offload_error else "on"

    def status(self, now: float) -> dict:
        config = self.engine.config
        return {
            "lan": {"interface": self.lan_name, "address": self.lan_info.address},
            "wan": {
                "interface": self.wan_name,
                "address": self.wan_info.address,
                "gateway": self.wan_info.gateway,
            },
            "profile": config.profile,
            "port_range": list(config.port_range),
            "kernel_ports": list(self.plan.driver.kernel_ports),
            "offload": "vnet" if self.vnet else "off",
            "io": "ring" if self.ring else "socket",
            "flow_offload": self._offload_state(),
            "threaded_napi": self.threaded_napi,
            "offloaded_flows": self.engine.offloaded_count,
            "forwarding": self.datapath.enabled,
            "mappings": self.engine.mapping_count,
            "uptime": round(now - self.started, 1),
            "restart_required": self.restart_pending,
        }
