"""The REST API under /api/v1: everything the pages do, with the same validation.

Log in with ``POST /api/v1/session`` (JSON); it sets the session cookie and returns the CSRF
token to send as ``X-CSRF-Token`` on every PUT/POST/DELETE. Errors are
``{"error": {"field": ..., "message": ...}}``; validation errors are 422 and name the field
as the configuration model does (``port_forwards[0].host``). The OpenAPI document
(``webui.openapi``) describes every route; a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import json

from flask import Blueprint, Response, current_app, g, jsonify, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from nat.config import ConfigError
from router.edits import KEEP, enable_warnings, set_lan
from webui import jsonbody
from webui.backup import backup_json, check_fits
from webui.filters import events_csv, filter_events, filter_mappings
from webui.openapi import openapi_document
from webui.security import api_error, state
from webui.settings import (
    must_change_password,
    passthrough_rows,
    password_ok,
    restored,
    with_nat,
    with_passthrough,
    with_password,
    with_sections,
)
from webui.views.monitor import event_filters

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body(root: str = "body") -> dict:
    """The request's JSON object, read strictly (webui.jsonbody): the one place every API body
    comes through, so nothing malformed reaches the model. ``root`` names the whole body in
    errors."""
    expected = "expected a JSON object (Content-Type: application/json)"
    if not request.is_json:
        raise ConfigError(root, expected)
    data = jsonbody.loads(_limited_body(), root)
    if not isinstance(data, dict):
        raise ConfigError(root, expected)
    return data


def _limited_body() -> bytes:
    """The body, at most MAX_CONTENT_LENGTH bytes: Werkzeug 2.2 (on the device) applies that
    limit to form posts only, and a chunked body has no Content-Length to check first."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return request.get_data()
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    data = request.stream.read(limit + 1)
    # Werkzeug >= 2.3 stops its stream at the limit itself: one more byte tells.
    if len(data) > limit or (len(data) == limit and request.stream.read(1)):
        raise RequestEntityTooLarge()
    return data


def _apply(new, warnings=()):
    check_fits(new)
    result = state().backend.apply_config(new)
    # Risky but legal settings are applied, and said (the model names them).
    risky = [f"{field}: {message}" for field, message in new.warnings()]
    return jsonify({**result.as_dict(), "warnings": [*warnings, *risky]})


@bp.errorhandler(ConfigError)
def _invalid(error: ConfigError):
    return api_error(422, error.message, error.field)


@bp.errorhandler(NotImplementedError)
def _unsupported(error: NotImplementedError):
    return api_error(501, str(error) or "not supported by this router backend")


# -- session ------------------------------------------------------------------------------


@bp.post("/session")
def login():
    web = state()
    client = request.remote_addr or "?"
    wait = web.throttle.retry_after(client)
    if wait:
        return api_error(429, "too many failed logins", None, **{"Retry-After": str(int(wait) + 1)})
    data = _body()
    username, password = data.get("username"), data.get("password")
    config = web.backend.get_config()
    if not (isinstance(username, str) and isinstance(password, str)) or not password_ok(
        config, username, password
    ):
        web.throttle.failed(client)
        web.backend.note("login_failed", client=client, via="api")
        return api_error(401, "wrong user name or password")
    web.throttle.succeeded(client)
    web.backend.note("login", user=username, client=client, via="api")
    session.clear()
    session["sid"] = sid = web.sessions.create(username)
    return jsonify(_session_info(web.sessions.touch(sid)))


def _session_info(login):
    return {
        "username": login.username,
        "csrf_token": login.csrf_token,
        "must_change_password": must_change_password(state().backend.get_config()),
    }


@bp.get("/session")
def get_session():
    return jsonify(_session_info(g.login))


@bp.delete("/session")
def logout():
    state().sessions.end(g.sid)
    session.clear()
    return jsonify({"logged_out": True})


# -- status, connections, VPN monitor ---------------------------------------------------------


@bp.get("/status")
def status():
    return jsonify(state().backend.status())


@bp.get("/connections")
def connections():
    rows = state().backend.mappings()
    return jsonify(filter_mappings(rows, request.args.get("q", ""), request.args.get("proto", "")))


@bp.get("/vpn/events")
def vpn_events():
    rows = filter_events(state().backend.vpn_events(), **event_filters(request.args))
    if request.args.get("format") == "csv":
        return Response(events_csv(rows), mimetype="text/csv")
    return jsonify(rows)


@bp.get("/vpn/sessions")
def vpn_sessions():
    return jsonify(state().backend.vpn_sessions())


# -- configuration ----------------------------------------------------------------------------


@bp.get("/config")
def get_config():
    return jsonify(state().backend.get_config().to_dict(secrets=False))


@bp.put("/config")
def put_config():
    return _apply(with_sections(state().backend.get_config(), _body()))


@bp.get("/passthrough")
def get_passthrough():
    config = state().backend.get_config()
    return jsonify(
        {"protocols": passthrough_rows(config), "sstp_servers": list(config.nat.sstp_servers)}
    )


@bp.put("/passthrough")
def put_passthrough():
    config = state().backend.get_config()
    data = _body()
    unknown = sorted(set(data) - {"helpers", "sstp_servers"})
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")
    helpers = data.get("helpers", {})
    if not isinstance(helpers, dict):
        raise ConfigError("helpers", "expected an object of protocol: true/false")
    new = with_passthrough(config, helpers, data.get("sstp_servers", KEEP))
    return _apply(new, enable_warnings(config, new))


@bp.get("/nat")
def get_nat():
    nat = state().backend.get_config().nat.to_dict()
    return jsonify({k: nat[k] for k in ("profile", "port_forwards", "dmz_host")})


@bp.put("/nat")
def put_nat():
    config = state().backend.get_config()
    data = _body()
    unknown = sorted(set(data) - {"profile", "port_forwards", "dmz_host"})
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")
    current = config.nat.to_dict()
    new = with_nat(
        config,
        data.get("profile", current["profile"]),
        data.get("port_forwards", current["port_forwards"]),
        data.get("dmz_host", current["dmz_host"]),
    )
    return _apply(new)


@bp.get("/lan")
def get_lan():
    config = state().backend.get_config().to_dict()
    return jsonify({"hostname": config["hostname"], "dhcp": config["dhcp"]})


@bp.put("/lan")
def put_lan():
    config = state().backend.get_config()
    data = _body()
    unknown = sorted(set(data) - {"hostname", "dhcp"})
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")
    return _apply(set_lan(config, data.get("hostname", KEEP), data.get("dhcp", KEEP)))


# -- system and firmware ----------------------------------------------------------------------


@bp.put("/system/password")
def change_password():
    web = state()
    data = _body()
    config = web.backend.get_config()
    new = with_password(
        config,
        data.get("current_password"),
        data.get("new_password"),
        data.get("confirm_password"),
        method=current_app.config["PASSWORD_METHOD"],
    )
    web.backend.apply_config(new)
    web.sessions.end_others(keep=g.sid)
    web.backend.note("password_changed", user=config.admin.username, via="api")
    return jsonify({"changed": True})


@bp.post("/system/reboot")
def reboot():
    state().backend.reboot()
    return jsonify({"rebooting": True}), 202


@bp.post("/system/factory-reset")
def factory_reset():
    web = state()
    web.backend.factory_reset()
    web.sessions.end_others(keep=None)
    return jsonify({"rebooting": True}), 202


@bp.get("/system/backup")
def backup():
    return Response(backup_json(state().backend.get_config()), mimetype="application/json")


@bp.post("/system/restore")
def restore():
    web = state()
    old = web.backend.get_config()
    new = restored(old, _body("backup"))
    response = _apply(new)
    if new.admin != old.admin:
        web.sessions.end_others(keep=g.sid)
    return response


@bp.get("/system/log")
def system_log():
    return jsonify(state().backend.system_log())


@bp.get("/firmware")
def firmware():
    return jsonify(state().backend.firmware())


@bp.post("/diagnostics/probe")
def probe():
    data = _body()
    side = data.get("side", "lan")
    if side not in ("lan", "wan"):
        raise ConfigError("side", "must be 'lan' or 'wan'")
    proto = data.get("proto", "tcp")
    if proto not in ("tcp", "udp"):
        raise ConfigError("proto", "must be 'tcp' or 'udp'")
    for name in ("sport", "dport"):
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise ConfigError(name, "must be a port number")
    for name in ("src", "dst"):
        try:
            ipaddress.IPv4Address(data.get(name) if isinstance(data.get(name), str) else "")
        except ValueError:
            raise ConfigError(name, "not an IPv4 address") from None
    result = state().backend.probe(
        side, proto, data["src"], data["sport"], data["dst"], data["dport"]
    )
    return jsonify(result)


@bp.get("/openapi.json")
def openapi():
    return Response(json.dumps(openapi_document()), mimetype="application/json")
