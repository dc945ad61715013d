"""`natbox router --lan IFACE --wan IFACE [--config FILE]`: run the datapath in this netns."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from nat.driver.daemon import Router
from natbox.router import services, settings

STATE_ROOT = "/run/natbox"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lan", required=True, help="LAN interface (clients, DHCP, DNS)")
    parser.add_argument("--wan", required=True, help="WAN interface (towards the internet)")
    parser.add_argument(
        "--config", help="router configuration file (JSON): settings.py's format or the web UI's"
    )
    parser.add_argument(
        "--site", help="with a web UI --config: static leases, DNS hosts, kernel ports (JSON)"
    )
    parser.add_argument("--control", help="control socket path (default under /run/natbox)")
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
    parser.add_argument("--batch", type=int, default=64, help="frames handled per wake-up")


def run(args: argparse.Namespace) -> int:
    try:
        config = settings.load(args.config, args.site)
    except (OSError, ValueError) as error:
        print(f"natbox router: {error}", file=sys.stderr)
        return 2
    own_state = args.state_dir is None  # a directory we made is removed when we stop
    state_dir = args.state_dir or os.path.join(
        STATE_ROOT, f"router-{args.lan}-{args.wan}-{os.getpid()}"
    )
    control = args.control or os.path.join(STATE_ROOT, f"router-{args.lan}-{args.wan}.sock")
    services.configure_interfaces(args.lan, args.wan, config)
    helpers = services.Services(args.lan, args.wan, config, state_dir)

    def load_config():
        return settings.load(args.config, args.site).nat_config()

    router = Router(
        args.lan,
        args.wan,
        load_config,
        control,
        kernel_ports=config.kernel_ports,
        vnet=args.offload == "vnet",
        batch=args.batch,
        ring=args.io == "ring",
    )
    helpers.start()
    print(f"natbox router: {args.lan} <-> {args.wan}, control {control}", file=sys.stderr)
    sys.stderr.flush()
    try:
        router.run()
    finally:
        helpers.stop()
        if own_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0
