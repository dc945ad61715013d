"""VPN Passthrough & ALG: one switch per protocol, with what it does and its security."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from nat.config import ConfigError
from router.edits import HELPER_NAMES, enable_warnings, port_list
from webui.backup import check_fits
from webui.security import state
from webui.settings import passthrough_rows, with_passthrough
from webui.views.common import save_and_report

bp = Blueprint("passthrough", __name__)


def split_names(text: str) -> list[str]:
    return [name for name in text.replace(",", " ").split() if name]


def given_ports(config) -> dict[str, str]:
    """The Ports fields ("554, 8554") as the ports given to helpers; a field left at the
    protocol's own ports, or emptied, gives it its own."""
    given: dict[str, str] = {}
    for row in passthrough_rows(config):
        name = row["name"]
        text = request.form.get(f"ports-{name}")
        if not row["configurable_ports"] or text is None:
            continue
        try:
            ports = port_list(text)
        except ValueError as error:
            raise ConfigError(f"helper_ports.{name}", str(error)) from None
        if ports != row["own_ports"]:
            given.update({str(port): name for port in ports})
    return given


@bp.route("/passthrough", methods=["GET", "POST"])
def index():
    config = state().backend.get_config()
    if request.method == "GET":
        return render_template(
            "passthrough.html",
            rows=passthrough_rows(config),
            sstp_servers="\n".join(config.nat.sstp_servers),
            sip_direct_media=config.nat.sip_direct_media,
            errors={},
        )
    enabled = {name: request.form.get(f"helper-{name}") == "on" for name in HELPER_NAMES}
    servers = request.form.get("sstp_servers", "")
    direct_media = request.form.get("sip_direct_media") == "on"
    try:
        ports = given_ports(config)
        new = with_passthrough(config, enabled, sstp_servers=split_names(servers),
                               helper_ports=ports, sip_direct_media=direct_media)  # fmt: skip
        check_fits(new)
    except ConfigError as error:
        rows = passthrough_rows(config)
        for row in rows:
            row["enabled"] = enabled[row["name"]]
            row["ports_text"] = request.form.get(f"ports-{row['name']}", "")
        errors = {error.field: error.message}
        return render_template(
            "passthrough.html", rows=rows, sstp_servers=servers,
            sip_direct_media=direct_media, errors=errors,
        ), 422  # fmt: skip
    save_and_report(new, "VPN passthrough settings")
    for warning in enable_warnings(config, new):
        flash(warning, "warn")
    return redirect(url_for("passthrough.index"))
