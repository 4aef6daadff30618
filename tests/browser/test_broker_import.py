"""The broker-style import on the Transactions page in headless Chromium: a Schwab export through its preset, a
file of other columns mapped by hand and the mapping saved for the portfolio, errors on the lines of the user's
file, and the card at 390 px. Every message is checked for what a person sees (computed colours, contrast)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.browser.test_transactions import _ledger, _open, _portfolio, assert_visible

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLES = Path(__file__).parent.parent / "data" / "brokers"
# A test run leaves the repository as it was: screenshots go to a temp folder unless SCREENSHOT_DIR names one
# (`SCREENSHOT_DIR=docs/screenshots python -m pytest tests/browser/...` retakes the committed ones).
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "stocktracker-screenshots")
SEED = ("2023-12-01", "KO", "BUY", "1", "60")  # _open waits for a grid row
CUSTOM_CSV = ("Trade day,Sym,Side,Qty,Px\n"
              "02.01.2024,IBM,Kauf,3,160.5\n"
              "03.01.2024,,Einzahlung,,\n"
              "04.01.2024,IBM,Verkauf,1,165\n")


def _column(column: str) -> str:
    """The selector of the custom form's select for our `column` (Dash's DOM id of a pattern-matching id)."""
    dom_id = json.dumps({"column": column, "type": "import-column"}, separators=(",", ":"))
    return f"[id='{dom_id}']"


def _action(kind: str) -> str:
    dom_id = json.dumps({"kind": kind, "type": "import-action"}, separators=(",", ":"))
    return f"[id='{dom_id}']"


def _upload(page, name: str, data: bytes) -> None:
    page.set_input_files("#csv-upload input[type=file]", files=[{"name": name, "mimeType": "text/csv",
                                                                  "buffer": data}])


def test_schwab_export_through_its_preset(page, app_server):
    pid, _, _ = _portfolio(app_server, SEED)
    _open(page, pid)
    assert page.input_value("#import-format") == "mystocktracker"
    page.select_option("#import-format", "schwab")
    assert_visible(page, "#import-format-help", "Export (CSV)")
    _upload(page, "schwab.csv", (SAMPLES / "schwab_transactions.csv").read_bytes())
    assert_visible(page, "#csv-upload-result .import-answer", "Imported 6 transactions from schwab.csv.")
    text = page.inner_text("#csv-upload-result")
    # 6 trades; MoneyLink Transfer, Bank Interest, Stock Split and Journal were not.
    assert "6 imported, 0 duplicates skipped; 4 rows were not trades" in text
    assert "1 MoneyLink Transfer" in text
    cells = [r.inner_text().split("\t") for r in page.query_selector_all("#csv-upload-result tbody tr")]
    assert [(c[0].strip(), c[1].strip()) for c in cells] == [("10", "type")]  # the Stock Split, line 10
    assert_visible(page, "#csv-upload-result .csv-errors td")
    assert len(_ledger(app_server, pid)) == 1 + 6
    page.wait_for_function("document.querySelectorAll('#transactions-table .ag-center-cols-container .ag-row')"
                           ".length >= 7")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#csv-upload-result").scroll_into_view_if_needed()
    page.locator(".card", has=page.locator("#import-format")).screenshot(
        path=str(SCREENSHOTS / "broker-import.png"))
    assert page.problems == []


def test_an_error_names_the_line_of_the_users_file(page, app_server):
    pid, _, _ = _portfolio(app_server, SEED)
    _open(page, pid)
    page.select_option("#import-format", "schwab")
    bad = (SAMPLES / "schwab_transactions.csv").read_text().replace('"01/10/2024","Buy"', '"01/41/2024","Buy"')
    _upload(page, "bad.csv", bad.encode())
    assert_visible(page, "#csv-upload-result .alert", "Nothing was imported")
    cells = [r.inner_text().split("\t") for r in page.query_selector_all("#csv-upload-result tbody tr")]
    assert [(c[0].strip(), c[1].strip()) for c in cells] == [("7", "date")]
    assert len(_ledger(app_server, pid)) == 1
    assert page.problems == []


def test_custom_columns_mapped_imported_and_saved(page, app_server):
    pid, _, _ = _portfolio(app_server, SEED)
    _open(page, pid)
    page.select_option("#import-format", "custom")
    page.wait_for_selector("#import-custom", state="visible")
    _upload(page, "bank.csv", CUSTOM_CSV.encode())
    assert_visible(page, "#csv-upload-result .alert-info", "bank.csv is ready")
    # The file's headers fill the selects; Sym, Side, Qty and Px are guessed, "Trade day" is not.
    page.wait_for_function("(s) => document.querySelector(s).value === 'Sym'", arg=_column("ticker"))
    assert page.input_value(_column("type")) == "Side"
    assert page.input_value(_column("price")) == "Px"
    page.select_option(_column("date"), "Trade day")
    page.select_option("#import-date-format", "DD.MM.YYYY")
    page.fill(_action("BUY"), "Kauf")
    page.fill(_action("SELL"), "Verkauf")
    page.click("#import-run")
    assert_visible(page, "#csv-upload-result .import-answer", "Imported 2 transactions from bank.csv.")
    assert "1 row was not a trade (1 Einzahlung)" in page.inner_text("#csv-upload-result")
    assert [(t["date"], t["type"], t["quantity"]) for t in _ledger(app_server, pid) if t["ticker"] == "IBM"] == [
        ("2024-01-02", "BUY", 3), ("2024-01-04", "SELL", 1)]
    page.click("#import-save")
    assert_visible(page, "#import-mapping-message .alert-success", "custom columns")
    _open(page, pid)  # the saved mapping comes back with the page
    assert page.input_value("#import-format") == "custom"
    assert page.input_value(_column("date")) == "Trade day"
    assert page.input_value(_action("BUY")) == "Kauf"
    assert page.problems == []


def test_the_import_card_fits_a_phone(phone, app_server):
    pid, _, _ = _portfolio(app_server, SEED)
    phone.goto(f"/transactions?portfolio={pid}")
    phone.wait_for_selector("#import-format")
    phone.select_option("#import-format", "ibkr")
    _upload(phone, "ib.csv", (SAMPLES / "ibkr_flex_trades.csv").read_bytes())
    seen = assert_visible(phone, "#csv-upload-result .import-answer", "Imported 3 transactions from ib.csv.")
    assert "2 rows were not trades" in seen["text"]
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow
    box = phone.locator("#import-save").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.locator(".card", has=phone.locator("#import-format")).screenshot(
        path=str(SCREENSHOTS / "broker-import-phone.png"))
