"""The guard in front of every route: login, idle timeout, forced password change, CSRF.

- Every endpoint needs a live login session except ``PUBLIC_ENDPOINTS``.
- State-changing requests (POST, PUT, PATCH, DELETE) must carry the session's CSRF token:
  forms as a ``csrf_token`` field, API clients as an ``X-CSRF-Token`` header (the token comes
  back from ``POST /api/v1/session``). The login form has its own pre-session token; the JSON
  login needs none: it only accepts ``application/json``, which a cross-site form cannot send,
  and the SameSite=Strict cookie is not sent cross-site anyway.
- While the factory password is in effect only the password change and logout are reachable.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for

from webui.settings import must_change_password

PUBLIC_ENDPOINTS = {"auth.login", "api.login", "static"}
PASSWORD_CHANGE_ENDPOINTS = {
    "auth.change_password",
    "auth.logout",
    "api.change_password",
    "api.logout",
    "api.get_session",
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def state():
    return current_app.extensions["natbox"]


def api_error(status: int, message: str, field: str | None = None, **headers: str):
    response = jsonify({"error": {"field": field, "message": message}})
    response.status_code = status
    response.headers.update(headers)
    return response


def login_csrf_token() -> str:
    """The login form's token, tied to the pre-login cookie."""
    if "login_csrf" not in session:
        session["login_csrf"] = secrets.token_urlsafe(32)
    return session["login_csrf"]


def token_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected, given)


def is_api_path() -> bool:
    """Under /api every answer is JSON, even for a path no route matches."""
    return request.path == "/api" or request.path.startswith("/api/")


def _is_api() -> bool:
    return request.blueprint == "api" or is_api_path()


def _guard():
    if request.endpoint in PUBLIC_ENDPOINTS:
        login_post = request.endpoint == "auth.login" and request.method == "POST"
        if login_post and not token_matches(
            session.get("login_csrf"), request.form.get("csrf_token")
        ):
            abort(400, "The login form expired; please try again.")
        return None
    sid = session.get("sid")
    login = state().sessions.touch(sid)
    if login is None:
        session.pop("sid", None)
        if _is_api():
            return api_error(401, "log in first: POST /api/v1/session")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    g.login, g.sid = login, sid
    if request.method in UNSAFE_METHODS:
        given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
        if not token_matches(login.csrf_token, given):
            if _is_api():
                return api_error(403, "missing or wrong X-CSRF-Token header")
            abort(400, "The form expired (missing or wrong CSRF token); please try again.")
    if (
        must_change_password(state().backend.get_config())
        and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS
    ):
        if _is_api():
            return api_error(403, "change the default password first", "password")
        return redirect(url_for("auth.change_password"))
    return None


def _headers(response):
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # No inline script or style anywhere: the little JS there is lives in /static.
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _template_globals():
    login = g.get("login")
    return {
        "csrf_token": login.csrf_token if login else login_csrf_token(),
        "logged_in_as": login.username if login else None,
    }


def install(app: Flask) -> None:
    app.before_request(_guard)
    app.after_request(_headers)
    app.context_processor(_template_globals)
