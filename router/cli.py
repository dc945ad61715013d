"""`natbox router --lan IFACE --wan IFACE --config FILE`: run the datapath in this netns.

FILE is the router's configuration (``router.model.RouterConfig``, as ``router.store``
writes it: the file the web UI, the API and routerctl edit). What the device is (which
interface is LAN and WAN, the kernel's ports, whether it owns the hostname) comes from the
arguments, never from that file.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys

from nat.config import ConfigError
from router import paths
from router.daemon import Router
from router.plan import DeviceFacts
from router.services import Services
from router.store import ConfigStore


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        ports = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH, not {text!r}") from None
    if not 1024 < ports[0] <= ports[1] <= 65535:
        raise argparse.ArgumentTypeError("ports must lie above 1024, low before high")
    return ports


def _batch(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 4096):
        raise argparse.ArgumentTypeError(f"{text!r} is not a batch size (1..4096)")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lan", required=True, help="LAN interface (clients, DHCP, DNS)")
    parser.add_argument("--wan", required=True, help="WAN interface (towards the internet)")
    parser.add_argument(
        "--config", required=True, help="the router configuration (JSON, router.model's)"
    )
    parser.add_argument("--control", help="control socket path (default under /run/natbox)")
    parser.add_argument(
        "--kernel-ports",
        type=_port_range,
        default=DeviceFacts().kernel_ports,
        metavar="LOW-HIGH",
        help="the kernel's ephemeral ports, kept out of the NAT pool (default 61000-65535)",
    )
    parser.add_argument(
        "--set-hostname",
        action="store_true",
        help="this device owns its hostname: apply the configuration's (not in a lab netns)",
    )
    parser.add_argument(
        "--offload",
        choices=("vnet", "off"),
        default="vnet",
        help="vnet: GSO/GRO super-frames and partial checksums via PACKET_VNET_HDR (default);"
        " off: turn the interfaces' offloads off and handle MTU-sized frames",
    )
    parser.add_argument("--state-dir", help="dnsmasq leases, pid files (default: a fresh one)")
    parser.add_argument(
        "--io",
        choices=("ring", "socket"),
        default="ring",
        help="receive through a PACKET_MMAP ring (default) or one recv() per frame",
    )
    parser.add_argument(
        "--batch", type=_batch, default=64, help="frames handled per wake-up (1..4096)"
    )


def run(args: argparse.Namespace) -> int:
    load = functools.partial(ConfigStore(args.config).load, missing_ok=False)
    try:
        load()  # refuse a bad or missing file before touching any interface
    except (OSError, ConfigError) as error:
        print(f"natbox router: {error}", file=sys.stderr)
        return 2
    facts = DeviceFacts(args.lan, args.wan, args.kernel_ports, owns_hostname=args.set_hostname)
    own_state = args.state_dir is None  # a directory we made is removed when we stop
    state_dir = args.state_dir or os.path.join(
        paths.RUN, f"router-{args.lan}-{args.wan}-{os.getpid()}"
    )
    control = args.control or os.path.join(paths.RUN, f"router-{args.lan}-{args.wan}.sock")
    services = Services(facts, state_dir)
    try:
        router = Router(
            facts,
            load,
            control,
            services,
            vnet=args.offload == "vnet",
            batch=args.batch,
            ring=args.io == "ring",
        )
        print(f"natbox router: {args.lan} <-> {args.wan}, control {control}", file=sys.stderr)
        sys.stderr.flush()
        router.run()
    finally:
        services.stop()
        if own_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0
