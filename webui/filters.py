"""Filtering and export of the connection table and the VPN event log (pages and API)."""

from __future__ import annotations

import csv
import io
from typing import Any

EVENT_COLUMNS = (
    "time", "uptime_s", "event", "kind", "anomaly", "protocol", "lan_host", "server", "detail"
)  # fmt: skip


def _matches(row: dict[str, Any], text: str) -> bool:
    return not text or text.lower() in " ".join(str(v) for v in row.values()).lower()


def filter_mappings(rows: list[dict[str, Any]], q: str = "", proto: str = "") -> list[dict]:
    return [r for r in rows if (not proto or r["proto"] == proto) and _matches(r, q)]


def filter_events(
    rows: list[dict[str, Any]],
    protocol: str = "",
    event: str = "",
    q: str = "",
    anomalies_only: bool = False,
) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if (not protocol or r["protocol"] == protocol)
        and (not event or r["event"] == event)
        and (not anomalies_only or r["anomaly"])
        and _matches(r, q)
    ]


def events_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, EVENT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ would run as a formula in a spreadsheet.
        writer.writerow({k: _defuse(v) for k, v in row.items()})
    return out.getvalue()


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
