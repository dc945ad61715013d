"""A RouterBackend over a running datapath daemon (`natbox router`) and its control socket.

The UI process owns no engine: everything live (status, counters, mappings, VPN events and
sessions) is a control-socket query, answered by the daemon's own engine. Configuration goes
the one documented way: validated ``RouterConfig`` -> ``ConfigStore`` (the same file the
daemon was started with, ``natbox router --config FILE``) -> ``{"cmd": "reload"}``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nat import Log
from router import control
from router.model import RouterConfig
from router.store import ConfigStore
from webui.backend import (
    MAX_LOG,
    ApplyResult,
    RouterUnavailable,
    running_firmware,
    vpn_event,
)

Request = Callable[..., dict[str, Any]]


class DaemonError(RuntimeError):
    """The daemon refused a request (or could not be reached)."""


class DaemonUnreachable(DaemonError, RouterUnavailable):
    """No daemon on the control socket: at boot the UI listens before the daemon does."""


def read_leases(path: str | None, wall: float) -> list[dict[str, Any]]:
    """dnsmasq's lease file ("expiry mac address hostname client-id") as Status rows."""
    if not path:
        return []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []  # no lease handed out yet: dnsmasq writes the file on the first one
    leases = []
    for line in lines:
        words = line.split()
        if len(words) < 4 or not words[0].isdigit():
            continue
        expiry = int(words[0])  # 0: an infinite lease
        leases.append(
            {
                "hostname": "" if words[3] == "*" else words[3],
                "address": words[2],
                "mac": words[1],
                "expires_in": max(0, round(expiry - wall)) if expiry else 0,
            }
        )
    return leases


class LiveBackend:
    def __init__(
        self,
        store: ConfigStore,
        control_path: str,
        leases_path: str | None = None,
        saved: ConfigStore | None = None,
        request: Request = control.request,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        firmware: Callable[[], dict[str, Any]] = running_firmware,
    ):
        self._lock = threading.RLock()  # waitress serves from several threads
        self.store = store
        # On the appliance the update service knows the booted slot (webui.serve).
        self._firmware = firmware
        self.control_path = control_path
        self.leases_path = leases_path
        # On the appliance the daemon runs from a running configuration; Save & Apply also
        # makes it the saved one, so it survives a reboot (routerctl saves explicitly).
        self.saved = saved
        self._request = request
        self.clock = clock
        self.wall = wall
        self.log: deque[dict[str, Any]] = deque(maxlen=MAX_LOG)
        self.restart_required: list[str] = []
        self.note("ui_started", control=control_path)

    def _ask(self, cmd: str, **fields: Any) -> dict[str, Any]:
        try:
            answer = self._request(self.control_path, cmd, **fields)
        except OSError as error:
            raise DaemonUnreachable(
                f"datapath daemon unreachable at {self.control_path}: {error}"
            ) from None
        if not answer.get("ok"):
            raise DaemonError(f"datapath daemon refused {cmd!r}: {answer.get('error')}")
        return answer

    def _stamp(self, wall: float | None = None) -> str:
        at = self.wall() if wall is None else wall
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")

    def _events(self) -> list[dict[str, Any]]:
        return self._ask("events")["events"]

    def _wall_of(self, monotonic: float) -> float:
        # The daemon stamps events with CLOCK_MONOTONIC, which every process on the host
        # (and in every netns) shares: turn it into wall-clock time here.
        return self.wall() - (self.clock() - monotonic)

    # -- RouterBackend ------------------------------------------------------------------------

    def get_config(self) -> RouterConfig:
        return self.store.load()  # the file is the truth: routerctl may have changed it

    def apply_config(self, config: RouterConfig) -> ApplyResult:
        with self._lock:
            self.store.save(config)  # first: if the disk refuses, nothing changes
            answer = self._ask("reload")
            reset = bool(answer.get("flushed"))
            if self.saved is not None:
                self.saved.save(config)
            # The daemon knows which of its services took the change live and which wait for
            # a restart (router.plan.restart_needed against the configuration it started with).
            self.restart_required = list(answer.get("restart_required", []))
            self.note("config_saved", connections_reset=reset)
            return ApplyResult(reset, list(self.restart_required))

    def status(self) -> dict[str, Any]:
        config = self.store.load()
        daemon = self._ask("status")
        counters = self._ask("counters")
        merged = {k: v for k, v in counters["engine"].items() if isinstance(v, int)}
        for name, value in counters["driver"].items():
            if isinstance(value, int):
                merged[f"driver_{name}"] = value
        prefix = config.nat.lan_prefix
        wan = daemon["wan"]
        return {
            "hostname": config.hostname,
            "firmware": self.firmware(),
            "uptime_s": daemon["uptime"],
            "lan": {
                "address": daemon["lan"]["address"] or config.nat.lan_address,
                "prefix": prefix,
            },
            "wan": {
                "mode": config.wan.mode,
                "addresses": [wan["address"]] if wan["address"] else [],
                "gateway": wan["gateway"],
                "dns_servers": list(config.wan.dns_servers),
            },
            "dhcp_leases": read_leases(self.leases_path, self.wall()),
            "counters": merged,
            "mappings": daemon["mappings"],
            "restart_required": list(daemon.get("restart_required", self.restart_required)),
        }

    def mappings(self) -> list[dict[str, Any]]:
        return self._ask("mappings")["mappings"]

    def vpn_events(self) -> list[dict[str, Any]]:
        rows = []
        started = self.clock() - self._ask("status")["uptime"]
        for event in self._events():
            fields = dict(event)
            name, at = fields.pop("event", ""), fields.pop("time", self.clock())
            if name.startswith("vpn_"):
                wall = self._wall_of(at)
                rows.append(vpn_event(self._stamp(wall), at - started, Log(name, fields)))
        return rows

    def vpn_sessions(self) -> dict[str, Any]:
        return self._ask("vpn_sessions")["sessions"]

    def system_log(self) -> list[dict[str, Any]]:
        """What the UI noted plus the daemon's other log events, oldest first."""
        with self._lock:
            rows = [(row["_at"], row) for row in self.log]
        try:
            events = self._events()
        except DaemonError as error:
            events = [{"time": self.clock(), "event": "daemon_unreachable", "error": str(error)}]
        for event in events:
            fields = dict(event)
            name, at = fields.pop("event", ""), fields.pop("time", self.clock())
            if not name.startswith("vpn_"):
                detail = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
                row = {"time": self._stamp(self._wall_of(at)), "event": name, "detail": detail}
                rows.append((at, row))
        rows.sort(key=lambda pair: pair[0])
        return [{k: v for k, v in row.items() if k != "_at"} for _, row in rows]

    def firmware(self) -> dict[str, Any]:
        return self._firmware()

    def reboot(self) -> None:
        # The UI does not own the daemon's process (the lab or init does): a reboot re-reads
        # the stored configuration into the running datapath; addressing waits for a restart.
        with self._lock:
            self.note("reboot")
            self._ask("reload")

    def factory_reset(self) -> None:
        with self._lock:
            self.store.save(RouterConfig())
            self.note("factory_reset")
            self._ask("reload")

    def note(self, event: str, **fields: Any) -> None:
        detail = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        with self._lock:
            self.log.append(
                {"time": self._stamp(), "event": event, "detail": detail, "_at": self.clock()}
            )

    def probe(
        self, side: str, proto: str, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, Any]:
        raise NotImplementedError("the live datapath takes real packets: send one instead")
