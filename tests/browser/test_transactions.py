"""The transactions page in headless Chromium: CSV errors by line, the add form, and the way to the dashboard."""

from __future__ import annotations

import pytest

from tests.browser.support import DASHBOARD_READY_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BAD_CSV = (
    "date,ticker,type,quantity,price,fees,note\n"
    "2024-03-01,MSFT,BUY,5,400,0,fine\n"
    "2024-03-02,AAPL,BUY,lots,180,0,not a number\n"
    "2024-03-03,KO,BUY,10,60,0,fine too\n"
)


def _open(page):
    page.goto("/transactions")
    page.wait_for_selector("#transactions-table .ag-row")


def test_the_transactions_page_loads_no_plotly(page):
    # It has no graph: assets/plotly_loader.js fetches plotly.js only when one mounts.
    scripts = []
    page.on("request", lambda request: scripts.append(request.url.split("?")[0])
            if request.resource_type == "script" else None)
    _open(page)
    page.wait_for_load_state("networkidle")
    assert any(url.endswith("/assets/plotly_loader.js") for url in scripts)
    assert not [url for url in scripts if "plotly" in url.rsplit("/", 1)[-1] and "loader" not in url], scripts
    assert page.problems == []


def test_csv_with_a_bad_row_shows_its_line(page):
    _open(page)
    rows_before = page.locator("#transactions-table .ag-center-cols-container .ag-row").count()
    page.set_input_files("#csv-upload input[type=file]",
                         files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}])
    result = page.wait_for_selector("#csv-upload-result .csv-errors")
    cells = [row.inner_text().split("\t") for row in result.query_selector_all("tbody tr")]
    assert [c[0].strip() for c in cells] == ["3"]
    assert cells[0][1].strip() == "quantity"
    assert "Nothing was imported" in page.inner_text("#csv-upload-result")
    assert page.locator("#transactions-table .ag-center-cols-container .ag-row").count() == rows_before
    assert page.problems == []


def test_form_errors_are_shown_at_their_fields(page):
    _open(page)
    page.fill("#transaction-ticker", "AAPL")
    page.fill("#transaction-quantity", "")
    page.fill("#transaction-price", "abc")
    page.click("#transaction-submit")
    page.wait_for_selector("#transaction-quantity.is-invalid")
    assert "is-invalid" in page.get_attribute("#transaction-price", "class")
    assert "Quantity" in page.inner_text("#transaction-quantity-error")
    assert page.inner_text("#transaction-price-error").startswith("Price")
    assert "is-invalid" not in page.get_attribute("#transaction-ticker", "class")
    assert page.problems == []


def test_added_transaction_shows_on_the_dashboard(page):
    _open(page)
    # The date stays today's (the form's default): the newest row, at the top of the grid sorted by date.
    page.fill("#transaction-ticker", "ibm")
    page.select_option("#transaction-type", "BUY")
    page.fill("#transaction-quantity", "7")
    page.fill("#transaction-price", "150.25")
    page.click("#transaction-submit")
    page.wait_for_selector("#transaction-form-message >> text=Added BUY IBM")
    page.wait_for_selector("#transactions-table .ag-row >> text=IBM")
    page.click("#nav-dashboard")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.wait_for_selector("#holdings-table .ag-row >> text=IBM")
    assert page.problems == []
