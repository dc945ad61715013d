"""What several pages share: saving a configuration and reporting what it did."""

from __future__ import annotations

from flask import flash

from router.model import RouterConfig
from webui.backend import ApplyResult
from webui.security import state

RESTART_LABELS = {
    "nat.lan_address": "LAN address",
    "nat.lan_prefix": "LAN prefix",
    "nat.wan_addresses": "WAN addresses",
    "wan.mode": "WAN mode",
    "wan.prefix": "WAN prefix",
    "wan.gateway": "WAN gateway",
}


def save_and_report(config: RouterConfig, what: str) -> ApplyResult:
    result = state().backend.apply_config(config)
    flash(f"{what} saved and applied.", "ok")
    if result.connections_reset:
        flash("The NAT behaviour changed: existing connections were reset.", "warn")
    if result.restart_required:
        labels = ", ".join(RESTART_LABELS.get(f, f) for f in result.restart_required)
        flash(f"Restart needed for: {labels}. Reboot from the System page.", "warn")
    return result
