"""The router configuration on the data partition, replaced atomically.

``save`` writes a temporary file next to the target, fsyncs it, renames it over the old one
and fsyncs the directory: after a power cut the file is either the old or the new config,
never half of each. Nothing invalid is ever written: callers pass a validated
:class:`~router.model.RouterConfig`, and ``save_dict`` validates first.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from nat.config import ConfigError
from router.checkpoint import reached
from router.model import RouterConfig


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid JSON syntax, read as inf (found by fuzzing)
        raise ValueError(f"{text} is out of range for a number")
    return value


def parse_json(text: str, what: str = "the configuration") -> Any:
    """Standard JSON only: Python's json would read NaN and Infinity, which no other parser
    takes and which would stop every timer they reach, and a number too large for a float
    (1e400) as Infinity: it could not even be written back."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise ConfigError("config", f"{what} is not JSON: {error}") from None


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


class ConfigStore:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def load(self, missing_ok: bool = True) -> RouterConfig:
        """The stored configuration, or the factory defaults when there is none yet (unless
        ``missing_ok`` is False: the daemon must not run a mistyped path as defaults)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            if not missing_ok:
                raise ConfigError("config", f"{self.path} does not exist") from None
            return RouterConfig()
        return RouterConfig.from_dict(parse_json(text, str(self.path)))

    def save_dict(self, data: dict[str, Any]) -> RouterConfig:
        config = RouterConfig.from_dict(data)  # raises before anything is written
        self.save(config)
        return config

    def save(self, config: RouterConfig) -> None:
        write_atomic(self.path, dump_json(config.to_dict()))


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text``: a temporary file beside it, fsynced, renamed over it,
    the directory fsynced. After a power cut the file is the old one or the new one. Mode
    0600 by default: the configuration (and its copies) hold the admin password hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        reached(f"save:{path.name}:written")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    reached(f"save:{path.name}:done")
