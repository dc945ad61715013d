"""Under /api every status is the API's JSON error, ``{"error": {"field", "message"}}``:
also 404 (no such route), 405 (wrong method, with its Allow header), 413 (body over
MAX_CONTENT_LENGTH) and 500 (a bug). Pages keep Flask's own short HTML answers."""

from __future__ import annotations

from flask import Flask, current_app
from werkzeug.exceptions import HTTPException

from webui.security import api_error, is_api_path

# The headers an HTTP error carries that a client needs (405's Allow, 503's Retry-After).
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


MESSAGES = {
    404: "no such API route (see /api/v1/openapi.json)",
    405: "method not allowed on this route (see the Allow header)",
    413: "request body too large",
    500: "internal error; the router's log has the details",
}


def _http_error(error: HTTPException):
    if not is_api_path() or error.code is None:
        return error
    message = MESSAGES.get(error.code) or error.name
    if error.code == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
        message += f" (at most {current_app.config['MAX_CONTENT_LENGTH']} bytes)"
    headers = {k: v for k, v in error.get_headers() if k in KEPT_HEADERS}
    return api_error(error.code, message, None, **headers)


def install(app: Flask) -> None:
    # Unhandled exceptions reach this handler as InternalServerError (Flask >= 1.1), after
    # Flask has logged the traceback.
    app.register_error_handler(HTTPException, _http_error)
