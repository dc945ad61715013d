"""Serve the web UI with waitress: ``python -m webui.serve [--host H] [--port P] [--config F]``
(also ``natbox ui``).

``--backend inprocess`` (default) runs the NAT engine in this process; ``--backend live
--control SOCKET`` talks to a running datapath daemon (``natbox router``) started with the same
``--config`` file. Port 0 picks a free port; the address actually used is printed as
``listening on URL`` so a test (or a lab script) can read it. ``--demo`` pushes a little
traffic through the in-process engine so the Connections and VPN Monitor pages have something
to show. ``--firmware-updates`` (the appliance's init script) lets the Firmware page and the API
install updates through router.update.service on this device's slots.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import threading
import time
from pathlib import Path


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0..65535, 0: a free one)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="the LAN address in the appliance")
    parser.add_argument(
        "--host-file",
        help="read the address to listen on from this file, after --wait-for-config (the "
        "appliance starts the UI before its network is configured)",
    )
    parser.add_argument("--port", type=_port, default=8080)
    parser.add_argument("--config", help="configuration file (default: $NATBOX_CONFIG)")
    parser.add_argument(
        "--backend",
        choices=("inprocess", "live"),
        default="inprocess",
        help="inprocess: an engine in this process; live: the daemon behind --control",
    )
    parser.add_argument("--control", help="live: the datapath daemon's control socket")
    parser.add_argument("--leases", help="live: dnsmasq's lease file, for the Status page")
    parser.add_argument(
        "--save-to", help="live: also save applied changes here (the appliance's saved config)"
    )
    parser.add_argument("--demo", action="store_true", help="feed sample traffic at start")
    parser.add_argument(
        "--firmware-updates",
        action="store_true",
        help="on the appliance: install firmware updates into its A/B slots (router.update)",
    )
    parser.add_argument(
        "--https-port",
        type=_port,
        help="serve HTTPS on this port too while the configuration's web.https is on",
    )
    parser.add_argument(
        "--tls-dir",
        help="with --https-port: where the self-signed certificate and its key are kept "
        "(made there when missing)",
    )
    parser.add_argument(
        "--wait-for-config",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="load the code first, then wait up to this long for --config to appear before "
        "listening (at boot the daemon writes it while the UI is still importing Flask)",
    )


def wait_for_file(path: str, seconds: float, clock=time.monotonic, sleep=time.sleep) -> bool:
    deadline = clock() + seconds
    while not os.path.exists(path):
        if clock() >= deadline:
            return False
        sleep(0.05)
    return True


def update_service():
    """The device's update service, or None (and why on stderr): the UI serves without it."""
    from router.update.device import appliance
    from router.update.service import UpdateService

    try:
        return UpdateService(appliance())
    except (OSError, ValueError) as error:
        print(f"webui.serve: firmware updates are off: {error}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    # Imported here: `natbox --help` should not have to load Flask and waitress.
    from waitress.server import create_server

    from webui import create_app
    from webui.backend import running_firmware, slots_firmware
    from webui.hostcheck import host_name

    if args.https_port is not None and not args.tls_dir:
        print("webui.serve: --https-port needs --tls-dir (where its certificate is kept)",
              file=sys.stderr)  # fmt: skip
        return 2
    test_config = {"CONFIG_PATH": args.config} if args.config else None
    backend = None
    service = update_service() if args.firmware_updates else None
    if args.backend == "live":
        if not args.control or args.demo:
            print("webui.serve: --backend live needs --control, no --demo", file=sys.stderr)
            return 2
        from router.store import ConfigStore
        from webui import DEFAULT_CONFIG_PATH
        from webui.live import LiveBackend

        store = ConfigStore(args.config or DEFAULT_CONFIG_PATH)
        saved = ConfigStore(args.save_to) if args.save_to else None
        firmware = (lambda: slots_firmware(service.status())) if service else running_firmware
        backend = LiveBackend(store, args.control, args.leases, saved=saved, firmware=firmware)
    app = create_app(test_config, backend, update_service=service)
    if args.demo:
        from webui.demo import feed_sample_traffic

        feed_sample_traffic(app.extensions["natbox"].backend)
    waited = args.wait_for_config and args.config
    if waited and not wait_for_file(args.config, args.wait_for_config):
        print(f"webui.serve: {args.config} did not appear; serving defaults", file=sys.stderr)
    host = args.host
    if args.host_file:
        try:
            host = Path(args.host_file).read_text().strip() or host
        except OSError as error:
            print(f"webui.serve: {error}; listening on {host}", file=sys.stderr)
    # The address we listen on is a Host the UI answers to (webui.hostcheck), also while a new
    # LAN address in the configuration waits for a restart.
    app.config["LISTEN_HOSTS"] = (host_name(host),)
    server = create_server(app, host=host, port=args.port, threads=4)
    print(f"listening on http://{host}:{server.effective_port}", flush=True)
    if args.https_port is not None:  # beside, so that HTTP answers while the key is made
        threading.Thread(target=start_https, args=(app, host, args), daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if app.extensions["natbox"].https is not None:
            app.extensions["natbox"].https.close()
    return 0


def start_https(app, host: str, args: argparse.Namespace, retry: float = 30.0) -> None:
    """The HTTPS listener, following the configuration's web.https. Without a certificate
    (the data partition full or read-only) it says so on stderr and tries again every
    ``retry`` seconds: the HTTP UI comes up regardless."""
    from webui import certificate
    from webui.https import HttpsListener

    backend = app.extensions["natbox"].backend
    said = ""
    while True:
        try:
            names, addresses = backend.get_config().own_names(), ()
            try:
                addresses = (str(ipaddress.ip_address(host)),)
            except ValueError:
                names = (host, *names)
            cert = certificate.ensure(Path(args.tls_dir), names, addresses)
            break
        except Exception as error:  # whatever it is, the UI must stay up
            if str(error) != said:
                print(f"webui.serve: no HTTPS yet: {error}", file=sys.stderr, flush=True)
            said = str(error)
            time.sleep(retry)
    if cert.made:
        print(f"webui.serve: made a self-signed certificate {cert.fingerprint}", flush=True)
    listener = HttpsListener(app, host, args.https_port, cert)
    app.extensions["natbox"].https = listener
    listener.follow(lambda: backend.get_config().web.https)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webui.serve", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
