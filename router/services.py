"""The services a router runs next to its datapath, each applying its part of the plan
(router.plan): the interfaces' addresses, dnsmasq (DHCP and DNS on the LAN), a DHCP client on
the WAN, the hostname. Processes are started by us, remembered by PID and stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

from router.plan import Addressing, DeviceFacts, LanServices, ServicePlan


def run(*args: str) -> None:
    subprocess.run(args, check=True)


def configure_interfaces(facts: DeviceFacts, addressing: Addressing) -> None:
    lan, wan = facts.lan_interface, facts.wan_interface
    run("ip", "link", "set", "dev", lan, "up")
    run("ip", "link", "set", "dev", wan, "up")
    run("ip", "addr", "replace", addressing.lan, "dev", lan)
    if addressing.wan_mode == "static" and addressing.wan:
        run("ip", "addr", "replace", addressing.wan, "dev", wan)
        if addressing.wan_gateway:
            run("ip", "route", "replace", "default", "via", addressing.wan_gateway, "dev", wan)


def dnsmasq_conf(lan: LanServices, state_dir: str) -> str:
    """dnsmasq's whole configuration (we never read the host's /etc/dnsmasq.conf)."""
    low_port, high_port = lan.query_ports
    lines = [
        f"interface={lan.interface}",
        "bind-interfaces",
        "except-interface=lo",
        f"pid-file={state_dir}/dnsmasq.pid",
        f"dhcp-leasefile={state_dir}/dnsmasq.leases",
        # Upstream queries leave from the kernel's ports, which the NAT pool never uses;
        # dnsmasq picks a random one for each query and random query IDs.
        f"min-port={low_port}",
        f"max-port={high_port}",
        f"user={lan.user}",
        "no-hosts",
        "no-resolv",
        "log-facility=-",
        # Names of the LAN's own domain are answered here, never sent upstream, and neither
        # are plain names or reverse lookups of private addresses.
        f"domain={lan.domain}",
        f"local=/{lan.domain}/",
        "domain-needed",
        "bogus-priv",
    ]
    if lan.pool is not None:
        pool = lan.pool
        lines.append(f"dhcp-range={pool.first},{pool.last},{pool.netmask},{pool.lease_time}")
        lines.append("dhcp-authoritative")
        lines.append(f"dhcp-option=option:router,{lan.address}")
        lines.append(f"dhcp-option=option:dns-server,{lan.address}")
        lines.extend(f"dhcp-host={mac},{address}" for mac, address in lan.static_leases)
    lines.extend(f"host-record={name},{address}" for name, address in lan.hosts)
    lines.extend(f"server={server}" for server in lan.upstreams)
    return "\n".join(lines) + "\n"


def dnsmasq_command(conf_path: str) -> list[str]:
    return ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf_path}"]


def dnsmasq_test_command(conf_path: str) -> list[str]:
    return ["dnsmasq", "--test", f"--conf-file={conf_path}"]


class ServiceError(RuntimeError):
    """A service refused its part of the plan; the running one is left as it was."""


def stop_process(process: subprocess.Popen, timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LanServer:
    """dnsmasq, restarted when its configuration changes (it re-reads only its host files on
    SIGHUP, not its DHCP ranges); the lease file carries the leases across the restart."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.conf_path = os.path.join(state_dir, "dnsmasq.conf")
        self.candidate_path = self.conf_path + ".new"
        self.process: subprocess.Popen | None = None
        self.conf = ""  # what the running dnsmasq reads
        self.checked = ""  # what dnsmasq --test passed, waiting in candidate_path

    def check(self, lan: LanServices) -> None:
        """Ask dnsmasq whether it takes this configuration, before anything is stopped (once
        per text: the daemon checks a reload first, then applies it)."""
        conf = dnsmasq_conf(lan, self.state_dir)
        if conf in (self.conf, self.checked):
            return
        with open(self.candidate_path, "w") as f:
            f.write(conf)
        test = subprocess.run(
            dnsmasq_test_command(self.candidate_path), capture_output=True, text=True, check=False
        )
        if test.returncode != 0:
            raise ServiceError(f"dnsmasq refused its configuration: {test.stderr.strip()}")
        self.checked = conf

    def apply(self, lan: LanServices) -> bool:
        """Run dnsmasq with this configuration; True when it was (re)started."""
        conf = dnsmasq_conf(lan, self.state_dir)
        if conf == self.conf and self.process is not None and self.process.poll() is None:
            return False
        self.check(lan)  # raises before the running one is touched
        if conf != self.checked:  # the running text, for a dnsmasq that stopped
            with open(self.candidate_path, "w") as f:
                f.write(conf)
        os.replace(self.candidate_path, self.conf_path)
        self.checked = ""
        self.stop()  # the old one must free port 53 and the DHCP socket first
        self.process = subprocess.Popen(dnsmasq_command(self.conf_path), stdout=sys.stderr)
        self.conf = conf
        return True

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


# udhcpc calls this with the lease in its environment: configure the WAN as a router does.
# It never touches resolv.conf: the router's DNS upstreams come from its own configuration.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
    deconfig) ip -4 addr flush dev "$interface" ;;
    bound|renew)
        ip addr replace "$ip/${mask:-24}" dev "$interface"
        if [ -n "$router" ]; then
            set -- $router
            ip route replace default via "$1" dev "$interface"
        fi ;;
esac
exit 0
"""


def udhcpc_args(wan: str, state_dir: str) -> list[str]:
    script = os.path.join(state_dir, "udhcpc-script.sh")
    with open(script, "w") as f:
        f.write(UDHCPC_SCRIPT)
    os.chmod(script, 0o755)
    return [
        "udhcpc",
        "-f",  # foreground: we own the process
        "-i",
        wan,
        "-s",
        script,
        "-p",
        f"{state_dir}/udhcpc.pid",
        "-t",
        "10",
        "-T",
        "1",
    ]


class Services:
    """Everything but the datapath, applied from the plan at start and on every reload."""

    def __init__(self, facts: DeviceFacts, state_dir: str):
        os.makedirs(state_dir, exist_ok=True)
        self.facts = facts
        self.state_dir = state_dir
        self.lan = LanServer(state_dir)
        self.wan_client: subprocess.Popen | None = None

    def start(self, plan: ServicePlan) -> None:
        configure_interfaces(self.facts, plan.addressing)
        if plan.addressing.wan_mode == "dhcp":
            command = udhcpc_args(self.facts.wan_interface, self.state_dir)
            self.wan_client = subprocess.Popen(command, stdout=sys.stderr)
        self.apply(plan)

    def check(self, plan: ServicePlan) -> None:
        """Raises ServiceError when a service would refuse its part of ``plan``."""
        self.lan.check(plan.lan_services)

    def apply(self, plan: ServicePlan) -> list[str]:
        """The parts that a running router takes live; returns what changed."""
        changed = []
        if self.lan.apply(plan.lan_services):
            changed.append("dnsmasq")
        if plan.hostname is not None and plan.hostname != socket.gethostname():
            socket.sethostname(plan.hostname)
            changed.append("hostname")
        return changed

    def stop(self) -> None:
        self.lan.stop()
        if self.wan_client is not None:
            stop_process(self.wan_client)
            self.wan_client = None
