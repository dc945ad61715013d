"""`natbox lab up|down|status|ctl|serve-firmware`: the host-side commands around
natbox.lab.lab."""

from __future__ import annotations

import argparse
import json
import socket
import sys

from nat.profiles import PROFILES
from natbox.argtypes import PORT, existing_dir, int_in, matching, refuse
from natbox.lab import names
from natbox.lab.lab import Lab, LabOptions, all_lab_ids, remove_lab

# Client N leases 192.168.1.(100+N) from the pool .100-.199.
MAX_CLIENTS = 99
LAB_ID = matching(r"[0-9a-z]{1,8}", "a lab id (1-8 lower-case letters or digits)")
NETEM = matching(r"[a-z0-9]+=.+", "LINK=SPEC")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="lab_command", required=True)
    up = actions.add_parser("up", help="build a lab and start its router")
    up.add_argument("--name", type=LAB_ID, help="lab id (letters/digits, default: random)")
    up.add_argument("--clients", type=int_in(1, MAX_CLIENTS), default=2)
    up.add_argument("--profile", choices=list(PROFILES), default="restricted-cone")
    up.add_argument("--router", choices=("natbox", "kernel"), default="natbox")
    up.add_argument("--offload", choices=("vnet", "off"), default="vnet")
    up.add_argument("--wan-dhcp", action="store_true", help="WAN address by DHCP")
    up.add_argument("--pcap", metavar="DIR", help="capture every link into DIR/LINK.pcap")
    up.add_argument(
        "--netem",
        action="append",
        type=NETEM,
        default=[],
        metavar="LINK=SPEC",
        help='e.g. wan="delay 20ms loss 1%%"; links: c1..cN, lan, wan, inet',
    )
    up.add_argument("--ui-port", type=PORT, help="forward 127.0.0.1:PORT to the router UI")
    up.add_argument(
        "--ui",
        action="store_true",
        help="serve the web UI on 192.168.1.1:80 in the router (forwarded from 127.0.0.1:"
        "--ui-port, a free port if not given)",
    )
    down = actions.add_parser("down", help="remove a lab (or --all of them)")
    down.add_argument("name", nargs="?", type=LAB_ID)
    down.add_argument("--all", action="store_true", help="every natbox lab, even after a crash")
    actions.add_parser("status", help="list labs")
    ctl = actions.add_parser("ctl", help="ask a lab's router (status, counters, mappings...)")
    ctl.add_argument("name", type=LAB_ID)
    ctl.add_argument("cmd")
    fw = actions.add_parser(
        "serve-firmware",
        help="serve a directory of firmware files (with a latest.json for the newest) from the "
        "lab's internet namespace: the update server the router checks",
    )
    fw.add_argument("name", type=LAB_ID)
    fw.add_argument("dir", type=existing_dir, help="directory of *.fw files")
    fw.add_argument("--port", type=PORT, default=8000, help="HTTP port (default 8000)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def netem_links(clients: int) -> set[str]:
    return {"lan", "wan", "inet", *(f"c{i}" for i in range(1, clients + 1))}


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "up":
        netem = dict(item.split("=", 1) for item in args.netem)
        unknown = sorted(set(netem) - netem_links(args.clients))
        if unknown:
            return refuse("natbox lab up", f"argument --netem: no link {unknown[0]!r} "
                          f"(links: c1..c{args.clients}, lan, wan, inet)")  # fmt: skip
        if args.ui and args.router != "natbox":
            return refuse("natbox lab up", "argument --ui: needs --router natbox")
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
            return refuse("natbox lab down", "argument name: name a lab or pass --all")
        for lab_id in all_lab_ids() if args.all else [args.name]:
            remove_lab(lab_id)
            print(f"lab {lab_id} removed")
        return 0
    if args.lab_command == "status":
        for lab_id in all_lab_ids():
            print(lab_id)
        return 0
    prog = f"natbox lab {args.lab_command}"
    if args.name not in all_lab_ids():
        return refuse(prog, f"argument name: no lab {args.name!r} (see natbox lab status)")
    try:
        lab = Lab.load(args.name)
    except FileNotFoundError:  # namespaces left by a crash, no state: only `down` helps
        return refuse(prog, f"argument name: lab {args.name!r} has no state; "
                      f"remove it with natbox lab down {args.name}")  # fmt: skip
    if args.lab_command == "serve-firmware":
        return serve_firmware(lab, args)
    print(json.dumps(lab.ctl(args.cmd), indent=2))
    return 0


def serve_firmware(lab: Lab, args: argparse.Namespace) -> int:
    from natbox.firmware.cli import NoFirmware, warn_to_stderr, write_manifest

    prog = "natbox lab serve-firmware"
    directory = args.dir.resolve()
    try:
        latest = write_manifest(directory, warn_to_stderr(prog))
        url = lab.serve_firmware(str(directory), args.port)
    except NoFirmware as error:
        return refuse(prog, f"argument dir: {error}")
    except (OSError, RuntimeError) as error:  # a read-only DIR, a port in use (see the log)
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    print(f"lab {lab.names.lab_id}: update server in {lab.names.internet} serving {directory}")
    print(f"  latest: {latest['version']} ({latest['file']}, {latest['size']} bytes)")
    print(f"  the router checks: {url}")
    print(f"  e.g. on the appliance: routerctl firmware server-check {url}")
    print(f"  stopped by: natbox lab down {lab.names.lab_id}")
    return 0
