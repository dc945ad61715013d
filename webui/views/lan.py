"""LAN & DHCP: the router's name and the DHCP server on its LAN (dnsmasq on the device)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from nat.config import ConfigError
from router.edits import set_lan
from webui.backup import check_fits
from webui.security import state
from webui.views.common import form_number, save_and_report

bp = Blueprint("lan", __name__)
# The fields this page has inputs for; an error about any other (a static lease the API set)
# is shown above the button.
SHOWN = ("hostname", "dhcp.enabled", "dhcp.first", "dhcp.last", "dhcp.lease_time")


@bp.route("/lan", methods=["GET", "POST"])
def index():
    config = state().backend.get_config()
    if request.method == "GET":
        form = {
            "hostname": config.hostname,
            "enabled": config.dhcp.enabled,
            "first": config.dhcp.first,
            "last": config.dhcp.last,
            "lease_time": str(config.dhcp.lease_time),
        }
        return _render(config, form, {})
    form = {
        "hostname": request.form.get("hostname", "").strip(),
        "enabled": request.form.get("dhcp_enabled") == "on",
        "first": request.form.get("first", "").strip(),
        "last": request.form.get("last", "").strip(),
        "lease_time": request.form.get("lease_time", ""),
    }
    dhcp = {k: form[k] for k in ("enabled", "first", "last")}
    dhcp["lease_time"] = form_number(form["lease_time"])
    try:
        new = set_lan(config, form["hostname"], dhcp)
        check_fits(new)
    except ConfigError as error:
        return _render(config, form, {error.field: error.message}, 422)
    save_and_report(new, "LAN & DHCP settings")
    return redirect(url_for("lan.index"))


def _render(config, form, errors, status=200):
    network = config.nat.lan_network()
    return render_template(
        "lan.html",
        form=form,
        errors=errors,
        shown=SHOWN,
        lan=f"{config.nat.lan_address}/{network.prefixlen}",
    ), status
