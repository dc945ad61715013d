"""Waiting for a peer program to be ready: a condition polled until it holds, the program's
own log in the error when it exits first or takes too long."""

from __future__ import annotations

import time
from collections.abc import Callable

from natbox.hil.hosts import Background, Host


def wait_until_ready(process: Background, ready: Callable[[], bool], what: str,
                     timeout: float = 15.0) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline or not process.running:
            state = "exited" if not process.running else f"not ready after {timeout:.0f} s"
            raise RuntimeError(f"{what} {state}: {process.output()[-1500:]}")
        time.sleep(0.05)


def sockets(host: Host, transport: str, port: int) -> int:
    """How many sockets on ``host`` listen on (TCP) or are bound to (UDP) ``port``."""
    flag = "-Hltn" if transport == "tcp" else "-Hlun"
    listing = host.run(["ss", flag, "sport", "=", f":{port}"], check=False).stdout
    return sum(1 for line in listing.splitlines() if line.strip())
