"""Case 6: the CSV export escapes text cells that a spreadsheet would run as a formula (= + - @ first, OWASP "CSV
injection"), and the escaped file imports back to the very same ledger, through the API.
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.support import report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NOTES = ["=cmd()", "+1", "-2", "@SUM(A1)", "=HYPERLINK(\"http://evil\",\"x\")", "'=x", "''+x", "'plain", "=1+2",
         "-", "@", "a=b", "plain"]
# Any text a person might type as a note (no NUL, no lone surrogate: those are refused, see test_bad_input).
NOTE_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60),
    st.builds(lambda quotes, start, rest: "'" * quotes + start + rest, st.integers(0, 3),
              st.sampled_from(["=", "+", "-", "@"]), st.text(max_size=10).filter(lambda t: "\x00" not in t
                                                                                  and t.isprintable())),
)
ROUND_TRIPS = {"ledgers": 0, "cells": 0}

pytestmark = pytest.mark.slow  # hundreds of hypothesis examples: several seconds


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report("CSV formula injection", f"{len(NOTES)} formula-like notes (= + - @, already quoted ones too) exported "
                                    f"with a leading ' and imported back unchanged; {ROUND_TRIPS['ledgers']} "
                                    f"export->import round trips of random notes ({ROUND_TRIPS['cells']} cells): 0 "
                                    f"cells starting = + - @ tab CR, every ledger identical after the round trip")


def _portfolio(client, name: str) -> int:
    return client.post("/api/portfolios", json={"name": name}).get_json()["portfolio"]["id"]


def _add(client, pid: int, note: str) -> None:
    response = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": 1, "price": 10, "note": note})
    assert response.status_code == 201, response.get_json()


def _export(client, pid: int) -> tuple[str, list[list[str]]]:
    response = client.get(f"/api/portfolios/{pid}/export")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.data.decode("utf-8")
    return text, list(csv.reader(io.StringIO(text, newline="")))


def _ledger(client, pid: int) -> list[tuple]:
    rows = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    return [(r["date"], r["ticker"], r["type"], r["quantity"], r["price"], r["fees"], r["note"]) for r in rows]


def _round_trip(client, notes: list[str]) -> list[list[str]]:
    source = _portfolio(client, "Formulas")
    for note in notes:
        _add(client, source, note)
    text, cells = _export(client, source)
    copy = _portfolio(client, "Copy")
    imported = client.post(f"/api/portfolios/{copy}/import", data=text.encode(), content_type="text/csv")
    assert imported.get_json() == {"imported": len(notes), "skipped_duplicates": 0, "warnings": []}, imported.get_json()
    assert _ledger(client, copy) == _ledger(client, source)
    assert [row[-1] for row in _ledger(client, copy)] == [n.strip() for n in notes]
    ROUND_TRIPS["ledgers"] += 1
    ROUND_TRIPS["cells"] += sum(len(row) for row in cells[1:])
    for client_pid in (source, copy):
        client.delete(f"/api/portfolios/{client_pid}")
    return cells


def test_formula_cells_are_escaped_and_import_back_the_same(api):
    client, _ = api
    cells = _round_trip(client, NOTES)
    exported_notes = [row[cells[0].index("note")] for row in cells[1:]]
    for note, cell in zip(NOTES, exported_notes, strict=True):
        assert not cell.startswith(FORMULA_START), cell
        if note.lstrip("'").startswith(("=", "+", "-", "@")):
            assert cell == "'" + note, (note, cell)  # one quote more, which the import takes off again
        else:
            assert cell == note


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notes=st.lists(NOTE_TEXT, min_size=1, max_size=5))
def test_no_exported_cell_can_start_a_formula_and_every_note_round_trips(api, notes):
    client, _ = api
    cells = _round_trip(client, notes)
    for row in cells[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (row, cell)
