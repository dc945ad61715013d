"""`natbox lab up|down|status|ctl`: the host-side commands around natbox.lab.lab."""

from __future__ import annotations

import argparse
import json
import socket

from natbox.lab import names
from natbox.lab.lab import Lab, LabOptions, all_lab_ids, remove_lab


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="lab_command", required=True)
    up = actions.add_parser("up", help="build a lab and start its router")
    up.add_argument("--name", help="lab id (letters/digits, default: random)")
    up.add_argument("--clients", type=int, default=2)
    up.add_argument("--profile", default="restricted-cone")
    up.add_argument("--router", choices=("natbox", "kernel"), default="natbox")
    up.add_argument("--offload", choices=("vnet", "off"), default="vnet")
    up.add_argument("--wan-dhcp", action="store_true", help="WAN address by DHCP")
    up.add_argument("--pcap", metavar="DIR", help="capture every link into DIR/LINK.pcap")
    up.add_argument(
        "--netem",
        action="append",
        default=[],
        metavar="LINK=SPEC",
        help='e.g. wan="delay 20ms loss 1%%"; links: c1..cN, lan, wan, inet',
    )
    up.add_argument("--ui-port", type=int, help="forward 127.0.0.1:PORT to the router UI")
    up.add_argument(
        "--ui",
        action="store_true",
        help="serve the web UI on 192.168.1.1:80 in the router (forwarded from 127.0.0.1:"
        "--ui-port, a free port if not given)",
    )
    down = actions.add_parser("down", help="remove a lab (or --all of them)")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="every natbox lab, even after a crash")
    actions.add_parser("status", help="list labs")
    ctl = actions.add_parser("ctl", help="ask a lab's router (status, counters, mappings...)")
    ctl.add_argument("name")
    ctl.add_argument("cmd")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "up":
        netem = dict(item.split("=", 1) for item in args.netem)
        options = LabOptions(
            clients=args.clients,
            profile=args.profile,
            router=args.router,
            offload=args.offload,
            wan_dhcp=args.wan_dhcp,
            pcap_dir=args.pcap,
            netem=netem,
            ui_port=args.ui_port or (_free_port() if args.ui else None),
            ui=args.ui,
        )
        if args.ui and args.router != "natbox":
            print("natbox lab up: --ui needs --router natbox (the UI talks to its daemon)")
            return 2
        lab = Lab(args.name or names.new_id(), options).up()
        n = lab.names
        print(f"lab {n.lab_id} up: router {n.router}, internet {n.internet}, switch {n.switch}")
        for i in range(1, args.clients + 1):
            print(f"  client {n.client(i)}: {names.client_address(i)}")
        print(f"  servers: {', '.join(names.SERVERS)} (internet), control {lab.control_path}")
        print(f"  run things with: ip netns exec {n.client(1)} COMMAND")
        if options.ui:
            print(
                f"  web UI: http://{names.ROUTER_LAN}/ (LAN), http://127.0.0.1:{options.ui_port}/"
            )
        return 0
    if args.lab_command == "down":
        if not args.all and not args.name:
            print("natbox lab down: name a lab or pass --all")
            return 2
        for lab_id in all_lab_ids() if args.all else [args.name]:
            remove_lab(lab_id)
            print(f"lab {lab_id} removed")
        return 0
    if args.lab_command == "status":
        for lab_id in all_lab_ids():
            print(lab_id)
        return 0
    print(json.dumps(Lab.load(args.name).ctl(args.cmd), indent=2))
    return 0
