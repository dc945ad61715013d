"""VPN Monitor: the session event log, anomalies highlighted, filterable, exportable."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request

from nat.passthrough import HELPER_CLASSES
from webui.filters import events_csv, filter_events
from webui.security import state

bp = Blueprint("monitor", __name__)
EVENT_TYPES = ("vpn_session_start", "vpn_session_end", "vpn_session_refused", "vpn_anomaly")


def event_filters(args) -> dict:
    return {
        "protocol": args.get("protocol", ""),
        "event": args.get("event", ""),
        "q": args.get("q", ""),
        "anomalies_only": args.get("anomalies") in ("1", "on", "true"),
    }


@bp.route("/monitor")
def index():
    backend = state().backend
    filters = event_filters(request.args)
    return render_template(
        "monitor.html",
        events=filter_events(backend.vpn_events(), **filters),
        sessions=backend.vpn_sessions(),
        filters=filters,
        protocols=[cls.name for cls in HELPER_CLASSES],
        event_types=EVENT_TYPES,
        query=request.query_string.decode(),
    )


@bp.route("/monitor/export.<fmt>")
def export(fmt: str):
    rows = filter_events(state().backend.vpn_events(), **event_filters(request.args))
    if fmt == "csv":
        body, mimetype = events_csv(rows), "text/csv"
    elif fmt == "json":
        body, mimetype = json.dumps(rows, indent=2), "application/json"
    else:
        return Response("unknown export format", status=404, mimetype="text/plain")
    headers = {"Content-Disposition": f"attachment; filename=vpn-events.{fmt}"}
    return Response(body, mimetype=mimetype, headers=headers)
