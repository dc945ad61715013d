"""`natbox fault`: update faults on purpose, for users' tests as for natbox's own.

    natbox fault points                         the checkpoints the firmware announces
    natbox fault cut --at write@8M              cut the running appliance's power there
    natbox fault corrupt env-copy-0             damage the disk of a powered-off appliance
    natbox fault firmware revoked-key IN OUT    a firmware file its checks must refuse
    natbox fault matrix                         every scenario, as a table and JSON

The same are Python functions: natbox.faults.checkpoints (Listener, Trigger), the driver's
``cut_at`` (natbox.appliance.driver), natbox.faults.disk, natbox.faults.badfiles and
natbox.faults.matrix.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from natbox.argtypes import existing_file, refuse

DEFAULT_WORKDIR = Path("build/appliance")


def trigger(text: str):
    from natbox.faults.checkpoints import Trigger, TriggerError

    try:
        return Trigger.parse(text)
    except TriggerError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"{value} is not in 0..86400 seconds")
    return value


# Here, not imported: `natbox --help` must not need cryptography or pexpect (the tests check
# that these equal natbox.faults.badfiles.KINDS and natbox.faults.scenarios.GROUPS).
BAD_FILE_KINDS = ("truncated", "bit-flipped", "other-board", "compat-bumped", "unsigned",
                  "unknown-key", "revoked-key", "payload-hash")  # fmt: skip
GROUPS = ("cuts-before-switch", "cuts-after-switch", "variants", "watchdog")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from natbox.faults.disk import FAULTS

    sub = parser.add_subparsers(dest="fault_command", required=True)
    sub.add_parser("points", help="list the checkpoints the firmware announces")
    cut = sub.add_parser("cut", help="cut the running appliance's power at a checkpoint")
    cut.add_argument(
        "--at",
        required=True,
        type=trigger,
        metavar="POINT[@OFFSET][#N]",
        help="e.g. write@8M, switch:between-copies, save:config.json:written#2",
    )
    cut.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"the running appliance's work directory (default {DEFAULT_WORKDIR})",
    )
    cut.add_argument("--timeout", type=positive, default=600.0,
                     help="give up after this many seconds (default 600)")  # fmt: skip
    corrupt = sub.add_parser("corrupt", help="damage a powered-off appliance's disk")
    corrupt.add_argument("what", choices=sorted(FAULTS))
    corrupt.add_argument("--disk", type=existing_file, default=None,
                         help=f"the disk (default {DEFAULT_WORKDIR / 'disk.img'})")  # fmt: skip
    bad = sub.add_parser("firmware", help="write a bad firmware file made from a good one")
    bad.add_argument("kind", choices=BAD_FILE_KINDS)
    bad.add_argument("input", type=existing_file, help="a valid signed firmware file")
    bad.add_argument("output", type=Path)
    bad.add_argument(
        "--key",
        type=existing_file,
        default=None,
        help="the key that signed INPUT (default: the checkout's dev key)",
    )
    matrix = sub.add_parser("matrix", help="run every fault scenario against the appliance")
    matrix.add_argument(
        "--group", action="append", choices=GROUPS, help="only this group (repeatable)"
    )
    matrix.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="only this scenario (repeatable; see `natbox fault matrix --list`)",
    )
    matrix.add_argument("--list", action="store_true", help="list the scenarios and stop")
    matrix.add_argument(
        "--jobs",
        type=int,
        choices=range(1, 6),
        default=3,
        help="groups run side by side (default 3)",
    )
    matrix.add_argument(
        "--json",
        type=Path,
        default=Path("out/faults/matrix.json"),
        help="the report as JSON (default out/faults/matrix.json)",
    )
    matrix.add_argument("--workdir", type=Path, default=Path("build/faults"))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    return globals()[f"_{args.fault_command}"](args)


def _points(args) -> int:
    from natbox.faults.checkpoints import POINTS

    for name, what in POINTS.items():
        print(f"{name:28} {what}")
    return 0


def _running(control: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(control))
            return True
        except OSError:
            return False


def _cut(args) -> int:
    import threading

    from natbox.appliance.qmp import Qmp
    from natbox.appliance.session import CHECKPOINT_SOCKET, CONTROL_SOCKET
    from natbox.faults.checkpoints import Listener

    prog = "natbox fault cut"
    control, port = args.workdir / CONTROL_SOCKET, args.workdir / CHECKPOINT_SOCKET
    if not _running(control):
        return refuse(prog, f"argument --workdir: no appliance runs from {args.workdir} "
                      "(start `natbox boot` first)")  # fmt: skip
    done = threading.Event()
    failed: list[str] = []

    def power_cut() -> None:
        try:  # a loaded host answers slowly; a failed cut is said as such, not "not reached"
            qmp = Qmp(str(control), timeout=15)
            qmp.power_cut()
            qmp.close()
        except Exception as error:  # reported below, in the caller's thread
            failed.append(str(error))
        done.set()

    try:
        listener = Listener(port, log=lambda line: print(f"{prog}: {line}")).start(5)
    except OSError as error:
        print(f"{prog}: the checkpoint port is busy or gone ({error})", file=sys.stderr)
        return 1
    listener.arm(args.at, power_cut)
    print(f"{prog}: armed at {args.at}; now start the update (Ctrl-C gives up)", flush=True)
    try:
        fired = done.wait(args.timeout)
    except KeyboardInterrupt:
        fired = False
    listener.close()
    passed = ", ".join(str(p) for p in listener.seen[-8:]) or "none"
    if failed:
        print(f"{prog}: {args.at} reached, but the power cut failed: {failed[0]}",
              file=sys.stderr)  # fmt: skip
        return 1
    if not fired:
        print(f"{prog}: {args.at} not reached; points seen: {passed}", file=sys.stderr)
        return 1
    print(f"{prog}: the power was cut at {listener.fired_at}; the last points: {passed}")
    return 0


def _corrupt(args) -> int:
    from natbox.appliance.session import CONTROL_SOCKET
    from natbox.faults.disk import FAULTS, DiskFaultError

    prog = "natbox fault corrupt"
    disk = args.disk or DEFAULT_WORKDIR / "disk.img"
    if not disk.is_file():
        return refuse(prog, f"argument --disk: {disk} does not exist (boot once, or name one)")
    if _running(disk.parent / CONTROL_SOCKET):
        return refuse(prog, f"argument --disk: the appliance of {disk} is running; power it "
                      "off first")  # fmt: skip
    try:
        print(f"{prog}: {FAULTS[args.what](disk)}")
    except DiskFaultError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    return 0


def _firmware(args) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from natbox.faults.badfiles import make

    prog = "natbox fault firmware"
    key_path = args.key or Path("keys/dev-ed25519.key")
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    except (OSError, ValueError) as error:
        return refuse(prog, f"argument --key: {key_path}: {error}")
    if not isinstance(key, Ed25519PrivateKey):
        return refuse(prog, f"argument --key: {key_path} is not an Ed25519 private key")
    try:
        bad = make(args.kind, args.input.read_bytes(), key)
    except ValueError as error:  # not a valid firmware to start from
        return refuse(prog, f"argument input: {error}")
    args.output.write_bytes(bad.data)
    print(f"{prog}: {args.output}: {bad.what} (refused by the {bad.check} check)")
    return 0


def _matrix(args) -> int:
    from natbox.faults import matrix
    from natbox.faults.scenarios import SCENARIOS

    prog = "natbox fault matrix"
    if args.list:
        for s in SCENARIOS:
            print(f"{s.group:20} {s.name:52} {s.what}")
        return 0
    known = {s.name for s in SCENARIOS}
    for name in args.scenario or ():
        if name not in known:
            return refuse(prog, f"argument --scenario: no scenario {name!r} (see --list)")
    if os.geteuid() != 0:
        return refuse(prog, "the fault matrix boots appliances on lab taps: run it as root")
    names = [s.name for s in SCENARIOS if (not args.group or s.group in args.group)
             and (not args.scenario or s.name in args.scenario)]  # fmt: skip
    tree = Path(os.environ.get("NATBOX_TREE", os.getcwd())).resolve()
    outcomes, seconds = matrix.run(tree, args.workdir.resolve(), names, args.jobs)
    print(matrix.table(outcomes))
    matrix.write_json(outcomes, seconds, args.json)
    failed = [o for o in outcomes if not o.ok]
    print(
        f"{prog}: {len(outcomes) - len(failed)} of {len(outcomes)} as expected, "
        f"{sum(o.bricked for o in outcomes)} bricked, {seconds:.0f} s; {args.json}"
    )
    return 1 if failed else 0
