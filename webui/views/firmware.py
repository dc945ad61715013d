"""Firmware: version and slots (upload and flashing arrive with the firmware update issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

from webui.security import state

bp = Blueprint("firmware", __name__)


@bp.route("/firmware")
def index():
    return render_template("firmware.html", firmware=state().backend.firmware())
