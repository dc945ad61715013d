"""Keep the kernel away from NAT traffic in the router's own network namespace.

The packet sockets take their copy of a frame before the kernel's IP layer does, so nftables
can drop NAT traffic at IP prerouting without hiding it from the datapath (not at ingress,
which comes before the sockets and is where offloaded flows are forwarded):

- WAN: TCP/UDP to NAT ports and protocols 47/50/51 (GRE, ESP, AH) would otherwise make the
  kernel answer with RSTs or ICMP unreachables for flows it knows nothing about;
- LAN: packets passing through (not addressed to the router) would otherwise go up the
  kernel's stack only to be dropped again.

The kernel's own ephemeral ports (its DHCP/DNS clients) get a range the NAT pool excludes.
"""

from __future__ import annotations

import re
import subprocess

EPHEMERAL_SYSCTL = "/proc/sys/net/ipv4/ip_local_port_range"


def table_name(lan: str, wan: str) -> str:
    return "natbox_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{lan}_{wan}")


def ruleset(
    lan: str, wan: str, nat_ports: list[tuple[int, int]], lan_address: str, lan_broadcast: str
) -> str:
    ports = ", ".join(f"{lo}-{hi}" for lo, hi in nat_ports)
    return f"""
table ip {table_name(lan, wan)} {{
    chain wan_in {{
        udp sport 67 udp dport 68 accept comment "the router's own DHCP client"
        tcp dport {{ {ports} }} drop comment "NAT ports belong to the datapath"
        udp dport {{ {ports} }} drop
        ip protocol {{ 47, 50, 51 }} drop comment "GRE, ESP, AH belong to the datapath"
    }}
    chain lan_in {{
        ip daddr != {{ {lan_address}, {lan_broadcast}, 255.255.255.255, 224.0.0.0/4 }} drop
    }}
    chain prerouting {{
        type filter hook prerouting priority -500; policy accept;
        iifname vmap {{ "{wan}" : jump wan_in, "{lan}" : jump lan_in }}
    }}
}}
"""


def install(text: str, lan: str, wan: str) -> None:
    remove(lan, wan)
    subprocess.run(["nft", "-f", "-"], input=text, text=True, check=True)


def remove(lan: str, wan: str) -> None:
    subprocess.run(
        ["nft", "delete", "table", "ip", table_name(lan, wan)],
        stderr=subprocess.DEVNULL,
        check=False,
    )


def reserve_ephemeral_ports(low: int, high: int) -> None:
    with open(EPHEMERAL_SYSCTL, "w") as f:
        f.write(f"{low} {high}\n")


def disable_kernel_forwarding() -> None:
    """The datapath forwards; the kernel must not forward the same packets a second time."""
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("0\n")
