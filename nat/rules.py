"""The rules a configuration value must follow, each written once: it checks a value (raising
``ConfigError`` with the field's name) and states itself as JSON Schema, so the API's document
says exactly what the model accepts (webui/openapi.py builds its schemas from these).

What a rule cannot say on its own (an address inside the LAN, a pool that ends after it
starts) is checked by the model after every field has passed its rule.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nat.config_types import ConfigError


class Rule:
    def parse(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


def _kind(value: Any) -> str:
    return "a boolean" if isinstance(value, bool) else type(value).__name__


@dataclass(frozen=True)
class Boolean(Rule):
    def parse(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(name, f"expected true or false, got {_kind(value)}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Integer(Rule):
    low: int
    high: int

    def parse(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, f"expected a whole number, got {_kind(value)}")
        if not self.low <= value <= self.high:
            raise ConfigError(name, f"must be between {self.low} and {self.high}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Seconds(Rule):
    """A finite number of seconds (NaN and infinity would stop every timer)."""

    low: float
    high: float

    def parse(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(name, f"expected a number of seconds, got {_kind(value)}")
        if not math.isfinite(value):
            raise ConfigError(name, "must be a finite number")
        if not self.low <= value <= self.high:
            raise ConfigError(name, f"must be between {self.low:g} and {self.high:g} seconds")
        return float(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, "maximum": self.high}


# C0 and C1 controls, DEL, and UTF-16 surrogates (only a lone one can be in a str).
_UNSAFE_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def unsafe_character(text: str) -> str | None:
    """What is wrong with ``text`` as a setting or a password, or None: a lone surrogate
    cannot be written as UTF-8, NULs and other controls end or garble lines in logs and files."""
    match = _UNSAFE_CHARACTER.search(text)
    if match is None:
        return None
    char = match.group()
    kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"contains {kind} (U+{ord(char):04X})"


def check_text(name: str, value: str) -> str:
    """Printable text only (see :func:`unsafe_character`)."""
    problem = unsafe_character(value)
    if problem:
        raise ConfigError(name, problem)
    return value


@dataclass(frozen=True)
class Text(Rule):
    max_length: int
    pattern: str | None = None  # a full-match regular expression (ASCII, JSON Schema's dialect)
    what: str = "text"  # for the message when the pattern does not match

    def parse(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ConfigError(name, f"expected {self.what}, got {_kind(value)}")
        check_text(name, value)
        if len(value) > self.max_length:
            raise ConfigError(name, f"at most {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ConfigError(name, f"{value!r} is not {self.what}")
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern})$"
        return schema


# A DNS host name: dot-separated labels of letters, digits and inner hyphens, 253 at most.
DNS_NAME = (
    r"(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*"
    r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)


@dataclass(frozen=True)
class Choice(Rule):
    values: tuple[str, ...]

    def parse(self, name: str, value: Any) -> str:
        if value not in self.values or not isinstance(value, str):
            raise ConfigError(name, f"{value!r} is not one of: {', '.join(self.values)}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Unicast, routable as a host address: 1-223 but not 127 (loopback) in the first octet, so
# no "this network" 0/8, no loopback, no multicast 224/4, no reserved 240/4 or broadcast.
_FIRST_UNICAST = r"(?:22[0-3]|2[01][0-9]|1[3-9][0-9]|12[0-68-9]|1[01][0-9]|[1-9][0-9]|[1-9])"
UNICAST_PATTERN = rf"{_FIRST_UNICAST}\.{_OCTET}\.{_OCTET}\.{_OCTET}"


def unicast(name: str, value: Any) -> str:
    """A host's IPv4 address in dotted-quad form: unicast, not loopback."""
    if not isinstance(value, str) or not re.fullmatch(UNICAST_PATTERN, value):
        text = value if isinstance(value, str) else _kind(value)
        try:
            address = ipaddress.IPv4Address(value if isinstance(value, str) else "")
        except ipaddress.AddressValueError:
            raise ConfigError(name, f"{text!r} is not an IPv4 address") from None
        raise ConfigError(name, f"{address} is not a unicast host address")
    return value


@dataclass(frozen=True)
class Address(Rule):
    """An IPv4 host address (see :func:`unicast`)."""

    def parse(self, name: str, value: Any) -> str:
        return unicast(name, value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{UNICAST_PATTERN}$"}


@dataclass(frozen=True)
class Nullable(Rule):
    rule: Rule
    empty_is_none: bool = False  # a form's empty field means "none" too

    def parse(self, name: str, value: Any) -> Any:
        if value is None or (self.empty_is_none and value == ""):
            return None
        return self.rule.parse(name, value)

    def schema(self) -> dict[str, Any]:
        choices = [self.rule.schema(), {"type": "null"}]
        if self.empty_is_none:
            choices.append({"const": ""})
        return {"anyOf": choices}


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule
    max_items: int
    min_items: int = 0

    def parse(self, name: str, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise ConfigError(name, f"expected a list, got {_kind(value)}")
        if not self.min_items <= len(value) <= self.max_items:
            raise ConfigError(
                name, f"expected {self.min_items} to {self.max_items} entries, got {len(value)}"
            )
        return tuple(self.item.parse(f"{name}[{i}]", v) for i, v in enumerate(value))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "items": self.item.schema(),
            "minItems": self.min_items,
            "maxItems": self.max_items,
        }


@dataclass(frozen=True)
class Fields(Rule):
    """An object of known fields, each with its rule; ``required`` must be present, the
    rest may be left out (the caller fills in defaults). Parses to a dict."""

    fields: dict[str, Rule]
    required: tuple[str, ...] = ()

    def parse(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ConfigError(name, "must be an object")
        prefix = f"{name}." if name else ""
        unknown = sorted(set(value) - set(self.fields), key=str)
        if unknown:
            raise ConfigError(f"{prefix}{unknown[0]}", "unknown setting")
        for key in self.required:
            if key not in value:
                raise ConfigError(f"{prefix}{key}", "required")
        return {key: self.fields[key].parse(f"{prefix}{key}", v) for key, v in value.items()}

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {key: rule.schema() for key, rule in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            schema["required"] = list(self.required)
        return schema


@dataclass(frozen=True)
class MapOf(Rule):
    """An object whose keys are one of ``keys`` and whose values all follow ``value``."""

    keys: tuple[str, ...]
    value: Rule

    def parse(self, name: str, value: Any) -> dict[str, Any]:
        return Fields(dict.fromkeys(self.keys, self.value)).parse(name, value)

    def schema(self) -> dict[str, Any]:
        return Fields(dict.fromkeys(self.keys, self.value)).schema()


def one_of(values: Iterable[str]) -> Choice:
    return Choice(tuple(values))
