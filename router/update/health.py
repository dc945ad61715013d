"""The health check a new firmware must pass before it is marked good: the datapath daemon
forwarding, its configuration loaded, the web UI answering on the LAN. Each check returns
None or what is wrong."""

from __future__ import annotations

import http.client
from pathlib import Path

from router import control, paths
from router.store import ConfigStore


class Hopeless(Exception):
    """A check's problem that no waiting will fix: the waiting stops at once. (Defined here,
    beside the checks: router.update.boot runs as __main__, so a class of its own would be
    another class when a check imports it.)"""


def datapath() -> str | None:
    try:
        status = control.request(paths.control_path(), "status", timeout=3)
    except (OSError, ValueError) as error:
        return f"the datapath daemon does not answer ({error})"
    if not status.get("ok"):
        return f"the datapath daemon answers {status.get('error')!r}"
    if not status.get("forwarding"):
        return "the datapath daemon is not forwarding"
    return None


def configuration() -> str | None:
    try:
        running = ConfigStore(paths.running_store().path).load()
        status = control.request(paths.control_path(), "status", timeout=3)
    except Exception as error:  # any failure here is the answer: not healthy
        return f"the running configuration is not loaded ({error})"
    if status.get("profile") != running.nat.profile:
        return "the daemon does not run the saved configuration"
    return None


def web_ui(address_file=paths.RUN / "lan-address", port: int = 80) -> str | None:
    try:
        host = address_file.read_text().strip()
    except OSError:
        return "no LAN address yet"
    try:
        conn = http.client.HTTPConnection(host, port, timeout=3)
        conn.request("GET", "/login", headers={"Host": host})
        code = conn.getresponse().status
        conn.close()
    except OSError as error:
        return f"the web UI does not answer on {host}:{port} ({error})"
    return None if code == 200 else f"the web UI answers {code}"


def test_fault(path=Path("/etc/natbox/test-fault")) -> str | None:
    """Only test firmware (natbox firmware build --test-fault health-fails) has the file."""
    try:
        fault = path.read_text().strip()
    except OSError:
        return None
    if fault == "health-fails":
        raise Hopeless("this test firmware is built to fail its health check")
    return None


def appliance_checks() -> dict:
    return {"datapath": datapath, "configuration": configuration, "web UI": web_ui,
            "test fault": test_fault}  # fmt: skip
