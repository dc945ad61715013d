"""Admin password hashes: ours, in Werkzeug's format, readable both ways."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from webui.passwords import DEFAULT_METHOD, check_password, hash_password

pytestmark = pytest.mark.unit


def test_default_is_scrypt_and_checks_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith(DEFAULT_METHOD + "$")
    assert check_password(stored, "correct horse")
    assert not check_password(stored, "correct horsf")
    assert hash_password("correct horse") != stored  # a fresh salt each time


def werkzeug_has(method: str) -> bool:
    try:
        generate_password_hash("x", method=method)
    except ValueError:
        return False
    return True


def test_werkzeug_on_the_device_has_no_scrypt_hence_this_module() -> None:
    """Werkzeug 2.2 (Debian bookworm, the firmware) has none; 2.3 and later have it."""
    major, minor = (int(x) for x in version("werkzeug").split(".")[:2])
    assert werkzeug_has("scrypt") == ((major, minor) >= (2, 3))


@pytest.mark.parametrize("method", ["scrypt", "scrypt:16384:8:1", "pbkdf2:sha256:1000"])
def test_werkzeug_reads_ours_and_we_read_werkzeugs(method: str) -> None:
    if not werkzeug_has(method):  # the device's Werkzeug: ours is the only scrypt there
        assert check_password(hash_password("s3cret-pass", method=method), "s3cret-pass")
        return
    ours = hash_password("s3cret-pass", method=method)
    assert check_password_hash(ours, "s3cret-pass")
    assert not check_password_hash(ours, "other-pass")
    theirs = generate_password_hash("s3cret-pass", method=method)
    assert check_password(theirs, "s3cret-pass")
    assert not check_password(theirs, "other-pass")


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "md5$salt$abc", "scrypt:x:8:1$salt$00", "pbkdf2:nosuch:10$s$00", "a$b$c$d"],
)
def test_unreadable_hashes_never_match(stored: str) -> None:
    assert not check_password(stored, "anything")


def test_unknown_method_is_refused_when_hashing() -> None:
    with pytest.raises(ValueError, match="unknown password hash method"):
        hash_password("s3cret-pass", method="md5")
