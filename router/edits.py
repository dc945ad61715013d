"""Edits of the router configuration: the one module the web pages, the REST API and routerctl
all use, so they offer the same changes and validate them identically.

Each edit takes the current ``RouterConfig`` and the user's input and returns a new, validated
``RouterConfig``, or raises ``ConfigError`` naming the field with its full dotted path
(``nat.port_forwards[2].host``, ``dhcp.first``); the caller keeps its old configuration.
The helpers' names come from ``nat.passthrough``, a profile's settings from ``nat.profiles``.
"""

from __future__ import annotations

from typing import Any

from nat.config import ConfigError
from nat.helper_dispatch import served_ports
from nat.passthrough import HELPER_CLASSES
from nat.profiles import PROFILES
from router.model import RouterConfig

# "Leave this as it is": None cannot say it, as a JSON null is a value to refuse.
KEEP: Any = ...
HELPER_NAMES = tuple(cls.name for cls in HELPER_CLASSES)
# Those whose server ports may be moved (nat.helper_ports); IPsec's are fixed.
MOVABLE_HELPERS = tuple(cls.name for cls in HELPER_CLASSES if cls.configurable_ports)
PROFILE_NAMES = tuple(PROFILES)
# Settings a NAT profile sets together; a new profile must not inherit the old one's values.
PROFILE_KEYS = frozenset(key for settings in PROFILES.values() for key in settings)


def helper_states(config: RouterConfig) -> dict[str, bool]:
    """Every passthrough helper / ALG and whether it is on (its default when unset)."""
    nat = config.nat
    return {cls.name: nat.helper_enabled(cls.name, cls.default_enabled) for cls in HELPER_CLASSES}


def newly_enabled(old: RouterConfig, new: RouterConfig) -> list[str]:
    """The helpers ``new`` switches on, in their table order."""
    before, after = helper_states(old), helper_states(new)
    return [name for name in HELPER_NAMES if after[name] and not before[name]]


def enable_warnings(old: RouterConfig, new: RouterConfig) -> list[str]:
    """What to tell the user about the helpers ``new`` switches on (PPTP's security)."""
    classes = {cls.name: cls for cls in HELPER_CLASSES}
    switched_on = [classes[name] for name in newly_enabled(old, new)]
    return [
        f"{cls.title} passthrough is now on. {cls.enable_warning}"
        for cls in switched_on
        if cls.enable_warning
    ]


# The passthrough settings beside the switches, by their names in the model's nat section.
PASSTHROUGH_SETTINGS = ("sstp_servers", "helper_ports", "sip_direct_media")


def switch_helpers(config: RouterConfig, enabled: dict[str, Any], **settings: Any) -> RouterConfig:
    """Switch helpers on and off and change ``PASSTHROUGH_SETTINGS`` (a KEEP one stays).
    ``helper_ports``: the ports given to helpers, {"8554": "rtsp"} (all of them: it replaces
    the ones given before; ``ports_given`` makes it for one protocol)."""
    unknown = sorted(set(enabled) - set(HELPER_NAMES))
    if unknown:
        choices = ", ".join(HELPER_NAMES)
        raise ConfigError(f"nat.helpers.{unknown[0]}", f"no such protocol; one of {choices}")
    strange = sorted(set(settings) - set(PASSTHROUGH_SETTINGS))
    if strange:
        raise ConfigError(f"nat.{strange[0]}", "not a passthrough setting")
    data = config.to_dict()
    data["nat"]["helpers"] = {**data["nat"]["helpers"], **enabled}
    data["nat"].update({name: value for name, value in settings.items() if value is not KEEP})
    return RouterConfig.from_dict(data)


def ports_given(config: RouterConfig, name: str, ports: list[int]) -> dict[str, str]:
    """The ports given to helpers, with ``name``'s replaced by ``ports`` ([]: none given, so
    it serves its own again, less any still given to another helper)."""
    given = {str(p): helper for p, helper in config.nat.helper_ports if helper != name}
    return {**given, **{str(port): name for port in ports}}


def port_list(text: str) -> list[int]:
    """A list of ports as people type it ("554, 8554" or "554,8554"); ValueError says what is
    wrong (the ports' range is the model's rule, checked when the configuration is built)."""
    words = [word for word in text.replace(",", " ").split() if word]
    if not all(word.isdigit() for word in words):
        raise ValueError("expected port numbers, e.g. 554, 8554")
    return sorted({int(word) for word in words})


def helper_ports(config: RouterConfig) -> dict[str, list[int]]:
    """Every helper's server ports as they are now (its own, or the ones it was given)."""
    served = served_ports(HELPER_CLASSES, config.nat)
    return {cls.name: sorted({port for _, port in served[cls.name]} | cls.owns_udp_ports)
            for cls in HELPER_CLASSES}  # fmt: skip


# The NAT page's settings (the API's /nat): set_nat's arguments, in its order.
NAT_SETTINGS = ("profile", "port_forwards", "dmz_host", "flow_offload")


def set_nat(
    config: RouterConfig,
    profile: Any,
    port_forwards: Any = KEEP,
    dmz_host: Any = KEEP,
    flow_offload: Any = KEEP,
) -> RouterConfig:
    """The NAT page's settings; what is left out (KEEP) stays as it is."""
    data = config.to_dict()
    nat = data["nat"]
    if profile != nat["profile"]:
        for key in PROFILE_KEYS:
            nat.pop(key, None)
    nat["profile"] = profile
    if port_forwards is not KEEP:
        nat["port_forwards"] = port_forwards
    if dmz_host is not KEEP:
        nat["dmz_host"] = dmz_host
    if flow_offload is not KEEP:
        nat["flow_offload"] = flow_offload
    return RouterConfig.from_dict(data)


def add_forward(config: RouterConfig, forward: dict[str, Any]) -> RouterConfig:
    data = config.to_dict()
    data["nat"]["port_forwards"] = [*data["nat"]["port_forwards"], forward]
    return RouterConfig.from_dict(data)


def remove_forward(config: RouterConfig, proto: str, ext_port: int) -> RouterConfig:
    data = config.to_dict()
    forwards = data["nat"]["port_forwards"]
    keep = [f for f in forwards if (f["proto"], f["ext_port"]) != (proto, ext_port)]
    if len(keep) == len(forwards):
        raise ConfigError("nat.port_forwards", f"no {proto} forward on port {ext_port}")
    data["nat"]["port_forwards"] = keep
    return RouterConfig.from_dict(data)


def set_lan(config: RouterConfig, hostname: Any = KEEP, dhcp: Any = KEEP) -> RouterConfig:
    """The router's name and its DHCP server (``dhcp``: the fields to change)."""
    data = config.to_dict()
    if hostname is not KEEP:
        data["hostname"] = hostname
    if dhcp is not KEEP:
        if not isinstance(dhcp, dict):
            raise ConfigError("dhcp", "must be an object")
        data["dhcp"] = {**data["dhcp"], **dhcp}
    return RouterConfig.from_dict(data)


def set_web(config: RouterConfig, changes: Any) -> RouterConfig:
    """How the web UI is reached (``changes``: the fields of ``web`` to change)."""
    if not isinstance(changes, dict):
        raise ConfigError("web", "must be an object")
    data = config.to_dict()
    data["web"] = {**data["web"], **changes}
    return RouterConfig.from_dict(data)


def with_sections(config: RouterConfig, changes: Any) -> RouterConfig:
    """A whole-config update (the API); the admin account is not changed this way."""
    if not isinstance(changes, dict):
        raise ConfigError("config", "must be an object")
    if "admin" in changes:
        raise ConfigError("admin", "change the password through /api/v1/system/password")
    data = {**config.to_dict(), **changes}
    data["admin"] = config.to_dict()["admin"]
    return RouterConfig.from_dict(data)


def restored(config: RouterConfig, backup: Any) -> RouterConfig:
    """A backup file as the new config. One without an admin account and its password hash
    is refused: restoring it would bring back the factory login (admin/admin)."""
    if not isinstance(backup, dict):
        raise ConfigError("backup", "not a natbox configuration backup")
    admin = backup.get("admin")
    if not isinstance(admin, dict) or not admin.get("password_hash"):
        raise ConfigError("admin", "a backup without the admin account's password is refused")
    return RouterConfig.from_dict(backup)
