"""Serve the web UI with waitress: ``python -m webui.serve [--host H] [--port P] [--config F]``.

Port 0 picks a free port; the address actually used is printed as ``listening on URL`` so a
test (or a lab script) can read it. ``--demo`` pushes a little traffic through the in-process
engine so the Connections and VPN Monitor pages have something to show.
"""

from __future__ import annotations

import argparse
import sys

from waitress.server import create_server

from webui import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webui.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="the LAN address in the appliance")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--config", help="configuration file (default: $NATBOX_CONFIG)")
    parser.add_argument("--demo", action="store_true", help="feed sample traffic at start")
    args = parser.parse_args(argv)
    app = create_app({"CONFIG_PATH": args.config} if args.config else None)
    if args.demo:
        from webui.demo import feed_sample_traffic

        feed_sample_traffic(app.extensions["natbox"].backend)
    server = create_server(app, host=args.host, port=args.port, threads=4)
    print(f"listening on http://{args.host}:{server.effective_port}", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
