"""Login, logout and the password change (forced while the factory password is in effect)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from nat.config import ConfigError
from webui.security import login_csrf_token, state
from webui.settings import must_change_password, password_ok, with_password

bp = Blueprint("auth", __name__)
# A path starting with one "/", of visible ASCII without "\\".
_LOCAL_PATH = re.compile(r"/(?![/\\])[!-\[\]-~]*")


def _safe_next(target: str | None) -> str:
    """Only a local path: an open redirect after login would help phishing. Browsers drop
    tabs and newlines from a URL (slash, tab, slash is "//" to them) and read a backslash as
    "/", so anything but visible ASCII is refused rather than cleaned."""
    if not target or not _LOCAL_PATH.fullmatch(target):
        return url_for("status.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return url_for("status.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    web = state()
    if request.method == "GET":
        login_csrf_token()
        return render_template("login.html", next=request.args.get("next", ""))
    client = request.remote_addr or "?"
    wait = web.throttle.retry_after(client)
    if wait:
        flash(f"Too many failed logins. Try again in {int(wait) + 1} s.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 429
    config = web.backend.get_config()
    username = request.form.get("username", "")
    if not password_ok(config, username, request.form.get("password", "")):
        web.throttle.failed(client)
        web.backend.note("login_failed", client=client)
        flash("Wrong user name or password.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 401
    web.throttle.succeeded(client)
    web.backend.note("login", user=username, client=client)
    session.clear()  # a new id for the new privilege level (no session fixation)
    session["sid"] = web.sessions.create(username)
    if must_change_password(config):
        return redirect(url_for("auth.change_password"))
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    state().sessions.end(g.sid)
    session.clear()
    flash("Logged out.", "ok")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    web = state()
    config = web.backend.get_config()
    forced = must_change_password(config)
    if request.method == "GET":
        return render_template("change_password.html", forced=forced, errors={})
    try:
        new = with_password(
            config,
            request.form.get("current_password"),
            request.form.get("new_password"),
            request.form.get("confirm_password", ""),
            method=current_app.config["PASSWORD_METHOD"],
        )
    except ConfigError as error:
        errors = {error.field: error.message}
        return render_template("change_password.html", forced=forced, errors=errors), 422
    web.backend.apply_config(new)
    web.sessions.end_others(keep=g.sid)
    web.backend.note("password_changed", user=config.admin.username)
    flash("Password changed.", "ok")
    return redirect(url_for("status.index"))
