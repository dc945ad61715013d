"""Thin wrappers over `ip netns` and friends; every command is checked."""

from __future__ import annotations

import os
import subprocess


def sh(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run(
        args,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else subprocess.PIPE,
    )
    if check and result.returncode:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "-n", ns, *args, check=check)


def exec_args(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


def add(ns: str) -> None:
    sh("ip", "netns", "add", ns)
    ip(ns, "link", "set", "lo", "up")
    # IPv4 only: no IPv6 chatter (router solicitations, DAD) in captures and counters.
    sh(*exec_args(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    sh(*exec_args(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))


def delete(ns: str) -> None:
    sh("ip", "netns", "del", ns, check=False, quiet=True)


def pids(ns: str) -> list[int]:
    result = sh("ip", "netns", "pids", ns, check=False, quiet=True)
    return [int(p) for p in result.stdout.split()]


def names() -> list[str]:
    return [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines() if line]


def veth(switch: str, port: str, ns: str, ifname: str, mac: str | None = None) -> None:
    """A veth pair: ``port`` stays in the switch namespace, ``ifname`` goes into ``ns``."""
    args = ["link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns]
    if mac:
        args[-2:-2] = ["address", mac]
    ip(switch, *args)


def write_file(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
