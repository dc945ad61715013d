"""Password hashes for the admin account, in Werkzeug's text format
(``scrypt:N:r:p$salt$hex`` or ``pbkdf2:HASH:ITERATIONS$salt$hex``) but computed here with
hashlib.

Why not werkzeug.security: the device runs Debian's Werkzeug 2.2, which has no scrypt (it
would pass "scrypt" to hmac as a digest name and fail), while the host runs a newer one. Our
own few lines give both the same hashes, readable by either Werkzeug.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

DEFAULT_METHOD = "scrypt:32768:8:1"  # Werkzeug >= 2.3's default parameters
SALT_CHARS = string.ascii_letters + string.digits
SALT_LENGTH = 16


class UnknownHashMethod(ValueError):
    pass


def _digest(method: str, salt: str, password: str) -> str:
    kind, *params = method.split(":")
    try:
        if kind == "scrypt":
            n, r, p = (int(x) for x in params) if params else (32768, 8, 1)
            raw = hashlib.scrypt(
                password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
            )
        elif kind == "pbkdf2":
            name = params[0] if params else "sha256"
            iterations = int(params[1]) if len(params) > 1 else 600000
            raw = hashlib.pbkdf2_hmac(name, password.encode(), salt.encode(), iterations)
        else:
            raise UnknownHashMethod(f"unknown password hash method {kind!r}")
    except (ValueError, TypeError) as error:  # bad parameters, digest names, memory limits
        raise UnknownHashMethod(f"unusable password hash method {method!r}: {error}") from error
    return raw.hex()


def hash_password(password: str, method: str = DEFAULT_METHOD) -> str:
    if method == "scrypt":
        method = DEFAULT_METHOD
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(SALT_LENGTH))
    return f"{method}${salt}${_digest(method, salt, password)}"


def check_password(stored: str, password: str) -> bool:
    """False for a wrong password and for a hash this module cannot read."""
    if stored.count("$") != 2:
        return False
    method, salt, expected = stored.split("$")
    try:
        return hmac.compare_digest(_digest(method, salt, password), expected)
    except UnknownHashMethod:
        return False
