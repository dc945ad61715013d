"""`natbox boot`: boot the appliance with the serial console on this terminal."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from natbox.appliance.bootstage import BootError
from natbox.appliance.qmp import ShutdownWatcher
from natbox.appliance.session import Options, open_session
from natbox.argtypes import PORT_OR_ZERO, refuse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lan-tap", help="attach the LAN NIC to this existing tap")
    parser.add_argument("--wan-tap", help="attach the WAN NIC to this existing tap")
    parser.add_argument("--lan-bridge", help="attach the LAN NIC to this bridge (a new tap)")
    parser.add_argument("--wan-bridge", help="attach the WAN NIC to this bridge (a new tap)")
    parser.add_argument("--user-net", action="store_true", help="QEMU user-mode networking")
    parser.add_argument(
        "--ui-port", type=PORT_OR_ZERO, default=0, help="host port for the web UI (0: free)"
    )
    parser.add_argument("--no-build", action="store_true", help="boot what is already built")
    parser.add_argument("--workdir", type=Path, help="disk and boot files (build/appliance)")
    parser.add_argument("--pcap", metavar="DIR", help="capture the lab's links into DIR")


def options_from(args: argparse.Namespace) -> Options:
    o = Options(ui_port=args.ui_port, build=not args.no_build, pcap_dir=args.pcap)
    if args.workdir:
        o.workdir = args.workdir
    if args.lan_tap or args.wan_tap:
        o.network, o.lan, o.wan = "taps", args.lan_tap, args.wan_tap
    elif args.lan_bridge or args.wan_bridge:
        o.network, o.lan, o.wan = "bridges", args.lan_bridge, args.wan_bridge
    elif args.user_net:
        o.network = "user"
    if o.network in ("taps", "bridges") and not (o.lan and o.wan):
        raise SystemExit(
            refuse("natbox boot", "arguments --lan-*/--wan-*: name both the LAN and the WAN tap"
                   " (or bridge)")
        )  # fmt: skip
    return o


def _stop(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds into `finally`: the lab is removed


def power_cycles(session, log=print, **stdio) -> int:
    """Boot; when the guest reboots (QEMU exits under -no-reboot), run the bootloader stage
    again and start QEMU anew, as a real board resets into its bootloader. ``stdio``: where
    QEMU's console goes (this terminal by default)."""
    while True:
        try:
            argv = session.power_on(log=log)
        except BootError as error:
            print(f"natbox boot: {error}", file=sys.stderr)
            return 1
        watcher = ShutdownWatcher(str(session.qmp_path))
        session.process = subprocess.Popen(argv, **stdio)
        code = session.process.wait()
        if not watcher.rebooted():
            return code
        log("natbox boot: the router rebooted; back to the bootloader")


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    session = open_session(options_from(args))
    try:
        for note in session.notes:
            print(f"natbox boot: {note}")
        if session.ui_url:
            print(f"natbox boot: web UI at {session.ui_url} (once the router is up)")
        print("natbox boot: console below; log in as root (password natbox).")
        print("natbox boot: leave with Ctrl-A X (or `poweroff` in the guest).", flush=True)
        return power_cycles(session)
    except KeyboardInterrupt:
        return 130
    finally:
        session.close()
        print("\nnatbox boot: stopped; lab removed.", file=sys.stderr)
