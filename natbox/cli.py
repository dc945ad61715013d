"""`natbox` command line entry point."""

from __future__ import annotations

import argparse
import sys

from natbox.firmware import cli as firmware_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="natbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("selfcheck", help="run the NAT engine through a short scripted lab")
    firmware_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "selfcheck":
        from natbox.selfcheck import run

        return run(sys.stdout)
    if args.command == "firmware":
        return firmware_cli.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
