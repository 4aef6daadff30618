"""axe-core over the pages in headless Chromium (WCAG 2.0 A/AA and 2.1 AA rules, colour contrast included): no
violation of impact serious or critical on the dashboard, the transactions page with its alerts, the 404 page, an
empty portfolio's dashboard, and both main pages at 390x844 (issue 11).

axe-core comes from npm (package.json; `npm ci`). Without node_modules/axe-core these tests skip with the reason.
The theme's colours are made readable in assets/contrast.css.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.browser.axe import assert_no_serious_violations, axe_missing
from tests.browser.support import wait_for_dashboard, wait_for_settled_dashboard

_AXE_MISSING = axe_missing()
pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(_AXE_MISSING is not None, reason=f"ACCESSIBILITY TESTS SKIPPED: {_AXE_MISSING}"),
]

LIVE = "#react-entry-point"
BAD_CSV = b"date,ticker,type,quantity,price\n2024-13-01,AAPL,BUY,1,1\n"
GOOD_CSV = b"date,ticker,type,quantity,price\n2024-03-01,MSFT,BUY,2,400\n"


def _post(app_server, path: str, body: dict) -> dict:
    request = urllib.request.Request(app_server.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _new_portfolio(app_server, name: str) -> int:
    """A portfolio of its own (the server is shared by the session); `name`, or `name` made unique if taken."""
    try:
        return _post(app_server, "/api/portfolios", {"name": name})["portfolio"]["id"]
    except urllib.error.HTTPError as error:
        if error.code != 422:
            raise
    return _post(app_server, "/api/portfolios", {"name": f"{name} {time.time_ns() % 10**9}"})["portfolio"]["id"]


def _settle(page) -> None:
    """No request in flight and the live page drawn (the static skeleton gone): nothing re-renders under axe."""
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(f"{LIVE} .page")
    page.wait_for_selector("#static-skeleton", state="hidden")


def _no_tooltip(page) -> None:
    page.mouse.move(1, 1)
    page.wait_for_selector(".tooltip", state="detached")


def _open_dashboard(page, app_server) -> None:
    page.goto("/")
    wait_for_dashboard(page, app_server)
    page.wait_for_selector(f"{LIVE} #allocation-chart .slice")
    _settle(page)


def _open_transactions(page, portfolio: int | None = None) -> None:
    page.goto("/transactions" if portfolio is None else f"/transactions?portfolio={portfolio}")
    page.wait_for_selector("#csv-upload input[type=file]", state="attached")
    # The grid is filled (rows, or its "no transactions yet" overlay): the page has stopped changing.
    page.wait_for_function("""() => document.querySelector('#transactions-table .ag-row, #transactions-table '
                              + '.ag-overlay-no-rows-wrapper, #transactions-table .ag-overlay-no-rows-center')""")
    _settle(page)


def _upload(page, name: str, body: bytes, shown: str) -> None:
    """Upload a CSV through the dcc.Upload input and wait until `shown` is in #csv-upload-result."""
    page.set_input_files("#csv-upload input[type=file]", files=[{"name": name, "mimeType": "text/csv",
                                                                 "buffer": body}])
    page.wait_for_selector(f"#csv-upload-result {shown}")
    _settle(page)


# -- (a) the dashboard at 1360x1000 -----------------------------------------------------------------------------


def test_dashboard(page, app_server):
    _open_dashboard(page, app_server)
    _no_tooltip(page)
    assert_no_serious_violations(page, "the dashboard (badge tooltip closed)")


def test_dashboard_with_the_badge_tooltip_open(page, app_server):
    _open_dashboard(page, app_server)
    page.hover(f"{LIVE} #price-status-badge")
    page.wait_for_selector(".tooltip.show")
    assert_no_serious_violations(page, "the dashboard (badge tooltip open)")


def test_dashboard_hover_states(page, app_server):
    """What the pointer changes: a range button's hover, and gain/loss cells on the grid's row hover."""
    _open_dashboard(page, app_server)
    button = page.locator(f"{LIVE} .range-buttons .btn:not(.active)").first
    button.hover()
    page.wait_for_timeout(300)  # Bootstrap's colour transition
    assert_no_serious_violations(page, "a hovered range button", f"{LIVE} .range-buttons")
    row = page.locator(f"{LIVE} #holdings-table .ag-center-cols-container .ag-row").first
    row.hover()
    page.wait_for_selector(f"{LIVE} #holdings-table .ag-row-hover")
    assert_no_serious_violations(page, "a hovered holdings row", f"{LIVE} #holdings-table .ag-row-hover")


# -- (b) the transactions page with its alerts ------------------------------------------------------------------


def test_transactions_with_an_error_alert(page):
    _open_transactions(page)
    _upload(page, "bad.csv", BAD_CSV, ".alert-danger .csv-errors")
    assert_no_serious_violations(page, "the transactions page with a rejected CSV")
    assert page.locator("#csv-upload-result .alert-danger").count() == 1  # still shown: axe saw it


def test_transactions_with_a_success_alert(page, app_server):
    pid = _new_portfolio(app_server, "Accessibility import")
    _open_transactions(page, pid)
    _upload(page, "good.csv", GOOD_CSV, ".alert-success")
    assert_no_serious_violations(page, "the transactions page with an imported CSV")
    assert page.locator("#csv-upload-result .alert-success").count() == 1
    page.hover("#transactions-delete")  # an outline-danger button's hover
    page.wait_for_timeout(300)
    assert_no_serious_violations(page, "a hovered Delete selected button", "#transactions-delete")


# -- (c) the 404 page -------------------------------------------------------------------------------------------


def test_not_found_page(page):
    page.goto("/nope")
    _settle(page)
    assert_no_serious_violations(page, "the 404 page")


# -- (d) an empty portfolio's dashboard ------------------------------------------------------------------------


def test_empty_portfolio_dashboard(page, app_server):
    pid = _new_portfolio(app_server, "Empty")
    page.goto(f"/portfolio/{pid}")
    wait_for_settled_dashboard(page)
    _settle(page)
    _no_tooltip(page)
    assert_no_serious_violations(page, "an empty portfolio's dashboard")


# -- (e) 390x844 ------------------------------------------------------------------------------------------------


def test_dashboard_on_a_phone(phone, app_server):
    _open_dashboard(phone, app_server)
    assert_no_serious_violations(phone, "the dashboard at 390x844")


def test_transactions_on_a_phone(phone):
    _open_transactions(phone)
    _upload(phone, "bad.csv", BAD_CSV, ".alert-danger .csv-errors")
    assert_no_serious_violations(phone, "the transactions page at 390x844")
