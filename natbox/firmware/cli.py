"""`natbox firmware build|verify|info`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from natbox.argtypes import existing_dir, existing_file, refuse
from natbox.imagebuild.config import version_arg


def add_parser(commands: argparse._SubParsersAction) -> None:
    fw = commands.add_parser("firmware", help="build, verify or inspect a firmware file")
    sub = fw.add_subparsers(dest="firmware_command", required=True)
    b = sub.add_parser("build", help="build the firmware image (same as `make image`)")
    b.add_argument("--board", default=None, help="board name (image/configs/<board>_defconfig)")
    b.add_argument(
        "--tree", type=existing_dir, default=Path.cwd(), help="source tree (default: cwd)"
    )
    b.add_argument(
        "--version",
        type=version_arg,
        default=None,
        help="build the same image under this version (a firmware to test updates with)",
    )
    b.add_argument(
        "--compat-version",
        type=version_arg,
        default=None,
        help="and this compat_version (a major bump: settings cannot be kept)",
    )
    v = sub.add_parser("verify", help="check a firmware file, one line per check")
    v.add_argument("file", type=existing_file)
    v.add_argument(
        "--keyring",
        type=existing_dir,
        default=None,
        help="directory of trusted *.pub keys (default: the build's keyring)",
    )
    v.add_argument(
        "--board",
        default=None,
        help="compatible string of the device (default: the default board's)",
    )
    v.add_argument("--compat", default=None, help="the device's compat_version")
    i = sub.add_parser("info", help="print the manifest as JSON")
    i.add_argument("file", type=existing_file)


def run(args: argparse.Namespace) -> int:
    if args.firmware_command == "build":
        from natbox.imagebuild.build import main as build_main

        argv = ["--tree", str(args.tree)]
        for flag, value in (
            ("--board", args.board),
            ("--version", args.version),
            ("--compat-version", args.compat_version),
        ):
            argv += [flag, value] if value else []
        return build_main(argv)
    if args.firmware_command == "info":
        from router.firmware.format import FormatError, unpack

        try:
            manifest = unpack(args.file.read_bytes()).manifest
        except FormatError as error:
            return refuse("natbox firmware info", f"argument file: {error}")
        print(json.dumps(manifest.to_dict(), indent=2))
        return 0
    from natbox.imagebuild.config import default_board_compatible, default_keyring_dir
    from router.firmware.keyring import Keyring
    from router.firmware.verify import validate

    keyring_dir = args.keyring or default_keyring_dir(Path.cwd())
    board = args.board or default_board_compatible(Path.cwd())
    report = validate(args.file.read_bytes(), Keyring.from_dir(keyring_dir), board, args.compat)
    print(f"{args.file}: keyring {keyring_dir}")
    for line in report.lines():
        print("  " + line)
    print("  VALID" if report.valid else "  INVALID")
    sys.stdout.flush()
    return 0 if report.valid else 1
