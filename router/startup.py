"""Boot-time start of the router (run by /etc/init.d/S50natbox): the saved configuration
(factory defaults on first boot) becomes the running one, and the datapath daemon runs from it
in this same process (one Python start-up less under TCG), with dnsmasq serving the LAN."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

from nat.config import ConfigError
from router import cli as router_cli
from router import paths
from router.model import RouterConfig


def load_saved():
    store = paths.saved_store()
    if not store.path.exists():
        config = factory_or_defaults()
        store.save(config)  # the web UI reads the same file
        return config
    try:
        return store.load()
    # Never leave the device without a router (bytes that are not UTF-8: UnicodeDecodeError).
    except (ConfigError, UnicodeDecodeError, OSError) as error:
        # Kept aside for a look, and replaced: the web UI and routerctl read the same file.
        refused = store.path.with_name(store.path.name + ".refused")
        message = f"saved configuration refused ({error}); factory defaults, the refused " \
            f"file kept as {refused}"  # fmt: skip
        print(f"startup: {message}", flush=True)
        syslog(message)
        config = factory_or_defaults()
        try:
            os.replace(store.path, refused)
            store.save(config)
        except OSError as save_error:
            print(f"startup: factory defaults not saved ({save_error})", flush=True)
        return config


def syslog(message: str) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["logger", "-t", "natbox", message], check=False, timeout=5)


def factory_or_defaults():
    try:
        return paths.factory()
    except (ConfigError, OSError, ValueError) as error:  # a broken image: still route
        print(f"startup: factory configuration refused ({error}); defaults", flush=True)
        return RouterConfig()


def settle_update() -> None:
    """A rollback puts the old configuration back before it is read; update bookkeeping
    never keeps the router from starting (a bare boot has no disk, say)."""
    try:
        from router.update import boot, device
        from router.update.service import UpdateService

        print(f"startup: update: {boot.settle(UpdateService(device.appliance()))}", flush=True)
    except Exception as error:
        print(f"startup: update bookkeeping skipped ({error})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", help="append output here")
    args = parser.parse_args(argv)
    if args.log:
        log = open(args.log, "a", buffering=1)  # noqa: SIM115
        sys.stdout = sys.stderr = log
    settle_update()
    paths.running_store().save(load_saved())
    device = paths.APPLIANCE
    router_args = argparse.ArgumentParser()
    router_cli.add_arguments(router_args)
    argv = ["--lan", device.lan_interface, "--wan", device.wan_interface, "--set-hostname"]
    argv += ["--kernel-ports", "-".join(map(str, device.kernel_ports))]
    argv += ["--config", str(paths.running_store().path), "--control", paths.control_path()]
    argv += ["--state-dir", paths.state_dir()]
    return router_cli.run(router_args.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
