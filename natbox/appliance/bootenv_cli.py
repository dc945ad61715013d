"""`natbox bootenv print|set`: the appliance's boot environment on the host, as fw_printenv /
fw_setenv show and change it in the guest (the same file format, router.update.bootenv).
Change it while the appliance is off: the bootloader stage reads it at the next power-on."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from natbox.argtypes import existing_file, refuse

DEFAULT_DISK = Path("build/appliance/disk.img")


def assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) or "\0" in value:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bootenv_command", required=True)
    for name, text in (("print", "print the variables (NAME=VALUE, sorted)"),
                       ("set", "set NAME=VALUE (an empty VALUE removes NAME)")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        p.add_argument("--disk", type=existing_file, default=None,
                       help=f"the appliance's disk (default {DEFAULT_DISK})")  # fmt: skip
        if name == "set":
            p.add_argument("assignments", nargs="+", type=assignment, metavar="NAME=VALUE")


def run(args: argparse.Namespace) -> int:
    from natbox.appliance import disk
    from router.update.bootenv import EnvError

    prog = f"natbox bootenv {args.bootenv_command}"
    path = args.disk or DEFAULT_DISK
    if not path.is_file():
        return refuse(prog, f"argument --disk: {path} does not exist (boot once, or name one)")
    env = disk.environment(path)
    try:
        variables = env.load()
        if args.bootenv_command == "set":
            for name, value in args.assignments:
                if value:
                    variables[name] = value
                else:
                    variables.pop(name, None)
            env.save(variables)
    except EnvError as error:
        print(f"{prog}: {error}")
        return 1
    if args.bootenv_command == "print":
        for name in sorted(variables):
            print(f"{name}={variables[name]}")
    return 0
