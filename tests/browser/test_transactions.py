"""The transactions page in headless Chromium: CSV errors by line, the add and edit form, confirmed deletes,
portfolio names, an unknown portfolio id, and the way to the dashboard.

Every message is checked for what a person sees: its computed text colour against the background actually behind
it (the first ancestor with an opaque background), not only that it exists. A CSS bug once left them white text on
a transparent background, on a white page.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request

import pytest

from tests.browser.support import DASHBOARD_READY_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BAD_CSV = (
    "date,ticker,type,quantity,price,fees,note\n"
    "2024-03-01,MSFT,BUY,5,400,0,fine\n"
    "2024-03-02,AAPL,BUY,lots,180,0,not a number\n"
    "2024-03-03,KO,BUY,10,60,0,fine too\n"
)


_NAMES = itertools.count(1)

# The text colour of an element, the background behind it, and their WCAG contrast ratio.
VISIBILITY_JS = """(element) => {
    const rgba = (css) => {
        const m = css.match(/^rgba?\\(([^)]+)\\)$/);
        if (!m) return null;
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
    };
    let node = element, background = null;
    while (node && node.nodeType === 1) {
        const colour = rgba(getComputedStyle(node).backgroundColor);
        if (colour && colour.a > 0) { background = colour; break; }
        node = node.parentElement;
    }
    const page = background === null;
    background = background || {r: 255, g: 255, b: 255, a: 1};  // the canvas behind a page with no background
    const text = rgba(getComputedStyle(element).color);
    const luminance = (c) => [c.r, c.g, c.b].map(v => v / 255)
        .map(v => v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const [hi, lo] = [luminance(text), luminance(background)].sort((a, b) => b - a);
    const box = element.getBoundingClientRect();
    return {color: getComputedStyle(element).color,
            background: `rgb(${background.r}, ${background.g}, ${background.b})`,
            text_alpha: text.a, contrast: (hi + 0.05) / (lo + 0.05), page_background: page,
            shown: box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== 'hidden',
            text: element.innerText.trim()};
}"""


def assert_visible(page, selector: str, contains: str | None = None) -> dict:
    """The message at `selector` is shown, its text colour is not its background's, and it reads (contrast >= 2)."""
    if contains is not None:  # first, so the element judged is the one with the text (not one it replaced)
        page.wait_for_function("([s, t]) => document.querySelector(s) && document.querySelector(s).innerText"
                               ".includes(t)", arg=[selector, contains])
    element = page.wait_for_selector(selector, state="visible")
    seen = element.evaluate(VISIBILITY_JS)
    assert seen["shown"] and seen["text"], (selector, seen)
    assert seen["color"] != seen["background"] and seen["text_alpha"] > 0.5, (selector, seen)
    assert seen["contrast"] >= 2, (selector, seen)
    return seen


def _api(app_server, method: str, path: str, body: dict | None = None) -> dict | None:
    request = urllib.request.Request(app_server.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _portfolio(app_server, *rows: tuple[str, str, str, str, str]) -> tuple[int, str, list[dict]]:
    """A new portfolio of its own (the server is shared by the session) with `rows` (date, ticker, type, quantity,
    price): (its id, its name, the transactions as the API returns them)."""
    name = f"Browser {next(_NAMES)} {time.time_ns() % 10**9}"
    pid = _api(app_server, "POST", "/api/portfolios", {"name": name})["portfolio"]["id"]
    added = [_api(app_server, "POST", f"/api/portfolios/{pid}/transactions", {
        "date": day, "ticker": ticker, "type": kind, "quantity": quantity, "price": price})["transaction"]
        for day, ticker, kind, quantity, price in rows]
    return pid, name, added


def _ledger(app_server, pid: int) -> list[dict]:
    return _api(app_server, "GET", f"/api/portfolios/{pid}/transactions")["transactions"]


def _open(page, pid: int | None = None):
    page.goto("/transactions" if pid is None else f"/transactions?portfolio={pid}")
    page.wait_for_selector("#transactions-table .ag-row")


def _row(transaction_id: int) -> str:
    return f"#transactions-table .ag-center-cols-container .ag-row[row-id='{transaction_id}']"


def _select(page, *transaction_ids: int) -> None:
    for transaction_id in transaction_ids:
        page.locator(f"{_row(transaction_id)} .ag-selection-checkbox input").check()


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
    assert_visible(page, "#csv-upload-result .alert", "Nothing was imported")
    assert_visible(page, "#csv-upload-result .csv-errors td")
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
    assert_visible(page, "#transaction-quantity-error", "Quantity")
    assert_visible(page, "#transaction-form-message .alert-danger", "Not added")
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
    assert_visible(page, "#transaction-form-message .alert-success", "Added BUY IBM")
    page.wait_for_selector("#transactions-table .ag-row >> text=IBM")
    page.click("#nav-dashboard")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.wait_for_selector("#holdings-table .ag-row >> text=IBM")
    assert page.problems == []


def test_edit_a_transaction_refused_then_saved(page, app_server):
    pid, _name, (bought, sold) = _portfolio(app_server, ("2024-01-02", "AAPL", "BUY", "10", "100"),
                                            ("2024-03-01", "AAPL", "SELL", "8", "120"))
    _open(page, pid)
    _select(page, bought["id"])
    page.click("#transactions-edit")
    page.wait_for_selector("#transaction-submit >> text=Save changes")
    assert page.is_visible("#transaction-cancel")
    assert page.inner_text("#transaction-form-title") == "Edit a transaction"
    assert {f: page.input_value(f"#transaction-{f}") for f in ("date", "ticker", "type", "quantity", "price")} == {
        "date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": "10", "price": "100"}
    assert_visible(page, "#transaction-form-message .alert-info", "Editing BUY AAPL on 2024-01-02")

    # A bad field is shown at the field, as when adding.
    page.fill("#transaction-price", "abc")
    page.click("#transaction-submit")
    page.wait_for_selector("#transaction-price.is-invalid")
    assert_visible(page, "#transaction-price-error", "Price")
    # Less bought than the later SELL sells: refused, naming that SELL; nothing changes.
    page.fill("#transaction-price", "100")
    page.fill("#transaction-quantity", "7")
    page.click("#transaction-submit")
    page.wait_for_selector("#transaction-quantity.is-invalid")
    feedback = assert_visible(page, "#transaction-quantity-error", f"SELL (id {sold['id']})")
    assert "only 7 are held" in feedback["text"]
    assert "is-invalid" not in page.get_attribute("#transaction-price", "class")
    assert_visible(page, "#transaction-form-message .alert-danger", "Not saved")
    assert page.inner_text("#transaction-submit") == "Save changes"  # still editing
    assert [t["quantity"] for t in _ledger(app_server, pid)] == [10, 8]

    page.fill("#transaction-quantity", "12")
    page.fill("#transaction-note", "corrected")
    page.click("#transaction-submit")
    assert_visible(page, "#transaction-form-message .alert-success", "Saved changes: BUY AAPL on 2024-01-02")
    page.wait_for_selector(f"{_row(bought['id'])} [col-id='quantity'] >> text=12")
    page.wait_for_selector("#transaction-submit >> text=Add transaction")
    assert not page.is_visible("#transaction-cancel")
    assert page.input_value("#transaction-quantity") == ""
    assert [(t["id"], t["quantity"], t["note"]) for t in _ledger(app_server, pid)] == [
        (bought["id"], 12, "corrected"), (sold["id"], 8, "")]
    assert page.problems == []


def test_edit_needs_exactly_one_row_and_cancel_goes_back_to_adding(page, app_server):
    pid, _name, (first, second) = _portfolio(app_server, ("2024-01-02", "KO", "BUY", "3", "60"),
                                             ("2024-01-03", "KO", "BUY", "4", "61"))
    _open(page, pid)
    page.click("#transactions-edit")
    assert_visible(page, "#transactions-delete-message .alert-warning", "Select the transaction to edit")
    _select(page, first["id"], second["id"])
    page.click("#transactions-edit")
    assert_visible(page, "#transactions-delete-message .alert-warning",
                   "exactly one transaction to edit (2 are selected)")
    assert page.inner_text("#transaction-submit") == "Add transaction"
    page.locator(f"{_row(first['id'])} .ag-selection-checkbox input").uncheck()
    page.click("#transactions-edit")
    page.wait_for_selector("#transaction-submit >> text=Save changes")
    assert page.input_value("#transaction-quantity") == "4"
    page.click("#transaction-cancel")
    page.wait_for_selector("#transaction-submit >> text=Add transaction")
    assert page.input_value("#transaction-quantity") == "" and page.input_value("#transaction-ticker") == ""
    assert page.inner_text("#transaction-form-title") == "Add a transaction"
    assert page.problems == []


def test_delete_selected_asks_first(page, app_server):
    pid, _name, rows = _portfolio(app_server, *[(f"2024-01-0{day}", "PEP", "BUY", "1", "100") for day in (2, 3, 4)])
    _open(page, pid)
    _select(page, *[t["id"] for t in rows])
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#transactions-delete")
    deadline = time.monotonic() + 10
    while not questions and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert questions == ["Delete 3 transactions?"]
    page.wait_for_timeout(500)  # a delete would have been sent by now
    assert len(_ledger(app_server, pid)) == 3  # dismissed: nothing deleted
    assert page.locator("#transactions-table .ag-center-cols-container .ag-row").count() == 3

    def accept(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#transactions-delete")
    assert_visible(page, "#transactions-delete-message .alert-success", "Deleted 3 transactions.")
    assert questions == ["Delete 3 transactions?"] * 2
    assert _ledger(app_server, pid) == []
    page.wait_for_selector("#transactions-table .ag-center-cols-container .ag-row", state="detached")
    assert page.problems == []


def test_delete_after_the_rows_are_gone_says_so(page, app_server):
    pid, _name, (first, second, third) = _portfolio(
        app_server, *[(f"2024-02-0{day}", "XOM", "BUY", "2", "110") for day in (1, 2, 3)])
    _open(page, pid)
    page.on("dialog", lambda dialog: dialog.accept())
    _select(page, first["id"])
    page.click("#transactions-delete")
    assert_visible(page, "#transactions-delete-message .alert-success", "Deleted 1 transaction.")
    page.wait_for_selector(_row(first["id"]), state="detached")
    # The selection went with the rows: a second press has nothing to delete (and asks nothing).
    page.click("#transactions-delete")
    assert_visible(page, "#transactions-delete-message .alert-warning", "Select transactions in the grid first")

    # Rows deleted behind the page's back (another tab) while still selected here.
    _select(page, second["id"], third["id"])
    for gone in (second, third):
        _api(app_server, "DELETE", f"/api/portfolios/{pid}/transactions/{gone['id']}")
    page.click("#transactions-delete")
    seen = assert_visible(page, "#transactions-delete-message .alert-warning", "already deleted")
    assert seen["text"] == "Those transactions were already deleted."
    page.wait_for_selector(_row(second["id"]), state="detached")  # the grid is refilled
    assert page.problems == []


def test_a_duplicate_portfolio_name_is_refused_in_an_alert(page, app_server):
    pid, name, _rows = _portfolio(app_server, ("2024-01-02", "MSFT", "BUY", "1", "300"))
    other, other_name, _rows = _portfolio(app_server, ("2024-01-02", "MSFT", "BUY", "1", "300"))
    _open(page, other)
    page.fill("#portfolio-new-name", f"  {name.upper()} ")
    page.click("#portfolio-create")
    seen = assert_visible(page, "#portfolio-message .alert-danger", "exists already")
    assert seen["text"] == f"A portfolio named \u201c{name}\u201d exists already."
    page.fill("#portfolio-rename-name", name.lower())
    page.click("#portfolio-rename")
    page.wait_for_function("() => document.querySelector('#portfolio-message').innerText.includes('\u201c')")
    assert_visible(page, "#portfolio-message .alert-danger", f"\u201c{name}\u201d exists already")
    assert _api(app_server, "GET", "/api/portfolios")["portfolios"].count(
        {"id": other, "name": other_name, "base_currency": "USD", "benchmark": "^GSPC"}) == 1
    page.fill("#portfolio-rename-name", other_name + " (renamed)")
    page.click("#portfolio-rename")
    assert_visible(page, "#portfolio-message .alert-success", "Renamed to")
    page.fill("#portfolio-new-name", "")
    page.click("#portfolio-create")
    assert_visible(page, "#portfolio-message .alert-danger", "Name is required")
    assert pid != other
    assert page.problems == []


def test_an_unknown_portfolio_id_offers_the_portfolios_there_are(page, app_server):
    pid, name, _rows = _portfolio(app_server, ("2024-01-02", "JNJ", "BUY", "1", "150"))
    page.goto("/transactions?portfolio=987654")
    seen = assert_visible(page, "#portfolio-missing", "There is no portfolio 987654")
    assert "deleted" in seen["text"]
    assert "No portfolio yet" not in page.inner_text("#transactions-title")
    assert page.is_visible("#portfolio-create")
    link = page.locator(f"#portfolio-links a[href='/transactions?portfolio={pid}']")
    assert link.inner_text() == name
    assert_visible(page, f"#portfolio-links a[href='/transactions?portfolio={pid}']")
    link.click()
    page.wait_for_selector(f"#transactions-title >> text={name}")
    page.wait_for_selector("#transactions-table .ag-row >> text=JNJ")
    # The page of an unknown id answers 404 (dashapp/page_status.py): the browser logs that one failed load.
    assert [p for p in page.problems if "status of 404" not in p] == []
