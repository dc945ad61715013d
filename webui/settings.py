"""Changes the pages and the API make to the router configuration.

Each function takes the current RouterConfig and user input and returns a new, validated
RouterConfig (or raises ConfigError naming the field). The pages and the REST API both call
these, so they validate identically.
"""

from __future__ import annotations

import hmac
from typing import Any

from nat.config import ConfigError
from nat.passthrough import HELPER_CLASSES
from nat.profiles import PROFILES
from nat.router_config import FACTORY_PASSWORD, RouterConfig
from webui.passwords import check_password, hash_password

MIN_PASSWORD_LENGTH = 8
PPTP_WARNING = (
    "PPTP's security is rated very low: its weak encryption is broken quickly by modern "
    "attacks. Use it only as a last resort for non-critical traffic, and switch it off after."
)
# Settings a NAT profile sets together; a new profile must not inherit the old one's values.
_PROFILE_KEYS = {key for settings in PROFILES.values() for key in settings}


def passthrough_rows(config: RouterConfig) -> list[dict[str, Any]]:
    """One row per protocol, with the facts the README table shows, and its switch."""
    return [
        {
            "name": cls.name,
            "title": cls.title,
            "carries": cls.carries,
            "security": cls.security,
            "use_case": cls.use_case,
            "when_enabled": cls.when_enabled,
            "when_disabled": cls.when_disabled,
            "default_enabled": cls.default_enabled,
            "default_reason": cls.default_reason,
            "enabled": config.nat.helper_enabled(cls.name, cls.default_enabled),
            "warning": PPTP_WARNING if cls.name == "pptp" else "",
        }
        for cls in HELPER_CLASSES
    ]


def helper_names() -> list[str]:
    return [cls.name for cls in HELPER_CLASSES]


def with_passthrough(
    config: RouterConfig, enabled: dict[str, Any], sstp_servers: Any = None
) -> RouterConfig:
    unknown = sorted(set(enabled) - set(helper_names()))
    if unknown:
        raise ConfigError(f"helpers.{unknown[0]}", "no such protocol")
    data = config.to_dict()
    data["nat"]["helpers"] = {**data["nat"]["helpers"], **enabled}
    if sstp_servers is not None:
        data["nat"]["sstp_servers"] = sstp_servers
    return _unprefixed(data, "nat.")


def with_nat(config: RouterConfig, profile: Any, port_forwards: Any, dmz_host: Any) -> RouterConfig:
    data = config.to_dict()
    nat = data["nat"]
    if profile != nat["profile"]:
        for key in _PROFILE_KEYS:
            nat.pop(key, None)
    nat.update(profile=profile, port_forwards=port_forwards, dmz_host=dmz_host)
    return _unprefixed(data, "nat.")


def with_sections(config: RouterConfig, changes: dict[str, Any]) -> RouterConfig:
    """A whole-config update from the API; the admin account is not changed this way."""
    if not isinstance(changes, dict):
        raise ConfigError("config", "must be an object")
    if "admin" in changes:
        raise ConfigError("admin", "change the password through /api/v1/system/password")
    data = {**config.to_dict(), **changes}
    data["admin"] = config.to_dict()["admin"]
    return RouterConfig.from_dict(data)


def restored(config: RouterConfig, backup: Any) -> RouterConfig:
    """A backup file as the new config; one without an admin account keeps the current one."""
    if not isinstance(backup, dict):
        raise ConfigError("backup", "not a natbox configuration backup")
    data = dict(backup)
    data.setdefault("admin", config.to_dict()["admin"])
    return RouterConfig.from_dict(data)


def password_ok(config: RouterConfig, username: str, password: str) -> bool:
    admin = config.admin
    if not hmac.compare_digest(username.encode(), admin.username.encode()):
        return False
    if not admin.password_hash:
        return hmac.compare_digest(password.encode(), FACTORY_PASSWORD.encode())
    return check_password(admin.password_hash, password)


def must_change_password(config: RouterConfig) -> bool:
    return config.admin.must_change_password or not config.admin.password_hash


def with_password(
    config: RouterConfig, current: Any, new: Any, confirm: Any, method: str = "scrypt"
) -> RouterConfig:
    for name, value in (("current_password", current), ("new_password", new)):
        if not isinstance(value, str):
            raise ConfigError(name, "required")
    if not password_ok(config, config.admin.username, current):
        raise ConfigError("current_password", "wrong password")
    if confirm is not None and confirm != new:
        raise ConfigError("confirm_password", "does not match the new password")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise ConfigError("new_password", f"at least {MIN_PASSWORD_LENGTH} characters")
    if new in (FACTORY_PASSWORD, config.admin.username) or new == current:
        raise ConfigError("new_password", "choose a password that is not the old or default one")
    admin = config.admin.__class__(
        username=config.admin.username,
        password_hash=hash_password(new, method=method),
        must_change_password=False,
    )
    return config.replace(admin=admin)


def _unprefixed(data: dict[str, Any], prefix: str) -> RouterConfig:
    """Validate; errors from one section are reported without the section prefix, as the
    page and API for that section name their fields."""
    try:
        return RouterConfig.from_dict(data)
    except ConfigError as error:
        name = error.field.removeprefix(prefix)
        raise ConfigError(name, error.message) from None
