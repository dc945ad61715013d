"""natbox's management web UI and REST API (Flask).

``create_app`` builds the application: one blueprint per area (``webui.views.*``) plus the
REST API (``webui.api``), all behind the login and CSRF guard in ``webui.security``. The
router itself is reached only through a :class:`webui.backend.RouterBackend`; firmware updates
through a ``router.update.service.UpdateService`` when there is one (on the device only).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webui.backend import RouterBackend
from webui.sessions import SessionRegistry
from webui.throttle import LoginThrottle

if TYPE_CHECKING:  # Flask is imported by create_app: `natbox router` never loads it
    from flask import Flask

DEFAULT_CONFIG_PATH = "/data/natbox/config.json"


@dataclass
class WebState:
    """What the blueprints share, kept in ``app.extensions["natbox"]``."""

    backend: RouterBackend
    sessions: SessionRegistry
    throttle: LoginThrottle
    # router.update.service.UpdateService, or None: the device has one, host runs do not.
    update_service: Any = None
    # webui.views.firmware.FirmwareJobs: the background install and the reboot after it.
    firmware_jobs: Any = None
    # webui.https.HttpsListener when the server offers HTTPS (webui.serve --https-port).
    https: Any = None


def create_app(
    test_config: dict[str, Any] | None = None,
    backend: RouterBackend | None = None,
    update_service: Any = None,
) -> Flask:
    from flask import Flask

    app = Flask(__name__)
    app.config.from_mapping(
        # A fresh key per start: a reboot logs everyone out, as on a real router.
        SECRET_KEY=os.urandom(32),
        SESSION_COOKIE_NAME="natbox_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Secure only over HTTPS (webui.cookies.SchemeAwareCookie): HTTP is served too.
        SESSION_COOKIE_SECURE=False,
        IDLE_TIMEOUT=600.0,
        CLOCK=time.monotonic,
        CONFIG_PATH=os.environ.get("NATBOX_CONFIG", DEFAULT_CONFIG_PATH),
        PASSWORD_METHOD="scrypt",
        MAX_CONTENT_LENGTH=1024 * 1024,  # the firmware upload has its own limit
        # Between a rollback's answer and the reboot: time for the answer to get out.
        FIRMWARE_REBOOT_DELAY=1.0,
    )
    if test_config:
        app.config.update(test_config)

    def clock() -> float:
        return app.config["CLOCK"]()  # looked up each time, so tests can move it

    if backend is None:
        from router.store import ConfigStore
        from webui.inprocess import InProcessBackend

        backend = InProcessBackend(ConfigStore(app.config["CONFIG_PATH"]), clock=clock)
    from webui.views.firmware import FirmwareJobs

    app.extensions["natbox"] = WebState(
        backend=backend,
        sessions=SessionRegistry(clock, app.config["IDLE_TIMEOUT"]),
        throttle=LoginThrottle(clock),
        update_service=update_service,
        firmware_jobs=FirmwareJobs(),
    )

    from webui import api, api_errors, hostcheck, security, unavailable
    from webui.cookies import SchemeAwareCookie
    from webui.views import (
        auth,
        connections,
        firmware,
        lan,
        monitor,
        nat,
        passthrough,
        status,
        system,
    )

    app.session_interface = SchemeAwareCookie()
    hostcheck.install(app)  # first: nothing else runs for a request meant for another host
    security.install(app)
    unavailable.install(app)
    api_errors.install(app)
    pages = (auth, status, passthrough, nat, lan, connections, monitor, system, firmware, api)
    for module in pages:
        app.register_blueprint(module.bp)
    return app
