"""The session cookie's flags, per request."""

from __future__ import annotations

from flask import request
from flask.sessions import SecureCookieSessionInterface


class SchemeAwareCookie(SecureCookieSessionInterface):
    """Flask's session cookie (it holds only the session id), marked Secure when the request
    came over HTTPS: the UI serves HTTP and HTTPS side by side, and a cookie handed out over
    TLS must never be sent back in the clear."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure or super().get_cookie_secure(app)
