"""`routerctl`: the router's console CLI.

Reads go to the datapath daemon's control socket; changes are the configuration edits the web
UI makes too (router.edits): a change that does not validate is refused with the field and the
reason, and the running configuration stays as it was. A valid change is written to the running
configuration and applied at once (the daemon reloads, and says what waits for a restart);
`routerctl save` makes the running configuration the saved one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from nat.config import ConfigError
from router import control, edits
from router import paths as files
from router.model import RouterConfig


class Refused(Exception):
    """Nothing was changed."""


class NotApplied(Exception):
    """The running configuration was written, but the daemon did not take it."""


def running() -> RouterConfig:
    store = files.running_store()
    return store.load() if store.path.exists() else files.saved_store().load()


def apply(edit, *args) -> dict:
    """``edit(running configuration, *args)`` (one of router.edits) gives the new one; it is
    written and applied only when it validates. Returns the daemon's answer to ``reload``."""
    try:
        config = edit(running(), *args)
    except ConfigError as error:
        raise Refused(f"invalid {error.field}: {error.message}") from None
    files.running_store().save(config)
    try:
        return ask("reload")
    except Refused as error:
        raise NotApplied(f"saved in the running configuration, but not applied: {error}") from None


def applied(what: str, answer: dict) -> None:
    restart = answer.get("restart_required", [])
    if restart:
        print(f"{what} (saved in the running configuration; restart needed for: "
              f"{', '.join(restart)})")  # fmt: skip
    else:
        print(f"{what} (running; `routerctl save` keeps it)")


def ask(cmd: str, **fields) -> dict:
    try:
        reply = control.request(files.control_path(), cmd, **fields)
    except OSError as error:
        raise Refused(f"the datapath daemon does not answer ({error})") from None
    if not reply.get("ok"):
        raise Refused(reply.get("error", "request failed"))
    reply.pop("ok", None)
    return reply


def show(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


# -- commands ---------------------------------------------------------------------------------


def cmd_status(a) -> None:
    config = running()
    status = ask("status")
    status["hostname"] = config.hostname
    status["saved"] = files.saved_store().path.exists() and files.saved_store().load() == config
    show(status)


def cmd_interfaces(a) -> None:
    shown = subprocess.run(["ip", "-4", "addr", "show"], capture_output=True, text=True)
    print(shown.stdout, end="")


def cmd_counters(a) -> None:
    show(ask("counters"))


def cmd_mappings(a) -> None:
    show(ask("mappings")["mappings"])


def cmd_events(a) -> None:
    for event in ask("events")["events"]:
        print(json.dumps(event, sort_keys=True))


def cmd_passthrough(a) -> None:
    if a.action == "show":
        for name, state in edits.helper_states(running()).items():
            print(f"{name:6} {'on' if state else 'off'}")
        return
    if a.name not in edits.HELPER_NAMES:
        raise Refused(f"unknown passthrough {a.name!r}; one of {', '.join(edits.HELPER_NAMES)}")
    answer = apply(edits.switch_helpers, {a.name: a.action == "enable"})
    applied(f"{a.name} {'on' if a.action == 'enable' else 'off'}", answer)


def cmd_profile(a) -> None:
    if a.name is None:
        print(running().nat.profile)
        return
    answer = apply(edits.set_nat, a.name)
    reset = ", existing connections were reset" if answer.get("flushed") else ""
    applied(f"NAT profile {a.name}{reset}", answer)


def cmd_hostname(a) -> None:
    if a.name is None:
        print(running().hostname)
        return
    applied(f"hostname {a.name}", apply(edits.set_lan, a.name))


def cmd_dhcp(a) -> None:
    config = running()
    if a.first is None:
        dhcp = config.dhcp
        print(f"{'on' if dhcp.enabled else 'off'} {dhcp.first}-{dhcp.last} "
              f"lease {dhcp.lease_time} s")  # fmt: skip
        return
    change: dict = {"first": a.first, "last": a.last}
    if a.lease is not None:
        change["lease_time"] = a.lease
    applied(f"DHCP pool {a.first}-{a.last}", apply(edits.set_lan, edits.KEEP, change))


def cmd_forward(a) -> None:
    if a.action == "list":
        for i, fw in enumerate(running().nat.port_forwards):
            end = f"-{fw.ext_port_end}" if fw.ext_port_end else ""
            print(f"{i}: {fw.proto} {fw.ext_port}{end} -> {fw.host}:{fw.host_port} {fw.name}")
        return
    if a.action == "add":
        host, _, port = a.to.partition(":")
        try:
            ext = [int(p) for p in a.port.split("-", 1)]
            forward = {"proto": a.proto, "ext_port": ext[0], "host": host,
                       "host_port": int(port) if port else ext[0]}  # fmt: skip
        except ValueError:
            raise Refused(f"ports must be numbers: {a.port!r}, {a.to!r}") from None
        if len(ext) == 2:
            forward["ext_port_end"] = ext[1]
        applied("forward added", apply(edits.add_forward, forward))
        return
    if not a.port.isdigit():
        raise Refused(f"the port must be a number: {a.port!r}")
    applied("forward removed", apply(edits.remove_forward, a.proto, int(a.port)))


def cmd_save(a) -> None:
    files.saved_store().save(running())
    subprocess.run(["sh", "-c", "mkdir -p /data/etc && cp /etc/shadow /data/etc/shadow"],
                   check=False, stderr=subprocess.DEVNULL)  # fmt: skip
    print(f"saved to {files.saved_store().path}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="routerctl", description="natbox router console CLI")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (("status", "daemon and configuration status"),
                       ("interfaces", "interfaces and addresses"),
                       ("counters", "engine and driver counters"),
                       ("mappings", "the NAT mapping table"),
                       ("events", "VPN and engine event log"),
                       ("save", "keep the running configuration across reboots")):  # fmt: skip
        sub.add_parser(name, help=text)
    pt = sub.add_parser("passthrough", help="show, enable or disable VPN passthrough / ALGs")
    pt.add_argument("action", nargs="?", choices=("show", "enable", "disable"), default="show")
    pt.add_argument("name", nargs="?")
    profiles = ", ".join(edits.PROFILE_NAMES)
    pr = sub.add_parser("profile", help=f"show or set the NAT profile: {profiles}")
    pr.add_argument("name", nargs="?")
    hn = sub.add_parser("hostname", help="show or set the router's name")
    hn.add_argument("name", nargs="?")
    dh = sub.add_parser("dhcp", help="show or set the LAN's DHCP pool: FIRST LAST [LEASE_S]")
    dh.add_argument("first", nargs="?")
    dh.add_argument("last", nargs="?")
    dh.add_argument("lease", nargs="?", type=int)
    fw = sub.add_parser("forward", help="port forwards: list | add PROTO PORT[-END] HOST[:PORT] "
                        "| remove PROTO PORT")  # fmt: skip
    fw.add_argument("action", choices=("list", "add", "remove"))
    fw.add_argument("proto", nargs="?", choices=("tcp", "udp"))
    fw.add_argument("port", nargs="?")
    fw.add_argument("to", nargs="?")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "passthrough" and args.action != "show" and not args.name:
        p.error("passthrough enable|disable needs a name")
    if args.command == "forward" and args.action != "list" and not (args.proto and args.port):
        p.error("forward add|remove needs PROTO and PORT")
    if args.command == "dhcp" and args.first and not args.last:
        p.error("dhcp needs FIRST and LAST")
    if args.command == "forward" and args.action == "add" and not args.to:
        p.error("forward add needs HOST[:PORT]")
    try:
        globals()[f"cmd_{args.command}"](args)
    except Refused as error:
        print(f"routerctl: {error}; nothing changed", file=sys.stderr)
        return 1
    except NotApplied as error:
        print(f"routerctl: {error}", file=sys.stderr)
        return 1
    return 0
