"""Connections: the live mapping table, filterable by protocol and text."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from webui.filters import filter_mappings
from webui.security import state

bp = Blueprint("connections", __name__)


@bp.route("/connections")
def index():
    q, proto = request.args.get("q", ""), request.args.get("proto", "")
    rows = state().backend.mappings()
    return render_template(
        "connections.html",
        rows=filter_mappings(rows, q, proto),
        total=len(rows),
        q=q,
        proto=proto,
    )
