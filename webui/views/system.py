"""System: reboot, backup and restore, factory reset, password change, system log."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from nat.config import ConfigError
from router.edits import set_web
from webui import jsonbody
from webui.backup import backup_json
from webui.https import follow_https, web_access
from webui.security import state
from webui.settings import restored
from webui.views.common import save_and_report

bp = Blueprint("system", __name__)


@bp.route("/system")
def index():
    web = state()
    log = list(reversed(web.backend.system_log()))
    return render_template("system.html", log=log, access=web_access(web))


@bp.route("/system/web", methods=["POST"])
def web_settings():
    web = state()
    try:
        new = set_web(web.backend.get_config(), {"https": request.form.get("https") == "on"})
    except ConfigError as error:
        flash(f"Not saved: {error.field}: {error.message}", "error")
        return redirect(url_for("system.index"))
    save_and_report(new, "Web access")
    follow_https(web)
    return redirect(url_for("system.index"))


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
    headers = {"Content-Disposition": "attachment; filename=natbox-config.json"}
    body = backup_json(state().backend.get_config())
    return Response(body + "\n", mimetype="application/json", headers=headers)


@bp.route("/system/restore", methods=["POST"])
def restore():
    web = state()
    upload = request.files.get("backup")
    try:
        if upload is None or not upload.filename:
            raise ConfigError("backup", "choose a backup file")
        new = restored(web.backend.get_config(), jsonbody.loads(upload.read(), "backup"))
    except ConfigError as error:
        flash(f"Restore refused: {error.field}: {error.message}", "error")
        return redirect(url_for("system.index"))
    old_admin = web.backend.get_config().admin
    save_and_report(new, "Restored configuration")
    if new.admin != old_admin:  # another password now: other sessions end
        web.sessions.end_others(keep=g.sid)
    return redirect(url_for("system.index"))
