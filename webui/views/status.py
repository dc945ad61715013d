"""Status: firmware, uptime, addresses, DHCP leases and the engine's counters."""

from __future__ import annotations

from flask import Blueprint, render_template

from webui.security import state

bp = Blueprint("status", __name__)


@bp.route("/")
def index():
    return render_template("status.html", status=state().backend.status())
