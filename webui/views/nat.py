"""NAT & Firewall: the NAT profile, port forwards, the DMZ host and flow offloading.

Port forwards are edited as numbered rows ``fw-<i>-<field>``; one empty row adds a forward.
Errors from the config model (``port_forwards[2].host``) are shown next to the row they name.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from nat.config import ConfigError
from nat.profiles import PROFILES
from nat.rules import unsafe_character
from webui.backup import check_fits
from webui.security import state
from webui.settings import with_nat
from webui.views.common import form_number, save_and_report

bp = Blueprint("nat", __name__)
FORWARD_FIELDS = ("name", "proto", "ext_port", "ext_port_end", "host", "host_port")
_ROW_ERROR = re.compile(r"^port_forwards\[(\d+)\]\.(\w+)$")


def forwards_from_form(form) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(forwards for the config, the same rows as typed, for redisplay with their errors)."""
    count = form_number(form.get("fw_count", ""))
    count = count if isinstance(count, int) else 0
    forwards, typed = [], []
    for i in range(min(count + 1, 1000)):  # existing rows plus the "add" row
        row = {f: form.get(f"fw-{i}-{f}", "").strip() for f in FORWARD_FIELDS}
        if i == count and not (row["ext_port"] or row["host"]):
            continue
        if form.get(f"fw-{i}-delete") == "on":
            continue
        typed.append(row)
        forward: dict[str, Any] = {"proto": row["proto"] or "tcp", "name": row["name"]}
        forward["ext_port"] = form_number(row["ext_port"])
        forward["host"] = row["host"]
        for optional in ("ext_port_end", "host_port"):
            if row[optional]:
                forward[optional] = form_number(row[optional])
        forwards.append(forward)
    return forwards, typed


def refuse_unsafe_text(typed: list[dict[str, str]]) -> None:
    """Control characters and the like never reach the model (or the page that shows them)."""
    for i, row in enumerate(typed):
        for name, text in row.items():
            problem = unsafe_character(text)
            if problem:
                raise ConfigError(f"port_forwards[{i}].{name}", problem)


def _form_field(error_field: str) -> str:
    """``port_forwards[2].host`` -> ``fw-2-host``: row 2 of the redisplayed form."""
    match = _ROW_ERROR.match(error_field)
    return f"fw-{match.group(1)}-{match.group(2)}" if match else error_field


def _render(profile, forwards, dmz_host, flow_offload, errors, status=200):
    return render_template(
        "nat.html",
        profiles=list(PROFILES),
        profile=profile,
        forwards=forwards,
        dmz_host=dmz_host or "",
        flow_offload=flow_offload,
        errors=errors,
    ), status


@bp.route("/nat", methods=["GET", "POST"])
def index():
    config = state().backend.get_config()
    if request.method == "GET":
        current = config.nat.to_dict()
        rows = [
            {f: "" if fw.get(f) is None else str(fw.get(f)) for f in FORWARD_FIELDS}
            for fw in current["port_forwards"]
        ]
        return _render(config.nat.profile, rows, config.nat.dmz_host, config.nat.flow_offload, {})
    forwards, typed = forwards_from_form(request.form)
    profile = request.form.get("profile", "")
    dmz = request.form.get("dmz_host", "").strip()
    offload = request.form.get("flow_offload") == "on"
    try:
        refuse_unsafe_text(typed)
        new = with_nat(config, profile, forwards, dmz or None, offload)
        check_fits(new)
    except ConfigError as error:
        # Redisplay the kept rows as typed, so error indices match the rows shown.
        errors = {_form_field(error.field): error.message}
        return _render(profile, typed, dmz, offload, errors, 422)
    save_and_report(new, "NAT & firewall settings")
    return redirect(url_for("nat.index"))
