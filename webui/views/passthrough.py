"""VPN Passthrough & ALG: one switch per protocol, with what it does and its security."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from nat.config import ConfigError
from router.edits import HELPER_NAMES, enable_warnings
from webui.backup import check_fits
from webui.security import state
from webui.settings import passthrough_rows, with_passthrough
from webui.views.common import save_and_report

bp = Blueprint("passthrough", __name__)


def split_names(text: str) -> list[str]:
    return [name for name in text.replace(",", " ").split() if name]


@bp.route("/passthrough", methods=["GET", "POST"])
def index():
    config = state().backend.get_config()
    if request.method == "GET":
        return render_template(
            "passthrough.html",
            rows=passthrough_rows(config),
            sstp_servers="\n".join(config.nat.sstp_servers),
            errors={},
        )
    enabled = {name: request.form.get(f"helper-{name}") == "on" for name in HELPER_NAMES}
    servers = request.form.get("sstp_servers", "")
    try:
        new = with_passthrough(config, enabled, split_names(servers))
        check_fits(new)
    except ConfigError as error:
        rows = passthrough_rows(config)
        for row in rows:
            row["enabled"] = enabled[row["name"]]
        errors = {error.field: error.message}
        return render_template(
            "passthrough.html", rows=rows, sstp_servers=servers, errors=errors
        ), 422
    save_and_report(new, "VPN passthrough settings")
    for warning in enable_warnings(config, new):
        flash(warning, "warn")
    return redirect(url_for("passthrough.index"))
