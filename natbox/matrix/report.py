"""The matrix as a report: matrix.json (every cell) and matrix.html, one self-contained page
(no scripts, no external files) with a grid per mode: rows are the scenarios with one or two
clients, columns the NAT profiles with the row's switch on and off. A cell is green when the
expected "works" was observed, grey when the expected "blocked" was, red when observed and
expected differ; each links its evidence folder and says why it expected what it did."""

from __future__ import annotations

import html
import json
import os
from dataclasses import asdict
from pathlib import Path

from natbox.hil import PROFILE_NAMES
from natbox.matrix.expect import ALL, ROWS, WORKS
from natbox.matrix.grid import CLIENTS
from natbox.matrix.record import Behaviour, Cell

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #bbb; padding: 4px 6px; text-align: center; }
th.row { text-align: left; white-space: nowrap; }
td a { color: inherit; text-decoration: none; display: block; }
td.works { background: #c8efc8; }
td.blocked { background: #dde1e6; }
td.mismatch { background: #f4a3a3; font-weight: bold; }
td.missing { background: #fff; color: #999; }
td.exception { outline: 3px dashed #c9a400; outline-offset: -3px; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border: 1px solid #bbb; }
small { color: #555; }
td.why { text-align: left; max-width: 40em; }
"""


def summary(cells: list[Cell], wall_s: float, behaviours: list[Behaviour] = ()) -> dict:
    return {
        "cells": len(cells),
        "mismatches": sum(not c.matches for c in cells) + sum(not b.matches for b in behaviours),
        "behaviour_mismatches": sum(not b.matches for b in behaviours),
        "exceptions": sum(bool(c.exception) for c in cells),
        "wall_s": round(wall_s, 1),
        "modes": sorted({c.mode for c in cells}),
    }


def write(cells: list[Cell], out: Path, wall_s: float,
          behaviours: list[Behaviour] = ()) -> tuple[Path, Path]:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    ordered = sorted(cells, key=_order)
    behaviours = sorted(behaviours, key=lambda b: (b.mode, _profile_index(b.profile)))
    classified = [{**asdict(b), "matches": b.matches} for b in behaviours]
    report = {**summary(ordered, wall_s, behaviours),
              "rows": {n: r.title for n, r in ROWS.items()},
              "cell_list": [asdict(c) for c in ordered], "nat_behaviour": classified}  # fmt: skip
    json_path, html_path = out / "matrix.json", out / "matrix.html"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    html_path.write_text(page(ordered, out, wall_s, behaviours))
    return json_path, html_path


def _order(cell: Cell) -> tuple:
    rows = list(ROWS)
    return (cell.mode, rows.index(cell.row) if cell.row in rows else len(rows), cell.clients,
            _profile_index(cell.profile), not cell.switch)  # fmt: skip


def _profile_index(profile: str) -> int:
    return PROFILE_NAMES.index(profile) if profile in PROFILE_NAMES else len(PROFILE_NAMES)


def page(cells: list[Cell], out: Path, wall_s: float, behaviours: list[Behaviour] = ()) -> str:
    facts = summary(cells, wall_s, behaviours)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>natbox passthrough matrix"
        f"</title><style>{STYLE}</style></head><body>",
        "<h1>natbox passthrough matrix</h1>",
        f"<p>{facts['cells']} cells, <b>{facts['mismatches']} mismatches</b> (expected vs "
        f"observed), {facts['exceptions']} documented exceptions, {facts['wall_s']} s.</p>",
        "<p class='legend'><span style='background:#c8efc8'>works, as expected</span>"
        "<span style='background:#dde1e6'>blocked, as expected</span>"
        "<span style='background:#f4a3a3'>observed &ne; expected</span>"
        "<span style='outline:3px dashed #c9a400'>documented exception</span> "
        "Hover a cell for why it expected what it did; click it for its evidence.</p>",
    ]
    for mode in sorted({c.mode for c in cells}):
        parts.append(_grid(mode, [c for c in cells if c.mode == mode], out))
    if behaviours:
        parts.append(_behaviour_table(behaviours, out))
    exceptions = [c for c in cells if c.exception]
    if exceptions:
        parts.append("<h2>Documented exceptions</h2><ul>")
        parts += [f"<li>{_label(c)}: {html.escape(c.exception)}</li>" for c in exceptions]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _grid(mode: str, cells: list[Cell], out: Path) -> str:
    by_key = {(c.row, c.clients, c.profile, c.switch): c for c in cells}
    profiles = [p for p in PROFILE_NAMES if any(c.profile == p for c in cells)]
    rows = [r for r in ROWS if any(c.row == r for c in cells)]
    head = ["<tr><th rowspan='2'>scenario</th>"]
    head += [f"<th colspan='2'>{html.escape(p)}</th>" for p in profiles]
    head.append("</tr><tr>" + "<th>on</th><th>off</th>" * len(profiles) + "</tr>")
    lines = [f"<h2>{html.escape(mode)} mode</h2>", "<table>", *head]
    for row in rows:
        for clients in CLIENTS:
            if not any(c.row == row and c.clients == clients for c in cells):
                continue
            switch = "every passthrough" if ROWS[row].switch == ALL else ROWS[row].switch
            plural = "s" if clients > 1 else ""
            label = (f"{html.escape(ROWS[row].title)} <small>({clients} client{plural}; "
                     f"switch: {html.escape(switch)})</small>")  # fmt: skip
            tds = [_td(by_key.get((row, clients, p, on)), out)
                   for p in profiles for on in (True, False)]  # fmt: skip
            lines.append(f"<tr><th class='row'>{label}</th>{''.join(tds)}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _td(cell: Cell | None, out: Path) -> str:
    if cell is None:
        return "<td class='missing'>&ndash;</td>"
    kind = ("works" if cell.expected == WORKS else "blocked") if cell.matches else "mismatch"
    classes = kind + (" exception" if cell.exception else "")
    title = (f"expected {cell.expected}: {cell.why}"
             + (f"\nexception: {cell.exception}" if cell.exception else "")
             + f"\nobserved {cell.observed or 'nothing'}: {cell.detail}")  # fmt: skip
    href = os.path.relpath(cell.evidence, out) if cell.evidence else None
    return _box(classes, cell.observed or "?", f"{cell.seconds:.1f} s", title, href)


def _box(classes: str, main: str, small: str, title: str = "", href: str | None = None) -> str:
    """One coloured table cell: a word, a smaller line under it, a hover text, a link."""
    text = f"{html.escape(main)}<br><small>{html.escape(small)}</small>"
    if href:
        text = f"<a href='{html.escape(href)}/'>{text}</a>"
    hover = f" title='{html.escape(title)}'" if title else ""
    return f"<td class='{classes}'{hover}>{text}</td>"


def _behaviour_table(behaviours: list[Behaviour], out: Path) -> str:
    lines = ["<h2>NAT behaviour: documented vs RFC 5780 discovery (coturn's natdiscovery)</h2>",
             "<table><tr><th>mode</th><th>profile</th><th>mapping</th><th>filtering</th>"
             "<th>hairpinning</th><th>why this hairpinning</th></tr>"]  # fmt: skip
    for b in behaviours:
        tds = [_pair(b.mapping, b.seen_mapping), _pair(b.filtering, b.seen_filtering),
               _pair(_yes(b.hairpinning), _yes(b.seen_hairpinning))]  # fmt: skip
        profile = html.escape(b.profile)
        if b.evidence:
            profile = f"<a href='{html.escape(os.path.relpath(b.evidence, out))}/'>{profile}</a>"
        why = f"<td class='why'><small>{html.escape(b.why)}</small></td>"
        lines.append(
            f"<tr><td>{html.escape(b.mode)}</td><td>{profile}</td>{''.join(tds)}{why}</tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def _pair(documented: str, seen: str) -> str:
    return _box("works" if documented == seen else "mismatch", documented, f"seen: {seen or '?'}")


def _label(cell: Cell) -> str:
    return html.escape(f"{ROWS[cell.row].title if cell.row in ROWS else cell.row}, "
                       f"{cell.profile}, switch {'on' if cell.switch else 'off'}, "
                       f"{cell.clients} client(s), {cell.mode}")  # fmt: skip
