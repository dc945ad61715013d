"""Backups: one compact JSON document that the router's own restore always takes.

Compact (no indentation, ``ensure_ascii=False``): a character costs its UTF-8 bytes, at most 4,
where ``\\uXXXX`` escapes cost 6 and an astral character 12 (a 1 MiB upload once held only
87,000 emoji). The only escapes left are ``\\"`` and ``\\\\`` (2 bytes); control characters,
which would need 6, are refused on the way in (``webui.jsonbody``).

The worst case is thus ``skeleton + sum(4 * max_chars(f) for f in the free-text fields) +
the widest value of every bounded field``, over the model's list and length limits
(``router.model``, ``nat.config_parse``): about 200 kB, well inside the 1 MiB a restore takes
(tests/webui/test_backup_size.py builds that largest configuration). ``check_fits`` stays as
the guarantee should a limit grow: a change whose backup would pass the restore limit is
refused, and the old configuration stays.
"""

from __future__ import annotations

import json

from flask import current_app

from nat.config import ConfigError
from router.model import RouterConfig

# Room for the System page's multipart envelope around the uploaded file.
UPLOAD_ENVELOPE = 4096


def backup_json(config: RouterConfig) -> str:
    return json.dumps(config.to_dict(), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def restore_limit() -> int:
    """The largest backup a restore takes, through the API or the page's upload."""
    return current_app.config["MAX_CONTENT_LENGTH"] - UPLOAD_ENVELOPE


def check_fits(config: RouterConfig) -> None:
    size, limit = len(backup_json(config).encode("utf-8")), restore_limit()
    if size > limit:
        raise ConfigError(
            "body", f"the configuration would make a {size}-byte backup; a restore takes {limit}"
        )
