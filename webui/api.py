"""The REST API under /api/v1: everything the pages do, with the same validation.

Log in with ``POST /api/v1/session`` (JSON); it sets the session cookie and returns the CSRF
token to send as ``X-CSRF-Token`` on every PUT/POST/DELETE. Errors are
``{"error": {"field": ..., "message": ...}}``; validation errors are 422 and name the field
as the configuration model does (``port_forwards[0].host``). The OpenAPI document
(``webui.openapi``) describes every route; a test keeps the two in step.
"""

from __future__ import annotations

import functools
import ipaddress
import json

from flask import Blueprint, Response, current_app, g, jsonify, request, session, url_for
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from nat.config import ConfigError
from router.edits import (
    KEEP,
    NAT_SETTINGS,
    PASSTHROUGH_SETTINGS,
    enable_warnings,
    set_lan,
    set_web,
)
from webui import jsonbody
from webui.backup import backup_json, check_fits
from webui.filters import events_csv, filter_events, filter_mappings
from webui.https import follow_https, web_access
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
from webui.views import firmware as firmware_views
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
    nat = config.nat.to_dict()
    return jsonify(
        {
            "protocols": passthrough_rows(config),
            **{name: nat[name] for name in PASSTHROUGH_SETTINGS},
        }
    )


@bp.put("/passthrough")
def put_passthrough():
    config = state().backend.get_config()
    data = _body()
    unknown = sorted(set(data) - {"helpers", *PASSTHROUGH_SETTINGS})
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")
    helpers = data.get("helpers", {})
    if not isinstance(helpers, dict):
        raise ConfigError("helpers", "expected an object of protocol: true/false")
    settings = {name: data[name] for name in PASSTHROUGH_SETTINGS if name in data}
    new = with_passthrough(config, helpers, **settings)
    return _apply(new, enable_warnings(config, new))


@bp.get("/nat")
def get_nat():
    nat = state().backend.get_config().nat.to_dict()
    return jsonify({k: nat[k] for k in NAT_SETTINGS})


@bp.put("/nat")
def put_nat():
    config = state().backend.get_config()
    data = _body()
    unknown = sorted(set(data) - set(NAT_SETTINGS))
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")
    current = config.nat.to_dict()
    new = with_nat(config, *(data.get(name, current[name]) for name in NAT_SETTINGS))
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


@bp.get("/system/web")
def get_web():
    return jsonify(web_access(state()))


@bp.put("/system/web")
def put_web():
    answer = _apply(set_web(state().backend.get_config(), _body()))
    follow_https(state())
    return answer


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


# -- firmware updates (router.update.service, imported when a route needs it) ------------------


@bp.get("/firmware")
def firmware():
    return jsonify(firmware_views.firmware_status())


def _updates():
    """The update service; without one (host development, the demo) 501."""
    service = state().update_service
    if service is None:
        raise NotImplementedError(firmware_views.UPDATES_NEED_DEVICE)
    return service


def _refusals(work):
    """The service's refusals as API errors: Busy 409, UpdateError 422 naming the check."""
    from router.update.service import Busy, UpdateError

    try:
        return work()
    except Busy as error:
        return api_error(409, str(error))
    except UpdateError as error:
        name, sep, _ = str(error).partition(":")
        return api_error(422, str(error), name if sep and name.isidentifier() else None)


def _option(data: dict, name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(name, "must be true or false")
    return value


def _known(data: dict, *allowed: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(unknown[0], "unknown setting")


def _options(data: dict) -> tuple[bool, bool]:
    return _option(data, "keep_settings", True), _option(data, "force", False)


QUERY_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def _query_flag(name: str, default: bool) -> bool:
    text = request.args.get(name)
    if text is None:
        return default
    if text.lower() not in QUERY_FLAGS:
        raise ConfigError(name, "must be true or false")
    return QUERY_FLAGS[text.lower()]


class _Upload:
    """The request body on its way to the service, counted: past ``limit`` the service
    refuses the file (and removes it); this says the refusal is a 413. A client that goes away
    midway is an OSError, which the service journals like a full disk."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.size, self.cut = raw, limit, 0, False

    def read(self, n: int = -1) -> bytes:
        try:
            chunk = self.raw.read(n)
        except ClientDisconnected:
            self.cut = True
            raise OSError("the upload was cut short (the client went away)") from None
        self.size += len(chunk)
        return chunk

    @property
    def over(self) -> bool:
        return self.size > self.limit


def _too_large(limit: int):
    return api_error(413, f"request body too large (a firmware file is at most {limit} bytes)",
                     "file")  # fmt: skip


@bp.post("/firmware/upload")
def firmware_upload():
    """The firmware file as the raw body, checked at once: the verdict is the answer, valid or
    not. Its own size limit (a firmware is far over MAX_CONTENT_LENGTH), so the body is read
    from the WSGI input, not through Flask's limited stream."""
    from router.firmware.verify import MAX_FIRMWARE_BYTES
    from router.update.service import UpdateError

    service = _updates()
    keep_settings, force = _query_flag("keep_settings", True), _query_flag("force", False)
    if (request.content_length or 0) > MAX_FIRMWARE_BYTES:
        return _too_large(MAX_FIRMWARE_BYTES)  # refused before a byte is stored
    if request.mimetype != "application/octet-stream":
        raise ConfigError("body", "expected the firmware file as the body "
                          "(Content-Type: application/octet-stream)")  # fmt: skip
    body = _Upload(get_input_stream(request.environ), MAX_FIRMWARE_BYTES)
    page = url_for("firmware.index", _external=True)
    source = "web UI" if request.referrer == page else "API"

    def receive_and_check():
        try:
            sha = service.receive(body, limit=MAX_FIRMWARE_BYTES, source=source)
        except UpdateError as error:
            if body.over:
                return _too_large(MAX_FIRMWARE_BYTES)
            if body.cut:
                return api_error(400, str(error), "file")
            raise
        verdict = service.check(keep_settings, force)
        options = {"keep_settings": keep_settings, "force": force}
        state().firmware_jobs.last_upload = {"sha256": sha, "verdict": verdict, **options}
        return jsonify({"sha256": sha, "verdict": verdict.to_dict()})

    return _refusals(receive_and_check)


def _refused(verdict):
    """422 with the verdict: every check, the failed ones named."""
    failed = verdict.failed()
    error = {"field": failed[0] if failed else None, "message": f"refused: {verdict.explain()}"}
    response = jsonify({"error": error, "verdict": verdict.to_dict()})
    response.status_code = 422
    return response


def _busy_jobs():
    return api_error(409, "a firmware update is already running; wait for it to finish")


def _verdict(service, keep_settings: bool, force: bool):
    """The upload's verdict when that file still waits and the options are the same (a new
    check would only say it again in the journal); else a new check."""
    from router.update.service import Busy

    last, now = state().firmware_jobs.last_upload, service.status()
    if now["busy"]:
        raise Busy("another update is in progress; wait for it to finish")
    options = {"keep_settings": keep_settings, "force": force}
    sha = now["update"].get("sha256")
    same = last and all(last[name] == value for name, value in options.items())
    if same and now["uploaded"] and last["sha256"] == sha:
        return last["verdict"]
    verdict = service.check(keep_settings, force)
    state().firmware_jobs.last_upload = {"sha256": sha, "verdict": verdict, **options}
    return verdict


def _start_install(service, keep_settings: bool, force: bool):
    """Check first (a refusal is the answer), then write and reboot in the background; the
    service checks again before it writes."""
    jobs = state().firmware_jobs
    if jobs.running():
        return _busy_jobs()
    verdict = _verdict(service, keep_settings, force)
    if not verdict.valid:
        return _refused(verdict)
    target = service.device.inactive
    work = functools.partial(firmware_views.install_then_reboot, service, keep_settings, force)
    if not jobs.start("firmware-install", work):
        return _busy_jobs()
    answer = {"state": "writing", "slot": target, "version": verdict.version,
              "previous_version": service.device.version, "keep_settings": keep_settings,
              "force": force, "verdict": verdict.to_dict()}  # fmt: skip
    return jsonify(answer), 202


@bp.post("/firmware/install")
def firmware_install():
    service = _updates()
    data = _body()
    _known(data, "keep_settings", "force")
    keep_settings, force = _options(data)
    return _refusals(lambda: _start_install(service, keep_settings, force))


@bp.post("/firmware/rollback")
def firmware_rollback():
    service = _updates()
    jobs = state().firmware_jobs
    delay = current_app.config["FIRMWARE_REBOOT_DELAY"]

    def roll_back():
        if jobs.running():
            return _busy_jobs()
        slot = service.rollback()
        version = service.status()["slots"][slot]["version"]
        reboot = functools.partial(firmware_views.reboot_later, service, delay)
        jobs.start("firmware-reboot", reboot)
        return jsonify({"state": "rolled back", "slot": slot, "version": version,
                        "rebooting": True}), 202  # fmt: skip

    return _refusals(roll_back)


def _server_url(data: dict) -> str:
    url = data.get("url")
    # No default update server yet: the request names it.
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("url", "the update server's URL is required")
    return url.strip()


@bp.post("/firmware/server/check")
def firmware_server_check():
    from router.update import server

    service = _updates()
    data = _body()
    _known(data, "url")
    try:
        return jsonify(server.check(_server_url(data), service.device.version))
    except server.ServerError as error:
        return api_error(502, f"update server: {error}", "url")


@bp.post("/firmware/server/install")
def firmware_server_install():
    """Download what the server offers through the same service, then install it as an
    upload would be: the same checks first, refused with the verdict."""
    from router.update import server

    service = _updates()
    data = _body()
    _known(data, "url", "keep_settings", "force")
    keep_settings, force = _options(data)
    url = _server_url(data)
    if state().firmware_jobs.running():
        return _busy_jobs()

    def download_and_install():
        try:
            offer = server.check(url, service.device.version)
            if not (offer["available"] or force):
                return api_error(422, f"the update server offers {offer['version']}, nothing "
                                 f"newer than {offer['running_version']}", "url")  # fmt: skip
            server.download(offer, service)
        except server.ServerError as error:
            return api_error(502, f"update server: {error}", "url")
        return _start_install(service, keep_settings, force)

    return _refusals(download_and_install)


@bp.get("/openapi.json")
def openapi():
    return Response(json.dumps(openapi_document()), mimetype="application/json")
