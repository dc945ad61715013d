"""`routerctl`: the router's console CLI.

Reads go to the datapath daemon's control socket; changes go through the one configuration
model (`RouterConfig.from_dict`): a change that does not validate is refused with the field
and the reason, and the running configuration stays as it was. A valid change is applied at
once (the daemon reloads); `routerctl save` makes the running configuration the saved one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from nat.config import ConfigError
from nat.driver import control
from nat.profiles import PROFILES
from nat.router_config import RouterConfig
from natbox.device import config_files as files

HELPERS = ("pptp", "l2tp", "ipsec", "sstp", "sip", "rtsp")
HELPER_DEFAULTS = {"sstp": True}


class Refused(Exception):
    pass


def running() -> RouterConfig:
    store = files.running_store()
    return store.load() if store.path.exists() else files.saved_store().load()


def apply(change) -> RouterConfig:
    """``change(dict)`` edits a copy of the running configuration's data; validate, then
    apply. Nothing is written when validation fails."""
    data = running().to_dict()
    change(data)
    try:
        config = RouterConfig.from_dict(data)
    except ConfigError as error:
        raise Refused(f"invalid {error.field}: {error.message}") from None
    files.write_running(config)
    ask("reload")
    return config


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
        helpers = running().nat.helpers
        for name in HELPERS:
            state = dict(helpers).get(name, HELPER_DEFAULTS.get(name, False))
            print(f"{name:6} {'on' if state else 'off'}")
        return
    if a.name not in HELPERS:
        raise Refused(f"unknown passthrough {a.name!r}; one of {', '.join(HELPERS)}")

    def change(data):
        data["nat"]["helpers"] = {**data["nat"].get("helpers", {}), a.name: a.action == "enable"}

    apply(change)
    state = "on" if a.action == "enable" else "off"
    print(f"{a.name} {state} (running; `routerctl save` keeps it)")


def cmd_profile(a) -> None:
    if a.name is None:
        print(running().nat.profile)
        return

    def change(data):
        # The profile sets mapping, filtering and ports together: drop the old explicit ones.
        nat = data["nat"]
        for key in ("mapping", "filtering", "port_allocation", "port_parity", "hairpinning",
                    "timeouts"):  # fmt: skip
            nat.pop(key, None)
        nat["profile"] = a.name

    apply(change)
    print(f"NAT profile {a.name} (existing connections were reset)")


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

        def change(data):
            data["nat"]["port_forwards"] = [*data["nat"].get("port_forwards", []), forward]

        apply(change)
        print("forward added")
        return

    def remove(data):
        forwards = data["nat"].get("port_forwards", [])
        keep = [f for f in forwards if (f["proto"], str(f["ext_port"])) != (a.proto, a.port)]
        if len(keep) == len(forwards):
            raise Refused(f"no {a.proto} forward on port {a.port}")
        data["nat"]["port_forwards"] = keep

    apply(remove)
    print("forward removed")


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
    pr = sub.add_parser("profile", help=f"show or set the NAT profile: {', '.join(PROFILES)}")
    pr.add_argument("name", nargs="?")
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
    if args.command == "forward" and args.action == "add" and not args.to:
        p.error("forward add needs HOST[:PORT]")
    try:
        globals()[f"cmd_{args.command}"](args)
    except Refused as error:
        print(f"routerctl: {error}; nothing changed", file=sys.stderr)
        return 1
    return 0
