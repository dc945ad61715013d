"""What the pages and the API add to the configuration edits (``router.edits``, which
routerctl uses too): the passthrough page's rows, the admin password, and errors named the way
a section's page and API name their fields (``dmz_host``, not ``nat.dmz_host``).
"""

from __future__ import annotations

import hmac
from typing import Any

from nat.config import ConfigError
from nat.passthrough import HELPER_CLASSES
from nat.rules import unsafe_character
from router import edits
from router.edits import restored, with_sections
from router.model import FACTORY_PASSWORD, RouterConfig
from webui.passwords import check_password, hash_password

__all__ = ["restored", "with_sections"]  # the API imports every section's edit from here

MIN_PASSWORD_LENGTH = 8


def passthrough_rows(config: RouterConfig) -> list[dict[str, Any]]:
    """One row per protocol, with the facts the README table shows, and its switch."""
    states, ports = edits.helper_states(config), edits.helper_ports(config)
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
            "enabled": states[cls.name],
            "warning": cls.enable_warning,
            "ports": ports[cls.name],
            "own_ports": sorted(cls.tcp_ports | cls.udp_ports | cls.owns_udp_ports),
            "configurable_ports": cls.configurable_ports,
        }
        for cls in HELPER_CLASSES
    ]


def with_passthrough(
    config: RouterConfig, enabled: dict[str, Any], **settings: Any
) -> RouterConfig:
    """``settings``: any of ``edits.PASSTHROUGH_SETTINGS``."""
    with _section("nat."):
        return edits.switch_helpers(config, enabled, **settings)


def with_nat(
    config: RouterConfig,
    profile: Any,
    port_forwards: Any,
    dmz_host: Any,
    flow_offload: Any = edits.KEEP,
) -> RouterConfig:
    with _section("nat."):
        return edits.set_nat(config, profile, port_forwards, dmz_host, flow_offload)


class _section:
    """Errors from one section are reported without the section prefix, as the page and API
    for that section name their fields."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, ConfigError) and error.field.startswith(self.prefix):
            raise ConfigError(error.field.removeprefix(self.prefix), error.message) from None
        return False


def password_ok(config: RouterConfig, username: str, password: str) -> bool:
    """Same work whatever the user name, so login timing does not tell which names exist:
    the password is always checked against the one account's hash (the very method and cost
    a known user's check costs) and the result counts only if the name matched."""
    admin = config.admin
    name_ok = hmac.compare_digest(_utf8(username), _utf8(admin.username))
    if admin.password_hash:
        password_matches = check_password(admin.password_hash, password)
    else:
        password_matches = hmac.compare_digest(_utf8(password), _utf8(FACTORY_PASSWORD))
    return name_ok and password_matches


def _utf8(text: str) -> bytes:
    # A lone surrogate (possible only through the API, which refuses it first) must not raise.
    return text.encode("utf-8", "surrogatepass")


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
    if not new.strip():
        raise ConfigError("new_password", "must not be only spaces")
    problem = unsafe_character(new)
    if problem:
        raise ConfigError("new_password", problem)
    if new in (FACTORY_PASSWORD, config.admin.username) or new == current:
        raise ConfigError("new_password", "choose a password that is not the old or default one")
    admin = config.admin.__class__(
        username=config.admin.username,
        password_hash=hash_password(new, method=method),
        must_change_password=False,
    )
    return config.replace(admin=admin)
