"""The session cookie's name and flags, per request."""

from __future__ import annotations

from flask import request
from flask.sessions import SecureCookieSessionInterface

# Over HTTPS the cookie has its own name, with the __Host- prefix (RFC 6265bis: Secure, Path=/,
# no Domain, so no other name on the LAN can set it). One name for both would break HTTP:
# browsers refuse a plain-HTTP cookie that would overwrite a Secure one of the same name.
HTTPS_PREFIX = "__Host-"


class SchemeAwareCookie(SecureCookieSessionInterface):
    """Flask's session cookie (it holds only the session id), Secure and named apart when the
    request came over HTTPS: the UI serves HTTP and HTTPS side by side, and a cookie handed
    out over TLS must never be sent back in the clear."""

    def get_cookie_name(self, app) -> str:
        name = super().get_cookie_name(app)
        return HTTPS_PREFIX + name if request.is_secure else name

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure or super().get_cookie_secure(app)
