"""The processes a router runs next to its datapath: dnsmasq on the LAN, a DHCP client on
the WAN. Each is started by us, remembered by PID and stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from natbox.router.settings import RouterSettings


def run(*args: str) -> None:
    subprocess.run(args, check=True)


def configure_interfaces(lan: str, wan: str, settings: RouterSettings) -> None:
    run("ip", "link", "set", "dev", lan, "up")
    run("ip", "link", "set", "dev", wan, "up")
    if settings.lan_address:
        run("ip", "addr", "replace", settings.lan_address, "dev", lan)
    if settings.wan_mode == "static":
        run("ip", "addr", "replace", settings.wan_address, "dev", wan)
        if settings.wan_gateway:
            run("ip", "route", "replace", "default", "via", settings.wan_gateway, "dev", wan)


def dnsmasq_args(lan: str, settings: RouterSettings, state_dir: str) -> list[str]:
    low_port, high_port = settings.kernel_ports
    args = [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",  # only what we say here, never the host's configuration
        f"--interface={lan}",
        "--bind-interfaces",
        "--except-interface=lo",
        f"--pid-file={state_dir}/dnsmasq.pid",
        f"--dhcp-leasefile={state_dir}/dnsmasq.leases",
        # Upstream queries leave from the kernel's ports, which the NAT pool never uses.
        f"--min-port={low_port}",
        f"--max-port={high_port}",
        "--no-hosts",
        "--log-facility=-",
    ]
    if settings.dhcp_range:
        start, end = settings.dhcp_range
        args.append(f"--dhcp-range={start},{end},{settings.dhcp_lease}")
        args.append("--dhcp-authoritative")
    for mac, address in sorted(settings.dhcp_static.items()):
        args.append(f"--dhcp-host={mac},{address}")
    for name, address in sorted(settings.dns_hosts.items()):
        args.append(f"--host-record={name},{address}")
    if settings.dns_upstream:
        args.append("--no-resolv")
        args.extend(f"--server={server}" for server in settings.dns_upstream)
    else:
        args.append("--no-resolv")
    return args


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
    def __init__(self, lan: str, wan: str, settings: RouterSettings, state_dir: str):
        self.processes: list[subprocess.Popen] = []
        os.makedirs(state_dir, exist_ok=True)
        self.commands = []
        if settings.dhcp_range or settings.dns_hosts or settings.dns_upstream:
            self.commands.append(dnsmasq_args(lan, settings, state_dir))
        if settings.wan_mode == "dhcp":
            self.commands.append(udhcpc_args(wan, state_dir))

    def start(self) -> None:
        for command in self.commands:
            self.processes.append(subprocess.Popen(command, stdout=sys.stderr))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
