"""`natbox` command line entry point."""

from __future__ import annotations

import sys

from natbox.appliance import bootenv_cli
from natbox.appliance import cli as boot_cli
from natbox.argtypes import OneLineParser
from natbox.faults import cli as fault_cli
from natbox.firmware import cli as firmware_cli
from natbox.firmware import flash
from natbox.lab import cli as lab_cli
from natbox.matrix import cli as matrix_cli
from router import cli as router_main
from webui import serve as ui_serve


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="natbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("selfcheck", help="run the NAT engine through a short scripted lab")
    firmware_cli.add_parser(commands)
    flash.add_arguments(
        commands.add_parser("flash", help="push a firmware to a running appliance, follow it")
    )
    router_main.add_arguments(commands.add_parser("router", help="run the datapath (root)"))
    lab_cli.add_arguments(commands.add_parser("lab", help="network-namespace lab (root)"))
    ui_serve.add_arguments(commands.add_parser("ui", help="serve the web UI and REST API"))
    boot_cli.add_arguments(commands.add_parser("boot", help="boot the appliance under QEMU"))
    bootenv_cli.add_arguments(
        commands.add_parser("bootenv", help="print or set the appliance's boot environment")
    )
    fault_cli.add_arguments(
        commands.add_parser("fault", help="power cuts, disk damage, bad firmware: on purpose")
    )
    matrix_cli.add_arguments(
        commands.add_parser("matrix", help="the passthrough matrix with real peers, as a report")
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "router":
        return router_main.run(args)
    if args.command == "lab":
        return lab_cli.run(args)
    if args.command == "ui":
        return ui_serve.run(args)
    if args.command == "selfcheck":
        from natbox.selfcheck import run

        return run(sys.stdout)
    if args.command == "boot":
        return boot_cli.run(args)
    if args.command == "firmware":
        return firmware_cli.run(args)
    if args.command == "flash":
        return flash.run(args)
    if args.command == "bootenv":
        return bootenv_cli.run(args)
    if args.command == "fault":
        return fault_cli.run(args)
    if args.command == "matrix":
        return matrix_cli.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
