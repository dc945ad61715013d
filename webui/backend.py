"""What the web UI needs from the router, as one small interface.

Two implementations:

- :class:`webui.inprocess.InProcessBackend`: a real ``nat.Engine`` in the web server's own
  process, with the configuration in a :class:`router.store.ConfigStore`. Used by the
  tests, the fast browser test and ``python -m webui.serve`` without a daemon.
- :class:`webui.live.LiveBackend`: the same methods, answered by the datapath daemon's local
  control socket (status, counters, mappings, events, vpn_sessions). Config changes are
  written with the same ``ConfigStore`` file the daemon reads and the daemon is told to
  ``reload``. ``python -m webui.serve --backend live --control SOCKET``.

Methods return plain JSON-able data so the pages and the REST API render the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from router.model import RouterConfig

if TYPE_CHECKING:
    from nat.actions import Log

MAX_LOG = 500


class RouterUnavailable(RuntimeError):
    """The router behind a backend cannot answer right now (starting, restarting, stopped):
    the UI answers 503 and tries again (webui.unavailable)."""


_EVENT_KEYS = ("protocol", "lan_host", "server")
# Written by the firmware build; absent outside the device.
DEVICE_VERSION_FILE = Path("/etc/natbox/version")


def vpn_event(at: str, uptime: float, log: Log) -> dict[str, Any]:
    """A monitor Log action as one row of the event log (both backends' format)."""
    fields = dict(log.fields)
    row = {
        "time": at,
        "uptime_s": round(uptime, 3),
        "event": log.event,
        "kind": fields.pop("kind", ""),
        "anomaly": log.event == "vpn_anomaly",
    }
    fields.pop("at", None)
    for key in _EVENT_KEYS:
        row[key] = str(fields.pop(key, "") or "")
    if not row["lan_host"] and "remote" in fields:
        row["server"] = str(fields.pop("remote"))
    row["detail"] = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return row


def running_firmware(version_file: Path = DEVICE_VERSION_FILE) -> dict[str, Any]:
    """The firmware version: the image's own on the device, the package's elsewhere."""
    try:
        version = version_file.read_text().strip()
    except OSError:
        import importlib.metadata  # about 0.1 s under TCG: only off the device

        try:
            version = importlib.metadata.version("natbox")
        except importlib.metadata.PackageNotFoundError:
            version = "dev"
    # Slots arrive with the firmware image; outside it there is only the running code.
    return {
        "version": version,
        "active_slot": "A",
        "slots": [
            {"name": "A", "version": version, "active": True},
            {"name": "B", "version": None, "active": False},
        ],
    }


def slots_firmware(update_status: dict[str, Any]) -> dict[str, Any]:
    """The same description from router.update.service's status(): on the device the booted
    slot and the versions come from the boot environment."""
    return {
        "version": update_status["running_version"],
        "active_slot": update_status["booted_slot"],
        "slots": [
            {"name": name, "version": slot["version"], "active": slot["booted"]}
            for name, slot in update_status["slots"].items()
        ],
    }


@dataclass(frozen=True)
class ApplyResult:
    """What a saved configuration did to the running router."""

    # The mapping table was rebuilt (NAT behaviour, addresses or port policy changed).
    connections_reset: bool = False
    # Settings saved but only effective after a reboot (see router.plan.RESTART_FIELDS).
    restart_required: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": True,
            "connections_reset": self.connections_reset,
            "restart_required": list(self.restart_required),
        }


class RouterBackend(Protocol):
    def get_config(self) -> RouterConfig: ...

    def apply_config(self, config: RouterConfig) -> ApplyResult:
        """Store atomically, then hand to the datapath; unrelated flows must survive."""
        ...

    def status(self) -> dict[str, Any]:
        """firmware, uptime_s, lan, wan, dhcp_leases, counters, restart_required."""
        ...

    def mappings(self) -> list[dict[str, Any]]:
        """The live mapping table, as ``nat.Engine.snapshot()`` returns it."""
        ...

    def vpn_events(self) -> list[dict[str, Any]]:
        """The VPN monitor's event log, oldest first (see vpn_event above)."""
        ...

    def vpn_sessions(self) -> dict[str, Any]:
        """``VpnMonitor.snapshot()``: active and recent sessions, anomalies."""
        ...

    def system_log(self) -> list[dict[str, Any]]: ...

    def firmware(self) -> dict[str, Any]:
        """version, active_slot, slots: [{name, version, active}]."""
        ...

    def reboot(self) -> None: ...

    def factory_reset(self) -> None: ...

    def note(self, event: str, **fields: Any) -> None:
        """Add a line to the system log (logins, saves: things only the UI knows)."""
        ...

    def probe(
        self, side: str, proto: str, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, Any]:
        """Push one synthetic TCP SYN / UDP packet through the datapath and report its fate.
        A backend that cannot inject packets raises NotImplementedError (API answers 501)."""
        ...
