"""The matrix's report: counts, colours and links from the cells' records."""

import json

from natbox.matrix import report
from natbox.matrix.record import Cell, read_cells, record


def _cell(row="pptp", profile="symmetric", switch=True, clients=1, expected="works",
          observed="works", **more) -> Cell:  # fmt: skip
    return Cell(row, "netns", profile, switch, clients, expected, "because", observed=observed,
                **more)  # fmt: skip


def test_records_written_by_workers_are_read_back(tmp_path):
    record(tmp_path, _cell())
    # another worker's file (gw99: never the one running this under xdist)
    (tmp_path / "cells-gw99.jsonl").write_text(json.dumps(_cell(switch=False).__dict__) + "\n")
    assert sorted(c.switch for c in read_cells(tmp_path)) == [False, True]


def test_mismatches_are_counted_and_shown_red_with_the_reason(tmp_path):
    evidence = tmp_path / "evidence" / "test_vpn" / "cell1"
    cells = [_cell(evidence=str(evidence), seconds=2.5),
             _cell(switch=False, expected="blocked", observed="works", detail="GRE <got> through"),
             _cell(row="tcp", profile="full-cone", exception="no helper needed")]  # fmt: skip
    json_path, html_path = report.write(cells, tmp_path, 12.0)
    facts = json.loads(json_path.read_text())
    assert (facts["cells"], facts["mismatches"], facts["exceptions"]) == (3, 1, 1)
    page = html_path.read_text()
    assert page.count("class='mismatch") == 1 and "class='works exception'" in page
    assert "href='evidence/test_vpn/cell1/'" in page  # relative: the folder can be moved
    assert "GRE &lt;got&gt; through" in page and "<got>" not in page
    assert "<script" not in page and "http" not in page  # self-contained


def test_an_empty_grid_position_is_marked_missing(tmp_path):
    cells = [_cell(profile="symmetric"), _cell(profile="full-cone", switch=False)]
    page = report.page(cells, tmp_path, 1.0)
    assert page.count("class='missing'") == 2  # full-cone on, symmetric off
