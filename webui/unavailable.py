"""What the UI answers while the router cannot: 503 with Retry-After. The API gets its JSON
error; a browser gets the page that reloads itself once the status API answers again.

Why it matters: on the appliance the UI starts listening a moment before the datapath
daemon's control socket exists, and a daemon restart leaves the same gap.
"""

from __future__ import annotations

from flask import Flask, render_template, request

from webui.backend import RouterUnavailable
from webui.security import api_error

RETRY_AFTER_S = "2"


def _answer(error: RouterUnavailable):
    if request.path.startswith("/api/"):
        return api_error(503, f"the router is not answering yet: {error}", None,
                         **{"Retry-After": RETRY_AFTER_S})  # fmt: skip
    page = render_template("restarting.html", what="starting or not answering")
    return page, 503, {"Retry-After": RETRY_AFTER_S}


def install(app: Flask) -> None:
    app.register_error_handler(RouterUnavailable, _answer)
