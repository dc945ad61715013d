"""`routerctl`: the router's console CLI.

Reads go to the datapath daemon's control socket; changes are the configuration edits the web
UI makes too (router.edits): a change that does not validate is refused with the field and the
reason, and the running configuration stays as it was. A valid change is written to the running
configuration and applied at once (the daemon reloads, and says what waits for a restart);
`routerctl save` makes the running configuration the saved one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nat.config import ConfigError
from router import control, edits
from router import paths as files
from router.model import RouterConfig
from router.store import write_atomic


class Refused(Exception):
    """Nothing was changed."""


class NotApplied(Exception):
    """The running configuration was written, but the daemon did not take it."""


class Failed(Exception):
    """A firmware install failed after it began writing the inactive slot (the running
    firmware is untouched; the slot is left unbootable)."""


def running() -> RouterConfig:
    store = files.running_store()
    return store.load() if store.path.exists() else files.saved_store().load()


def apply(edit, *args, **kwargs) -> dict:
    """``edit(running configuration, *args, **kwargs)`` (one of router.edits) gives the new
    one; it is written and applied only when it validates. Returns the daemon's answer to
    ``reload``."""
    try:
        config = edit(running(), *args, **kwargs)
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
        config = running()
        ports = edits.helper_ports(config)
        for name, state in edits.helper_states(config).items():
            served = ",".join(map(str, ports[name])) or "-"
            print(f"{name:6} {'on' if state else 'off':3} ports {served}")
        return
    if a.name not in edits.HELPER_NAMES:
        raise Refused(f"unknown passthrough {a.name!r}; one of {', '.join(edits.HELPER_NAMES)}")
    if a.action == "ports":
        given = edits.ports_given(running(), a.name, _port_list(a.ports))
        answer = apply(edits.switch_helpers, {}, helper_ports=given)
        served = ",".join(map(str, edits.helper_ports(running())[a.name]))
        applied(f"{a.name} serves ports {served}", answer)
        return
    answer = apply(edits.switch_helpers, {a.name: a.action == "enable"})
    applied(f"{a.name} {'on' if a.action == 'enable' else 'off'}", answer)


def _port_list(text: str | None) -> list[int]:
    """``554,8554``, or ``default`` (the protocol's own ports)."""
    if text is None:
        raise Refused("passthrough ports NAME needs PORT[,PORT...] or default")
    if text == "default":
        return []
    try:
        ports = edits.port_list(text)
    except ValueError:
        ports = []
    if not ports:
        raise Refused(f"ports {text!r}: expected PORT[,PORT...] (e.g. 554,8554) or default")
    return ports


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


def cmd_https(a) -> None:
    """The web UI's HTTPS listener (port 443, self-signed; the UI follows within seconds)."""
    if a.state is None:
        print("on" if running().web.https else "off")
        return
    applied(f"HTTPS {a.state}", apply(edits.set_web, {"https": a.state == "on"}))


def cmd_sip_direct_media(a) -> None:
    """Whether the SIP ALG admits media from the signalling peer only (on, the default)."""
    if a.state is None:
        print("on" if running().nat.sip_direct_media else "off")
        return
    answer = apply(edits.switch_helpers, {}, sip_direct_media=a.state == "on")
    applied(f"SIP direct media {a.state}", answer)


def cmd_flow_offload(a) -> None:
    """Whether established plain flows are forwarded by the kernel (off by default)."""
    if a.state is None:
        print("on" if running().nat.flow_offload else "off")
        return
    on = a.state == "on"
    answer = apply(lambda config: edits.set_nat(config, config.nat.profile, flow_offload=on))
    applied(f"flow offloading {a.state}", answer)


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


SHADOW, KEPT_SHADOW = Path("/etc/shadow"), Path("/data/etc/shadow")


def cmd_save(a) -> None:
    files.saved_store().save(running())
    # The root password, kept atomically: a plain copy cut short by a power loss left an
    # empty file, which the next boot installed as /etc/shadow (no root login at all).
    with contextlib.suppress(OSError):
        if KEPT_SHADOW.parent.parent.is_dir():
            write_atomic(KEPT_SHADOW, SHADOW.read_text())
    print(f"saved to {files.saved_store().path}")


# -- firmware ---------------------------------------------------------------------------------

MIB = 1024 * 1024
HISTORY_SHOWN = 5


def update_service():
    """The device's update service (router.update.service); the tests put one on files here."""
    from router.update.device import appliance
    from router.update.service import UpdateService

    try:
        return UpdateService(appliance())
    except OSError as error:
        raise Refused(f"firmware updates are not available on this system ({error})") from None


def _service_errors():
    """What the update service raises for a refusal; imported late, like the service itself
    (the other commands do not load the firmware checks)."""
    from router.update.bootenv import EnvError
    from router.update.journal import JournalError
    from router.update.server import ServerError
    from router.update.service import UpdateError

    return UpdateError, ServerError, EnvError, JournalError, OSError


def _receive(service, path: str) -> None:
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed below; OSError is a refusal)
    except OSError as error:
        raise Refused(f"{path}: {error.strerror or error}") from None
    with stream:
        service.receive(stream, source=path)


def _print_checks(verdict) -> None:
    for name, check in verdict.checks.items():
        print(f"{check['status'].upper():4}  {name:14} {check['detail']}")
    print("VALID" if verdict.valid else "INVALID")


def _hint(verdict, keep_settings: bool) -> str:
    if verdict.forceable:
        return "; --force installs it anyway (logged)"
    if keep_settings and not verdict.keep_settings_possible:
        return "; --no-keep-settings installs it with factory settings"
    return ""


def _mib(n: int, total: int) -> str:
    return f"{n / MIB:.0f}" if total >= 10 * MIB else f"{n / MIB:.1f}"


def progress_printer():
    """A progress callback for the service that prints a line per 10% written."""
    shown = 0

    def progress(phase: str, done: int, total: int) -> None:
        nonlocal shown
        if phase == "writing":
            step = done * 10 // total if total else 10
            if step > shown:
                shown = step
                print(f"writing {done * 100 // max(total, 1)}% ({_mib(done, total)}/"
                      f"{_mib(total, total)} MiB)", flush=True)  # fmt: skip
        elif phase == "verified":
            print("read back: equal to the file", flush=True)

    return progress


def _install(service, a, what: str) -> None:
    """Check the uploaded firmware (the checks printed), install it, reboot."""
    from router.update.service import Refusal

    keep = not a.no_keep_settings
    target = service.device.inactive

    def checked(verdict) -> None:
        _print_checks(verdict)
        if verdict.valid:
            print(f"installing {verdict.version} to slot {target}; do not power off", flush=True)

    try:
        service.install(keep, a.force, progress_printer(), checked=checked)
    except Refusal as refusal:
        raise Refused(f"{what} refused: {refusal.verdict.explain()}"
                      f"{_hint(refusal.verdict, keep)}") from None  # fmt: skip
    except _service_errors() as error:
        if "slot" in service.status()["update"]:  # the journal says writing began
            raise Failed(f"install failed: {error}; still running {service.device.version} "
                         f"from slot {service.device.booted}") from None  # fmt: skip
        raise
    _reboot(service, a, f"installed to slot {target}")


def _reboot(service, a, done: str) -> None:
    if a.no_reboot:
        print(f"{done}; the new slot boots at the next reboot")
        return
    print(f"{done}; rebooting", flush=True)
    service.reboot()


def _when(seconds) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def firmware_status(service, a) -> None:
    status = service.status()
    if a.json:
        show(status)
        return
    print(f"running {status['running_version']} from slot {status['booted_slot']}; "
          f"boot order {' '.join(status['boot_order'])}")  # fmt: skip
    for name, slot in status["slots"].items():
        booted = " (booted)" if slot["booted"] else ""
        print(f"slot {name}: {slot['state']:5} {slot['version'] or '-':10} "
              f"attempts left {slot['attempts_left']}{booted}")  # fmt: skip
    if status["environment_error"]:
        print(f"boot environment: {status['environment_error']}")
    since = f" since {_when(status['since'])}" if status["since"] else ""
    print(f"update: {status['state']}{since}" + (" (in progress)" if status["busy"] else ""))
    if status["reason"]:
        print(f"  reason: {status['reason']}")
    for entry in status["history"][-HISTORY_SHOWN:]:
        print(f"  {_when(entry.get('time'))}  {entry.get('state', '?'):11} "
              f"{entry.get('detail', '')}")  # fmt: skip


def firmware_check(service, a) -> int:
    _receive(service, a.file)
    keep = not a.no_keep_settings
    verdict = service.check(keep, a.force)
    _print_checks(verdict)
    if not verdict.valid and _hint(verdict, keep):
        print(_hint(verdict, keep).removeprefix("; "))
    return 0 if verdict.valid else 1


def firmware_install(service, a) -> None:
    _receive(service, a.file)
    _install(service, a, a.file)


def firmware_rollback(service, a) -> None:
    slot = service.rollback()
    _reboot(service, a, f"slot {slot} boots from now on")


def _server_entry(service, url: str) -> dict:
    from router.update import server

    return server.check(url, service.device.version)


def firmware_server_check(service, a) -> None:
    entry = _server_entry(service, a.url)
    if a.json:
        show(entry)
        return
    if entry["available"]:
        print(f"newer firmware available: {entry['version']} (running "
              f"{entry['running_version']})")  # fmt: skip
        print(f"  {entry['url']}: {entry['size']} bytes, sha256 {entry['sha256'][:16]}..., "
              f"for {entry['compatible']}")  # fmt: skip
    else:
        print(f"up to date: the server's latest is {entry['version']}, running "
              f"{entry['running_version']}")  # fmt: skip


def firmware_server_install(service, a) -> None:
    from router.update import server

    entry = _server_entry(service, a.url)
    if not entry["available"] and not a.force:
        raise Refused(f"the server's latest is {entry['version']}, not newer than the running "
                      f"{entry['running_version']}; --force installs it anyway")  # fmt: skip
    print(f"downloading {entry['version']} from {entry['url']} ({entry['size']} bytes)",
          flush=True)  # fmt: skip
    server.download(entry, service)
    _install(service, a, entry["url"])


def cmd_firmware(a) -> int | None:
    service = update_service()
    try:
        return globals()[f"firmware_{a.firmware_command.replace('-', '_')}"](service, a)
    except _service_errors() as error:
        raise Refused(str(error)) from None


def firmware_parser(sub) -> None:
    fw = sub.add_parser("firmware", help="firmware updates: status, check, install, rollback, "
                        "server-check, server-install")  # fmt: skip
    actions = fw.add_subparsers(dest="firmware_command", required=True)
    st = actions.add_parser("status", help="running version, slots, the update journal")
    st.add_argument("--json", action="store_true", help="the update service's status as JSON")
    options = {
        "--no-keep-settings": "start the new firmware from factory settings",
        "--force": "accept a downgrade or a reinstall (logged)",
        "--no-reboot": "do not reboot when done",
    }
    commands = (
        ("check", "check a firmware file; nothing is written", "file", 2),
        ("install", "check and install a firmware file, then reboot", "file", 3),
        ("rollback", "boot the other slot (it must hold a good firmware)", None, 0),
        ("server-check", "ask an update server for a newer firmware", "url", 0),
        ("server-install", "install the update server's newer firmware, then reboot", "url", 3),
    )
    for name, text, target, flags in commands:
        p = actions.add_parser(name, help=text)
        if target == "file":
            p.add_argument("file", help="firmware file")
        elif target == "url":
            p.add_argument("url", help="update server URL (its latest.json, or the directory)")
        for flag in list(options)[:flags]:
            p.add_argument(flag, action="store_true", help=options[flag])
        if name == "rollback":
            p.add_argument("--no-reboot", action="store_true", help=options["--no-reboot"])
        if name == "server-check":
            p.add_argument("--json", action="store_true", help="the answer as JSON")


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
    pt = sub.add_parser("passthrough", help="show, enable or disable VPN passthrough / ALGs, or "
                        "move one: ports NAME 554,8554 | default")  # fmt: skip
    pt.add_argument("action", nargs="?", choices=("show", "enable", "disable", "ports"),
                    default="show")  # fmt: skip
    pt.add_argument("name", nargs="?")
    pt.add_argument("ports", nargs="?")
    profiles = ", ".join(edits.PROFILE_NAMES)
    pr = sub.add_parser("profile", help=f"show or set the NAT profile: {profiles}")
    pr.add_argument("name", nargs="?")
    hn = sub.add_parser("hostname", help="show or set the router's name")
    hn.add_argument("name", nargs="?")
    hs = sub.add_parser("https", help="show or switch the web UI's HTTPS listener: on | off")
    hs.add_argument("state", nargs="?", choices=("on", "off"))
    sd = sub.add_parser("sip-direct-media", help="show or set whether SIP media is admitted "
                        "from the signalling peer only: on (default) | off (anyone)")  # fmt: skip
    sd.add_argument("state", nargs="?", choices=("on", "off"))
    fo = sub.add_parser("flow-offload", help="show or set flow offloading (the kernel forwards "
                        "established plain TCP/UDP flows): on | off (default)")  # fmt: skip
    fo.add_argument("state", nargs="?", choices=("on", "off"))
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
    firmware_parser(sub)
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
        code = globals()[f"cmd_{args.command.replace('-', '_')}"](args)
    except Refused as error:
        print(f"routerctl: {error}; nothing changed", file=sys.stderr)
        return 1
    except (NotApplied, Failed) as error:
        print(f"routerctl: {error}", file=sys.stderr)
        return 1
    return code or 0
