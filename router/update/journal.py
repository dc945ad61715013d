"""The update journal on the data partition: one JSON file, replaced atomically (write, fsync,
rename, fsync the directory), so a power cut leaves the old record or the new one.

Its states and the moves between them are one table (h11's style). A new upload is allowed
from every state: an interrupted update never blocks the next one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from router.store import write_atomic

IDLE, RECEIVED, VERIFIED, WRITING = "idle", "received", "verified", "writing"
INSTALLED, TRIAL, COMMITTED = "installed", "trial", "committed"
ROLLED_BACK, FAILED = "rolled back", "failed"

# state -> the states it may move to
MOVES: dict[str, frozenset[str]] = {
    IDLE: frozenset({RECEIVED, FAILED, ROLLED_BACK}),
    RECEIVED: frozenset({RECEIVED, VERIFIED, FAILED}),
    VERIFIED: frozenset({RECEIVED, VERIFIED, WRITING, FAILED}),
    WRITING: frozenset({RECEIVED, INSTALLED, FAILED}),
    INSTALLED: frozenset({RECEIVED, TRIAL, COMMITTED, ROLLED_BACK, FAILED}),
    TRIAL: frozenset({TRIAL, COMMITTED, ROLLED_BACK, FAILED}),
    COMMITTED: frozenset({RECEIVED, ROLLED_BACK, FAILED}),
    ROLLED_BACK: frozenset({RECEIVED, ROLLED_BACK, FAILED}),
    FAILED: frozenset({RECEIVED, FAILED, ROLLED_BACK}),
}
# What the boot environment says happened is recorded from any state: the journal may lag
# behind it after a power cut (say, between the switch and the "installed" line).
MOVES = {state: moves | {TRIAL, ROLLED_BACK} for state, moves in MOVES.items()}
STATES = tuple(MOVES)
HISTORY = 60  # entries kept: several whole updates


class JournalError(ValueError):
    pass


class Journal:
    def __init__(self, path: Path, clock=time.time):
        self.path, self.clock = Path(path), clock

    def read(self) -> dict[str, Any]:
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {"state": IDLE, "update": {}, "reason": "", "history": []}
        if not isinstance(record, dict) or record.get("state") not in MOVES:
            return {"state": IDLE, "update": {}, "reason": "", "history": []}
        return record

    @property
    def state(self) -> str:
        return self.read()["state"]

    def move(self, state: str, detail: str = "", **fields: Any) -> dict[str, Any]:
        """Go to ``state`` (JournalError if the table has no such move), record ``detail`` in
        the history and merge ``fields`` into the record ("update" merges into the update)."""
        record = self.read()
        if state not in MOVES[record["state"]]:
            raise JournalError(f"update journal: no move from {record['state']!r} to {state!r}")
        if state == RECEIVED:
            record["update"], record["reason"] = {}, ""
            record.pop("progress", None)
        update = fields.pop("update", None)
        if update:
            record["update"] = {**record.get("update", {}), **update}
        record.update(fields)
        record["state"] = state
        record["since"] = int(self.clock())
        entry = {"time": record["since"], "state": state, "detail": detail}
        record["history"] = [*record.get("history", []), entry][-HISTORY:]
        self.write(record)
        return record

    def note(self, **fields: Any) -> None:
        """Change fields without a move (progress, the reason of a failed health check)."""
        record = self.read()
        record.update(fields)
        self.write(record)

    def write(self, record: dict[str, Any]) -> None:
        write_atomic(self.path, json.dumps(record, sort_keys=True), mode=0o644)
