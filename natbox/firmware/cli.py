"""`natbox firmware build|verify|info|manifest`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from natbox.argtypes import existing_dir, existing_file, refuse
from natbox.imagebuild.config import TEST_FAULTS, version_arg


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
    b.add_argument(
        "--test-fault",
        choices=TEST_FAULTS,
        default=None,
        help="a test firmware that misbehaves on purpose (health-fails: it rolls back)",
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
    m = sub.add_parser("manifest", help="write DIR/latest.json (an update server's manifest) "
                       "for the newest firmware in DIR")  # fmt: skip
    m.add_argument("dir", type=existing_dir)


def warn_to_stderr(prog: str) -> Callable[[str], None]:
    return lambda line: print(f"{prog}: warning: {line}", file=sys.stderr)


class NoFirmware(ValueError):
    """The directory holds no firmware file that parses."""


def write_manifest(directory: Path, warn: Callable[[str], None]) -> dict:
    """DIR/latest.json for the newest *.fw in DIR by its manifest's version, as the device's
    update client (router.update.server) reads it; returns the "latest" entry. A file that does
    not parse or whose version cannot be ordered is skipped with a warning."""
    from router.firmware.format import FormatError, read_head
    from router.firmware.verify import version_key
    from router.update.server import FORMAT, MANIFEST

    found_by_key: dict[tuple[int, ...], list[tuple[Path, object]]] = {}
    for path in sorted(p for p in directory.glob("*.fw") if p.is_file()):
        try:
            with open(path, "rb") as f:
                manifest = read_head(lambda at, n, f=f: (f.seek(at), f.read(n))[1])[0]
        except (FormatError, OSError) as error:
            warn(f"skipping {path.name}: {error}")
            continue
        key = version_key(manifest.version)
        if key is None:
            warn(f"skipping {path.name}: version {manifest.version!r} cannot be ordered")
        else:
            found_by_key.setdefault(key, []).append((path, manifest))
    if not found_by_key:
        raise NoFirmware(f"no firmware file (*.fw) that parses in {directory}")
    newest = found_by_key[max(found_by_key)]
    if len(newest) > 1:  # a test build (-health-fails, -compat2.0) beside the plain one, say
        names = ", ".join(path.name for path, _ in newest)
        raise NoFirmware(f"{names} all claim version {newest[0][1].version}: serve one of them")
    best = (max(found_by_key), *newest[0])
    _, path, found = best
    data = path.read_bytes()
    latest = {
        "version": found.version,
        "file": quote(path.name),  # a URL relative to the manifest
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "compatible": found.compatible,
    }
    temp = directory / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps({"format": FORMAT, "latest": latest}, indent=2) + "\n")
    os.replace(temp, directory / MANIFEST)  # a server reading it meanwhile sees old or new
    return latest


def run(args: argparse.Namespace) -> int:
    if args.firmware_command == "build":
        from natbox.imagebuild.build import main as build_main

        argv = ["--tree", str(args.tree)]
        for flag, value in (
            ("--board", args.board),
            ("--version", args.version),
            ("--compat-version", args.compat_version),
            ("--test-fault", args.test_fault),
        ):
            argv += [flag, value] if value else []
        return build_main(argv)
    if args.firmware_command == "manifest":
        prog = "natbox firmware manifest"
        try:
            latest = write_manifest(args.dir, warn_to_stderr(prog))
        except NoFirmware as error:
            return refuse(prog, f"argument dir: {error}")
        except OSError as error:
            print(f"{prog}: {error}", file=sys.stderr)
            return 1
        print(f"{args.dir / 'latest.json'}: {latest['version']} ({latest['file']}, "
              f"{latest['size']} bytes)")  # fmt: skip
        return 0
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
