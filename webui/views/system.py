"""System: reboot, backup and restore, factory reset, password change, system log."""

from __future__ import annotations

import json

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from nat.config import ConfigError
from router.store import parse_json
from webui.security import state
from webui.settings import restored
from webui.views.common import save_and_report

bp = Blueprint("system", __name__)


@bp.route("/system")
def index():
    return render_template("system.html", log=list(reversed(state().backend.system_log())))


@bp.route("/system/reboot", methods=["POST"])
def reboot():
    state().backend.reboot()
    return render_template("restarting.html", what="restarting")


@bp.route("/system/factory-reset", methods=["POST"])
def factory_reset():
    if request.form.get("confirm") != "on":
        flash("Tick the box to confirm the factory reset.", "error")
        return redirect(url_for("system.index"))
    web = state()
    web.backend.factory_reset()
    web.sessions.end_others(keep=None)  # the old password is gone, so are its sessions
    return render_template("restarting.html", what="resetting to factory settings")


@bp.route("/system/backup")
def backup():
    body = json.dumps(state().backend.get_config().to_dict(), indent=2, sort_keys=True)
    headers = {"Content-Disposition": "attachment; filename=natbox-config.json"}
    return Response(body + "\n", mimetype="application/json", headers=headers)


@bp.route("/system/restore", methods=["POST"])
def restore():
    web = state()
    upload = request.files.get("backup")
    try:
        if upload is None or not upload.filename:
            raise ConfigError("backup", "choose a backup file")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("backup", "not a natbox configuration backup") from None
        data = parse_json(text, "the backup")
        new = restored(web.backend.get_config(), data)
    except ConfigError as error:
        flash(f"Restore refused: {error.field}: {error.message}", "error")
        return redirect(url_for("system.index"))
    old_admin = web.backend.get_config().admin
    save_and_report(new, "Restored configuration")
    if new.admin != old_admin:  # another password now: other sessions end
        web.sessions.end_others(keep=g.sid)
    return redirect(url_for("system.index"))
