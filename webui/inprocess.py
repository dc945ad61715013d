"""A RouterBackend with the NAT engine in this process (tests, demos, the browser test).

There are no interfaces: packets only arrive through :meth:`probe`. Everything else is the
real engine, the real VPN monitor and the real atomic config store, so what the UI shows and
changes is what a datapath built on the same engine would do.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nat import Drop, Engine, Log, Transmit
from nat.ipv4 import TCP, UDP, text
from nat.packets import SYN, segment
from nat.passthrough import VpnMonitor, default_helpers
from router.model import RouterConfig
from router.plan import restart_needed
from router.store import ConfigStore
from webui.backend import MAX_LOG, ApplyResult, running_firmware, vpn_event

MAX_EVENTS = 1000


class InProcessBackend:
    def __init__(
        self,
        store: ConfigStore,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self._lock = threading.RLock()  # waitress serves from several threads
        self.store = store
        self.clock = clock
        self.wall = wall
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.log: deque[dict[str, Any]] = deque(maxlen=MAX_LOG)
        self.dhcp_leases: list[dict[str, Any]] = []  # no DHCP server in-process
        self._boot()

    def _boot(self) -> None:
        self.config = self.booted_config = self.store.load()
        self.monitor = VpnMonitor()
        self.engine = Engine(self.config.nat, helpers=default_helpers(self.monitor))
        self.booted = self.clock()
        self.restart_required: list[str] = []
        self.note("boot", profile=self.config.nat.profile)

    def _uptime(self) -> float:
        return self.clock() - self.booted

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.wall(), UTC).strftime("%Y-%m-%d %H:%M:%S")

    def _consume(self, actions: list) -> None:
        for action in actions:
            if not isinstance(action, Log):
                continue
            if action.event.startswith("vpn_"):
                self.events.append(vpn_event(self._stamp(), self._uptime(), action))
            else:
                self.note(action.event, **action.fields)

    # -- RouterBackend ------------------------------------------------------------------------

    def get_config(self) -> RouterConfig:
        with self._lock:
            return self.config

    def apply_config(self, config: RouterConfig) -> ApplyResult:
        with self._lock:
            old = self.config
            self.store.save(config)  # first: if the disk refuses, nothing changes
            self.config = config
            reset = False
            if config.nat != old.nat:
                actions = self.engine.configure(config.nat, self._uptime())
                reset = any(
                    isinstance(a, Log) and a.event == "config_applied" and a.fields["flushed"]
                    for a in actions
                )
                self._consume(actions)
            self.restart_required = restart_needed(self.booted_config, config)
            self.note("config_saved", connections_reset=reset)
            return ApplyResult(reset, list(self.restart_required))

    def status(self) -> dict[str, Any]:
        with self._lock:
            nat = self.config.nat
            self._consume(self.engine.advance(self._uptime()))
            return {
                "hostname": self.config.hostname,
                "firmware": self.firmware(),
                "uptime_s": round(self._uptime(), 1),
                "lan": {"address": nat.lan_address, "prefix": nat.lan_prefix},
                "wan": {
                    "mode": self.config.wan.mode,
                    "addresses": list(nat.wan_addresses),
                    "gateway": self.config.wan.gateway,
                    "dns_servers": list(self.config.wan.dns_servers),
                },
                "dhcp_leases": list(self.dhcp_leases),
                "counters": self.engine.counters.snapshot(),
                "mappings": self.engine.mapping_count,
                "restart_required": list(self.restart_required),
            }

    def mappings(self) -> list[dict[str, Any]]:
        with self._lock:
            self._consume(self.engine.advance(self._uptime()))
            return self.engine.snapshot()

    def vpn_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def vpn_sessions(self) -> dict[str, Any]:
        with self._lock:
            return self.monitor.snapshot(self._uptime())

    def system_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.log)

    def firmware(self) -> dict[str, Any]:
        return running_firmware()

    def reboot(self) -> None:
        with self._lock:
            self.note("reboot")
            self._boot()

    def factory_reset(self) -> None:
        with self._lock:
            self.store.save(RouterConfig())
            self.events.clear()
            self.dhcp_leases.clear()
            self.note("factory_reset")
            self._boot()

    def note(self, event: str, **fields: Any) -> None:
        detail = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        self.log.append({"time": self._stamp(), "event": event, "detail": detail})

    def probe(
        self, side: str, proto: str, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, Any]:
        number = {"tcp": TCP, "udp": UDP}[proto]
        packet = segment(number, src, sport, dst, dport, flags=SYN) if number == TCP else None
        if packet is None:
            packet = segment(number, src, sport, dst, dport, payload=b"probe")
        with self._lock:
            actions = self.engine.receive(side, packet, self._uptime())
            self._consume(actions)
        for action in actions:
            if isinstance(action, Transmit):
                out = action.data
                ihl = (out[0] & 0x0F) * 4
                out_sport, out_dport = struct.unpack_from("!HH", out, ihl)
                return {
                    "verdict": "forwarded",
                    "reason": "",
                    "sent_on": action.side,
                    "source": f"{text(out[12:16])}:{out_sport}",
                    "destination": f"{text(out[16:20])}:{out_dport}",
                }
        reasons = [a.reason for a in actions if isinstance(a, Drop)]
        return {"verdict": "dropped", "reason": reasons[0] if reasons else "held"}
