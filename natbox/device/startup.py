"""Boot-time start of the router (run by /etc/init.d/S50natbox): the saved configuration
(factory defaults on first boot) becomes the running one, udhcpd serves the LAN and the
datapath daemon runs in this same process (one Python start-up less under TCG)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading

from nat.config import ConfigError
from natbox.device import config_files as files
from natbox.device.dns_forwarder import DnsForwarder
from natbox.router import main as router_main


def load_saved():
    store = files.saved_store()
    if not store.path.exists():
        config = files.factory()
        store.save(config)  # the web UI reads the same file
        return config
    try:
        return store.load()
    except ConfigError as error:  # never leave the device without a router
        print(f"startup: saved configuration refused ({error}); factory defaults", flush=True)
        return files.factory()


def start_dns(config) -> None:
    """LAN DNS in a thread of this process (one Python start-up less under TCG)."""
    lan = config.nat.lan_address
    names = {n: lan for n in (config.hostname, f"{config.hostname}.lan", "router.lan")}
    upstreams = [(server, 53) for server in config.wan.dns_servers]
    try:
        forwarder = DnsForwarder((lan, 53), upstreams, names)
    except OSError as error:  # the router must come up even without its DNS
        print(f"startup: LAN DNS not started: {error}", flush=True)
        return
    threading.Thread(target=forwarder.serve, name="dns", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", help="append output here")
    args = parser.parse_args(argv)
    if args.log:
        log = open(args.log, "a", buffering=1)  # noqa: SIM115
        sys.stdout = sys.stderr = log
    config = load_saved()
    files.write_running(config)
    if config.dhcp.enabled:
        conf = files.RUN / "udhcpd.conf"
        conf.write_text(files.udhcpd_conf(config, str(files.RUN / "udhcpd.leases")))
        (files.RUN / "udhcpd.leases").touch()
        subprocess.Popen(["udhcpd", "-f", str(conf)], stdout=sys.stdout, stderr=sys.stderr)
    start_dns(config)
    router_args = argparse.ArgumentParser()
    router_main.add_arguments(router_args)
    argv = ["--lan", files.LAN_IF, "--wan", files.WAN_IF, "--control", files.control_path()]
    # The daemon runs from the running configuration (what routerctl and the web UI change);
    # router.json adds the device's own facts (interfaces' roles, WAN mode) as the site file.
    argv += ["--config", str(files.RUN / "running.json"), "--site", str(files.RUN / "router.json")]
    argv += ["--state-dir", str(files.RUN / "router")]
    return router_main.run(router_args.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
