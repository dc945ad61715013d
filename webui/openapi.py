"""The OpenAPI 3.1 document of /api/v1, kept next to the implementation.

tests/webui/test_openapi.py checks that every API route appears here with its methods and that
real responses validate against these schemas.
"""

from __future__ import annotations

from typing import Any

from nat.config_parse import FIELD_RULES, PORT_FORWARD, HelperPorts
from nat.rules import Boolean, Fields, MapOf
from router.edits import HELPER_NAMES, MOVABLE_HELPERS, NAT_SETTINGS, PASSTHROUGH_SETTINGS
from router.model import SECTIONS
from router.update.journal import STATES as JOURNAL_STATES
from router.update.layout import SLOTS
from router.update.slots import STATES as SLOT_STATES

NAT_RULES = {name: rule for name, (rule, _) in FIELD_RULES.items()}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "Error")
# Any request: 421 (a Host that is not this router: DNS rebinding), 403 (a foreign Origin),
# 500 (a bug; the log has the details). Routes and methods the document does not list answer
# 404 and 405, with the same error shape.
ANY_ERRORS = {"403": ERROR, "421": ERROR, "500": ERROR}
# Every authenticated operation can answer these (503: the router is not answering yet).
AUTH_ERRORS = {**ANY_ERRORS, "401": ERROR, "503": ERROR}
# Operations with a body: 413 (over the limit), 422 (malformed, or a field refused: named).
BODY_ERRORS = {"413": ERROR, "422": ERROR}
WRITE_ERRORS = {**AUTH_ERRORS, **BODY_ERRORS}
STRINGS = {"type": "array", "items": {"type": "string"}}
NULLABLE_STRING = {"type": ["string", "null"]}
# The firmware update routes without an update service (host development, the demo): 501.
UPDATE_ERRORS = {"409": ERROR, "501": ERROR}
BOOLEAN = {"type": "boolean"}
INSTALL_OPTIONS = {
    "keep_settings": {**BOOLEAN, "default": True, "description": "false: factory settings"},
    "force": {**BOOLEAN, "default": False, "description": "allow a downgrade or reinstall"},
}


def _backup_admin(schema: dict[str, Any]) -> dict[str, Any]:
    """A backup's admin account must carry its password hash (else restoring it would bring
    back the factory login, which the router refuses)."""
    admin = schema["properties"]["admin"]
    admin["required"] = ["password_hash"]
    admin["properties"]["password_hash"]["minLength"] = 1
    return schema


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": NULLABLE_STRING, "message": {"type": "string"}},
            }
        },
    },
    "Credentials": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    "Session": {
        "type": "object",
        "required": ["username", "csrf_token", "must_change_password"],
        "properties": {
            "username": {"type": "string"},
            "csrf_token": {"type": "string", "description": "send as X-CSRF-Token"},
            "must_change_password": {"type": "boolean"},
        },
    },
    "ApplyResult": {
        "type": "object",
        "required": ["applied", "connections_reset", "restart_required"],
        "properties": {
            "applied": {"type": "boolean"},
            "connections_reset": {
                "type": "boolean",
                "description": "NAT behaviour changed: the mapping table was rebuilt",
            },
            "restart_required": {**STRINGS, "description": "settings effective after reboot"},
            "warnings": STRINGS,
        },
    },
    "Firmware": {
        "type": "object",
        "required": ["version", "active_slot", "slots"],
        "properties": {
            "version": {"type": "string"},
            "active_slot": {"type": "string"},
            "slots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "version", "active"],
                    "properties": {
                        "name": {"type": "string"},
                        "version": NULLABLE_STRING,
                        "active": {"type": "boolean"},
                    },
                },
            },
        },
    },
    "FirmwareSlot": {
        "type": "object",
        "required": ["state", "version", "attempts_left", "booted"],
        "properties": {
            "state": {"enum": list(SLOT_STATES)},
            "version": NULLABLE_STRING,
            "attempts_left": {"type": "integer", "minimum": 0},
            "booted": BOOLEAN,
        },
    },
    "FirmwareStatus": {
        "type": "object",
        "description": "router.update.service status(): the journal, the slots, the boot "
        "environment (without an update service: the running version only)",
        "required": [
            "state",
            "reason",
            "update",
            "progress",
            "history",
            "running_version",
            "booted_slot",
            "boot_order",
            "slots",
            "environment",
            "busy",
            "uploaded",
        ],
        "properties": {
            "state": {"enum": list(JOURNAL_STATES)},
            "since": {"type": ["integer", "null"], "description": "seconds since the epoch"},
            "reason": {"type": "string", "description": "why it failed or rolled back"},
            "update": {
                "type": "object",
                "description": "the update in the journal (fields appear step by step)",
                "properties": {
                    "size": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "version": NULLABLE_STRING,
                    "slot": {"enum": list(SLOTS)},
                    "previous_version": {"type": "string"},
                    "previous_slot": {"enum": list(SLOTS)},
                    "keep_settings": BOOLEAN,
                    "forced": BOOLEAN,
                },
            },
            "progress": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["phase", "done", "total"],
                        "properties": {
                            "phase": {"type": "string"},
                            "done": {"type": "integer"},
                            "total": {"type": "integer"},
                        },
                    },
                ]
            },
            "history": {
                "type": "array",
                "description": "oldest first",
                "items": {
                    "type": "object",
                    "required": ["time", "state", "detail"],
                    "properties": {
                        "time": {"type": "integer"},
                        "state": {"enum": list(JOURNAL_STATES)},
                        "detail": {"type": "string"},
                    },
                },
            },
            "running_version": {"type": "string"},
            "booted_slot": {"enum": list(SLOTS)},
            "boot_order": {"type": "array", "items": {"enum": list(SLOTS)}},
            "slots": {
                "type": "object",
                "required": list(SLOTS),
                "properties": {slot: _ref("FirmwareSlot") for slot in SLOTS},
            },
            "environment": {"type": "object", "additionalProperties": {"type": "string"}},
            "environment_error": {"type": "string"},
            "busy": {**BOOLEAN, "description": "an update holds the lock"},
            "uploaded": {**BOOLEAN, "description": "a file waits to be installed"},
        },
    },
    "Verdict": {
        "type": "object",
        "description": "every check of the uploaded file, before anything is written",
        "required": ["valid", "forceable", "keep_settings_possible", "version", "checks"],
        "properties": {
            "valid": BOOLEAN,
            "forceable": {**BOOLEAN, "description": "only the version check failed"},
            "keep_settings_possible": BOOLEAN,
            "version": NULLABLE_STRING,
            "checks": {
                "type": "object",
                "description": "format, signature, board, compat, version, size, hash:NAME",
                "additionalProperties": {
                    "type": "object",
                    "required": ["status", "detail"],
                    "properties": {
                        "status": {"enum": ["pass", "fail", "skip"]},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    },
    "FirmwareUpload": {
        "type": "object",
        "required": ["sha256", "verdict"],
        "properties": {"sha256": {"type": "string"}, "verdict": _ref("Verdict")},
    },
    "FirmwareRefusal": {
        "type": "object",
        "description": "an Error; with the verdict when checks failed",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": NULLABLE_STRING, "message": {"type": "string"}},
            },
            "verdict": _ref("Verdict"),
        },
    },
    "InstallOptions": {
        "type": "object",
        "additionalProperties": False,
        "properties": INSTALL_OPTIONS,
    },
    "InstallStarted": {
        "type": "object",
        "description": "the slot is being written; follow it with GET /firmware",
        "required": ["state", "slot", "version", "previous_version", "verdict"],
        "properties": {
            "state": {"const": "writing"},
            "slot": {"enum": list(SLOTS)},
            "version": {"type": "string"},
            "previous_version": {"type": "string"},
            "keep_settings": BOOLEAN,
            "force": BOOLEAN,
            "verdict": _ref("Verdict"),
        },
    },
    "RollbackStarted": {
        "type": "object",
        "required": ["state", "slot", "version", "rebooting"],
        "properties": {
            "state": {"const": "rolled back"},
            "slot": {"enum": list(SLOTS)},
            "version": NULLABLE_STRING,
            "rebooting": BOOLEAN,
        },
    },
    "UpdateServer": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {"url": {"type": "string", "minLength": 1}},
    },
    "UpdateServerInstall": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {"url": {"type": "string", "minLength": 1}, **INSTALL_OPTIONS},
    },
    "UpdateOffer": {
        "type": "object",
        "required": ["available", "version", "url", "sha256", "size", "running_version"],
        "properties": {
            "available": {**BOOLEAN, "description": "newer than the running version"},
            "version": {"type": "string"},
            "url": {"type": "string"},
            "sha256": {"type": "string"},
            "size": {"type": "integer"},
            "running_version": {"type": "string"},
        },
    },
    "Status": {
        "type": "object",
        "required": [
            "hostname",
            "firmware",
            "uptime_s",
            "lan",
            "wan",
            "dhcp_leases",
            "counters",
            "mappings",
            "restart_required",
        ],
        "properties": {
            "hostname": {"type": "string"},
            "firmware": _ref("Firmware"),
            "uptime_s": {"type": "number"},
            "lan": {
                "type": "object",
                "required": ["address", "prefix"],
                "properties": {"address": {"type": "string"}, "prefix": {"type": "integer"}},
            },
            "wan": {
                "type": "object",
                "required": ["mode", "addresses", "gateway", "dns_servers"],
                "properties": {
                    "mode": {"enum": ["static", "dhcp"]},
                    "addresses": STRINGS,
                    "gateway": NULLABLE_STRING,
                    "dns_servers": STRINGS,
                },
            },
            "dhcp_leases": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "hostname": {"type": "string"},
                        "address": {"type": "string"},
                        "mac": {"type": "string"},
                        "expires_in": {"type": "number"},
                    },
                },
            },
            "counters": {"type": "object", "additionalProperties": {"type": "integer"}},
            "mappings": {"type": "integer"},
            "restart_required": STRINGS,
        },
    },
    # The configuration's schemas are made from the rules the model itself applies
    # (nat/rules.py): what the document allows is what the router accepts, field by field.
    # What no field can say alone (an address inside the LAN) is checked after, with a 422.
    "PortForward": PORT_FORWARD.schema(),
    "NatSettings": Fields({k: NAT_RULES[k] for k in NAT_SETTINGS}).schema(),
    "LanSettings": Fields({"hostname": SECTIONS["hostname"], "dhcp": SECTIONS["dhcp"]}).schema(),
    "WebSettings": SECTIONS["web"].schema(),
    "WebAccess": {
        "type": "object",
        "required": ["https", "https_port", "listening", "certificate_sha256", "error"],
        "properties": {
            "https": {"type": "boolean", "description": "web.https: HTTPS switched on"},
            "https_port": {
                "type": ["integer", "null"],
                "description": "the HTTPS port this server offers (null: none, e.g. a lab)",
            },
            "listening": {"type": "boolean"},
            "certificate_sha256": {
                "type": ["string", "null"],
                "description": "the self-signed certificate's SHA-256 fingerprint",
            },
            "error": {"type": "string", "description": "why it does not listen, if it should"},
        },
    },
    "RouterConfig": {
        **Fields({"nat": Fields(NAT_RULES), **SECTIONS}).schema(),
        "description": "router.model.RouterConfig; nat is nat.config.NatConfig as a dict",
    },
    "Backup": {
        **_backup_admin(
            Fields({"nat": Fields(NAT_RULES), **SECTIONS}, required=("admin",)).schema()
        ),
        "description": "a RouterConfig with the admin account's password hash (as backed up)",
    },
    "ConfigSections": {
        **Fields(
            {"nat": Fields(NAT_RULES), **{k: r for k, r in SECTIONS.items() if k != "admin"}}
        ).schema(),
        "description": "whole sections to replace (the admin account: /system/password)",
    },
    "Protocol": {
        "type": "object",
        "required": [
            "name",
            "title",
            "carries",
            "security",
            "use_case",
            "when_enabled",
            "when_disabled",
            "default_enabled",
            "default_reason",
            "enabled",
            "warning",
        ],
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "carries": {"type": "string"},
            "security": {"type": "string"},
            "use_case": {"type": "string"},
            "when_enabled": {"type": "string"},
            "when_disabled": {"type": "string"},
            "default_enabled": {"type": "boolean"},
            "default_reason": {"type": "string"},
            "enabled": {"type": "boolean"},
            "warning": {"type": "string"},
            "ports": {"type": "array", "items": {"type": "integer"}},
            "own_ports": {"type": "array", "items": {"type": "integer"}},
            "configurable_ports": {"type": "boolean"},
        },
    },
    "Passthrough": {
        "type": "object",
        "required": ["protocols", *PASSTHROUGH_SETTINGS],
        "properties": {
            "protocols": {"type": "array", "items": _ref("Protocol")},
            **{name: NAT_RULES[name].schema() for name in PASSTHROUGH_SETTINGS},
        },
    },
    "PassthroughUpdate": Fields(
        {
            "helpers": MapOf(HELPER_NAMES, Boolean()),
            "sstp_servers": NAT_RULES["sstp_servers"],
            "sip_direct_media": NAT_RULES["sip_direct_media"],
            # Ports given to helpers (RTSP on 8554), all of them: {} gives every one its own.
            "helper_ports": HelperPorts(MOVABLE_HELPERS),
        }
    ).schema(),
    "Mapping": {
        "type": "object",
        "required": ["proto", "internal", "external", "kind", "sessions"],
        "properties": {
            "proto": {"type": "string"},
            "internal": {"type": "string"},
            "external": {"type": "string"},
            "kind": {"enum": ["dynamic", "forward", "expected", "dmz"]},
            "sessions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["remote", "state", "expires_in", "helper"],
                    "properties": {
                        "remote": {"type": "string"},
                        "state": {"type": "string"},
                        "expires_in": {"type": "number"},
                        "helper": NULLABLE_STRING,
                    },
                },
            },
        },
    },
    "VpnEvent": {
        "type": "object",
        "required": [
            "time",
            "uptime_s",
            "event",
            "kind",
            "anomaly",
            "protocol",
            "lan_host",
            "server",
            "detail",
        ],
        "properties": {
            "time": {"type": "string"},
            "uptime_s": {"type": "number"},
            "event": {
                "enum": [
                    "vpn_session_start",
                    "vpn_session_end",
                    "vpn_session_refused",
                    "vpn_anomaly",
                ]
            },
            "kind": {"type": "string", "description": "the anomaly's kind"},
            "anomaly": {"type": "boolean"},
            "protocol": {"type": "string"},
            "lan_host": {"type": "string"},
            "server": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "VpnSessions": {
        "type": "object",
        "required": ["active", "recent", "anomalies"],
        "properties": {
            "active": {"type": "array", "items": {"type": "object"}},
            "recent": {"type": "array", "items": {"type": "object"}},
            "anomalies": {"type": "array", "items": {"type": "object"}},
        },
    },
    "LogLine": {
        "type": "object",
        "required": ["time", "event", "detail"],
        "properties": {
            "time": {"type": "string"},
            "event": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "PasswordChange": {
        "type": "object",
        "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string"},
            "new_password": {"type": "string", "minLength": 8},
            "confirm_password": {"type": "string"},
        },
    },
    "Probe": {
        "type": "object",
        "required": ["src", "sport", "dst", "dport"],
        "properties": {
            "side": {"enum": ["lan", "wan"]},
            "proto": {"enum": ["tcp", "udp"]},
            "src": {"type": "string"},
            "sport": {"type": "integer"},
            "dst": {"type": "string"},
            "dport": {"type": "integer"},
        },
    },
    "ProbeResult": {
        "type": "object",
        "required": ["verdict", "reason"],
        "properties": {
            "verdict": {"enum": ["forwarded", "dropped"]},
            "reason": {"type": "string", "description": "the drop reason (a counter name)"},
            "sent_on": {"enum": ["lan", "wan"]},
            "source": {"type": "string"},
            "destination": {"type": "string"},
        },
    },
}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


def _flag(name: str, description: str) -> dict[str, Any]:
    return {**_query(name, description), "schema": {"enum": ["true", "false", "1", "0"]}}


PATHS: dict[str, Any] = {
    "/session": {
        "post": {
            "summary": "Log in; sets the session cookie and returns the CSRF token",
            "security": [],
            "requestBody": _body("Credentials"),
            "responses": {
                "200": _json(_ref("Session")),
                **ANY_ERRORS,
                **BODY_ERRORS,
                "401": ERROR,
                "429": ERROR,
            },
        },
        "get": {
            "summary": "The current session and its CSRF token",
            "responses": {"200": _json(_ref("Session")), **AUTH_ERRORS},
        },
        "delete": {
            "summary": "Log out",
            "responses": {
                "200": _json({"type": "object", "properties": {"logged_out": {"type": "boolean"}}}),
                **AUTH_ERRORS,
            },
        },
    },
    "/status": {
        "get": {
            "summary": "Firmware, uptime, addresses, DHCP leases, counters",
            "responses": {"200": _json(_ref("Status")), **AUTH_ERRORS},
        }
    },
    "/connections": {
        "get": {
            "summary": "The live mapping table",
            "parameters": [
                _query("q", "text the row must contain"),
                _query("proto", "tcp, udp, icmp, gre, esp"),
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("Mapping")}),
                **AUTH_ERRORS,
            },
        }
    },
    "/vpn/events": {
        "get": {
            "summary": "The VPN monitor's event log",
            "parameters": [
                _query("protocol", ", ".join(HELPER_NAMES)),
                _query("event", "vpn_session_start, _end, _refused, vpn_anomaly"),
                _query("q", "text the event must contain"),
                _query("anomalies", "1: unusual activity only"),
                _query("format", "json (default) or csv"),
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": _ref("VpnEvent")}
                        },
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **AUTH_ERRORS,
            },
        }
    },
    "/vpn/sessions": {
        "get": {
            "summary": "Active and recent VPN sessions and anomalies",
            "responses": {"200": _json(_ref("VpnSessions")), **AUTH_ERRORS},
        }
    },
    "/config": {
        "get": {
            "summary": "The whole router configuration (without the password hash)",
            "responses": {"200": _json(_ref("RouterConfig")), **AUTH_ERRORS},
        },
        "put": {
            "summary": "Replace whole sections (hostname, nat, wan, dhcp, dns; not admin)",
            "requestBody": _body("ConfigSections"),
            "responses": {"200": _json(_ref("ApplyResult")), **WRITE_ERRORS},
        },
    },
    "/passthrough": {
        "get": {
            "summary": "One row per VPN passthrough / ALG protocol",
            "responses": {"200": _json(_ref("Passthrough")), **AUTH_ERRORS},
        },
        "put": {
            "summary": "Switch protocols on or off",
            "requestBody": _body("PassthroughUpdate"),
            "responses": {"200": _json(_ref("ApplyResult")), **WRITE_ERRORS},
        },
    },
    "/nat": {
        "get": {
            "summary": "NAT profile, port forwards, DMZ host",
            "responses": {"200": _json(_ref("NatSettings")), **AUTH_ERRORS},
        },
        "put": {
            "summary": "Change NAT profile, port forwards, DMZ host",
            "requestBody": _body("NatSettings"),
            "responses": {"200": _json(_ref("ApplyResult")), **WRITE_ERRORS},
        },
    },
    "/lan": {
        "get": {
            "summary": "The router's hostname and the LAN's DHCP server",
            "responses": {"200": _json(_ref("LanSettings")), **AUTH_ERRORS},
        },
        "put": {
            "summary": "Change the hostname or DHCP fields given (the others stay)",
            "requestBody": _body("LanSettings"),
            "responses": {"200": _json(_ref("ApplyResult")), **WRITE_ERRORS},
        },
    },
    "/system/web": {
        "get": {
            "summary": "How the UI is reached: HTTPS on or off, its port and certificate",
            "responses": {"200": _json(_ref("WebAccess")), **AUTH_ERRORS},
        },
        "put": {
            "summary": "Switch HTTPS on or off (HTTP stays: the LAN's first contact)",
            "requestBody": _body("WebSettings"),
            "responses": {"200": _json(_ref("ApplyResult")), **WRITE_ERRORS},
        },
    },
    "/system/password": {
        "put": {
            "summary": "Change the admin password (ends the other sessions)",
            "requestBody": _body("PasswordChange"),
            "responses": {
                "200": _json({"type": "object", "properties": {"changed": {"type": "boolean"}}}),
                **WRITE_ERRORS,
            },
        }
    },
    "/system/reboot": {
        "post": {
            "summary": "Reboot the router",
            "responses": {
                "202": _json({"type": "object", "properties": {"rebooting": {"type": "boolean"}}}),
                **AUTH_ERRORS,
            },
        }
    },
    "/system/factory-reset": {
        "post": {
            "summary": "Erase the configuration (password included) and reboot",
            "responses": {
                "202": _json({"type": "object", "properties": {"rebooting": {"type": "boolean"}}}),
                **AUTH_ERRORS,
            },
        }
    },
    "/system/backup": {
        "get": {
            "summary": "The configuration as a backup (includes the password hash)",
            "responses": {"200": _json(_ref("RouterConfig")), **AUTH_ERRORS},
        }
    },
    "/system/restore": {
        "post": {
            "summary": "Restore a backup",
            "requestBody": _body("Backup"),
            "responses": {"200": _json(_ref("ApplyResult")), **WRITE_ERRORS},
        }
    },
    "/system/log": {
        "get": {
            "summary": "The system log",
            "responses": {"200": _json({"type": "array", "items": _ref("LogLine")}), **AUTH_ERRORS},
        }
    },
    "/firmware": {
        "get": {
            "summary": "The update journal, both slots and the boot environment",
            "responses": {"200": _json(_ref("FirmwareStatus")), **AUTH_ERRORS},
        }
    },
    "/firmware/upload": {
        "post": {
            "summary": "Upload a firmware file and check it (nothing is written to a slot)",
            "description": "The body is the file (application/octet-stream). The answer is "
            "the verdict, also when a check failed; a file over the limit is a 413 naming it.",
            "parameters": [
                _flag("keep_settings", "check for keeping the settings (default true)"),
                _flag("force", "allow a downgrade or reinstall (default false)"),
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            "responses": {
                "200": _json(_ref("FirmwareUpload")),
                "400": _json(_ref("Error"), "The upload was cut short"),
                **UPDATE_ERRORS,
                **WRITE_ERRORS,
            },
        }
    },
    "/firmware/install": {
        "post": {
            "summary": "Install the uploaded file into the other slot, then reboot",
            "description": "Checked again first: a failed check is a 422 with the verdict. "
            "Then the slot is written in the background; GET /firmware follows it.",
            "requestBody": _body("InstallOptions"),
            "responses": {
                "202": _json(_ref("InstallStarted")),
                **UPDATE_ERRORS,
                **WRITE_ERRORS,
                "422": _json(_ref("FirmwareRefusal"), "Refused (the verdict says why)"),
            },
        }
    },
    "/firmware/rollback": {
        "post": {
            "summary": "Boot the other slot (it must be good and verify), then reboot",
            "responses": {
                "202": _json(_ref("RollbackStarted")),
                "422": ERROR,
                **UPDATE_ERRORS,
                **AUTH_ERRORS,
            },
        }
    },
    "/firmware/server/check": {
        "post": {
            "summary": "Ask an update server for its latest firmware",
            "requestBody": _body("UpdateServer"),
            "responses": {
                "200": _json(_ref("UpdateOffer")),
                "502": _json(_ref("Error"), "The update server did not answer"),
                **UPDATE_ERRORS,
                **WRITE_ERRORS,
            },
        }
    },
    "/firmware/server/install": {
        "post": {
            "summary": "Download the update server's firmware, check it, install it, reboot",
            "requestBody": _body("UpdateServerInstall"),
            "responses": {
                "202": _json(_ref("InstallStarted")),
                "502": _json(_ref("Error"), "The update server did not answer"),
                **UPDATE_ERRORS,
                **WRITE_ERRORS,
                "422": _json(_ref("FirmwareRefusal"), "Refused (the verdict says why)"),
            },
        }
    },
    "/diagnostics/probe": {
        "post": {
            "summary": "Push one synthetic TCP SYN or UDP packet through the datapath",
            "requestBody": _body("Probe"),
            "responses": {
                "200": _json(_ref("ProbeResult")),
                "501": ERROR,
                **WRITE_ERRORS,
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}), **AUTH_ERRORS},
        }
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "natbox router API",
            "version": "1",
            "description": (
                "Log in with POST /session, then send the returned csrf_token as the "
                "X-CSRF-Token header on every PUT, POST and DELETE. Errors are "
                '{"error": {"field", "message"}}; validation errors are 422.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"session": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "natbox_session",
                    "description": "over HTTPS the cookie is __Host-natbox_session (Secure)",
                }
            },
        },
    }
