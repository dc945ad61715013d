"""Strict reading of the JSON that clients send (API bodies, restored backups).

Every malformed body is a :class:`ConfigError` (the API answers 422 naming the field) before
anything reaches the configuration model: bytes that are not UTF-8, JSON nested past
``MAX_DEPTH`` (Python's parser would raise RecursionError), numbers that are not finite
(``NaN``, ``Infinity``, ``1e400``), and strings or keys with lone surrogates, NULs or other
control characters (they cannot be encoded, logged or shown safely).
"""

from __future__ import annotations

import json
import math
from typing import Any

from nat.config import ConfigError
from nat.rules import unsafe_character

# No valid configuration is deeper than 4 levels; 32 leaves room and stays far from recursion.
MAX_DEPTH = 32


def loads(data: bytes | str, field: str = "body") -> Any:
    """Parse and check a client's JSON document; errors name ``field`` or the bad member."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(field, "not UTF-8") from None
    except RecursionError:
        raise ConfigError(field, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError
        raise ConfigError(field, f"not valid JSON: {error}") from None
    check(value, field)
    return value


def check(value: Any, root: str = "body") -> None:
    """Refuse what ``loads`` refuses in already parsed data; errors name the member, as the
    model does (``port_forwards[0].name``), or ``root`` for the document itself."""
    _check(value, "", root, 0)


def _check(value: Any, path: str, root: str, depth: int) -> None:
    name = path or root
    if depth > MAX_DEPTH:
        raise ConfigError(root, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        problem = unsafe_character(value)
        if problem:
            raise ConfigError(name, problem)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(name, "must be a finite number")
    elif isinstance(value, dict):
        for key, member in value.items():
            problem = unsafe_character(key)
            if problem:
                raise ConfigError(name, f"a member name {problem}")
            _check(member, f"{path}.{key}" if path else key, root, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]" if path else f"{root}[{i}]", root, depth + 1)
