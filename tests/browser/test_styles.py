"""Each page looks the same reached directly and through the navbar, in demo mode and without it (issue 11, item 1).

A speed change once left the entry page's inlined critical CSS in the document after Bootstrap's full sheet:
on every page reached through the navbar, `.btn-outline-danger` buttons became plain text, `.col-lg-*` columns
stacked and alerts turned white on transparent, while every test that only checked an element existed stayed
green. These compare the computed styles (colours, borders, padding, sizes) of named buttons, cards and grid
columns between the two ways of arriving.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.browser.support import STYLES_JS, DemoServer, wait_for_settled_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWPORT = {"width": 1360, "height": 1000}
ROOT = "#react-entry-point "

DASHBOARD = [ROOT + selector for selector in (
    "#refresh-prices", ".range-buttons .btn", ".range-buttons .btn.active", "#price-status-badge",
    ".summary-card", "#summary-market-value", "div:has(> .summary-card)", ".row > div:has(#value-chart-part)",
    ".row > div:has(#allocation-part)", ".card-header", "#navbar", "#nav-dashboard", "#nav-transactions",
    "#portfolio-select",
)]
TRANSACTIONS = [ROOT + selector for selector in (
    "#transactions-delete", "#transaction-submit", "#portfolio-delete", "#csv-download-button", "#portfolio-create",
    "#portfolio-rename", ".row > div:has(#transactions-table-part)", ".row > div:has(#csv-upload)",
    ".row > div:has(#portfolio-create)", ".upload-area", "#transaction-ticker", ".card-header", "#navbar",
)]
NOT_FOUND = [ROOT + selector for selector in (".page h1", ".page .btn", ".page", "#navbar", "#portfolio-select")]
DEMO_ONLY = [ROOT + "#demo-banner"]


def _post(server: DemoServer, path: str, body: dict) -> dict:
    request = urllib.request.Request(server.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory) -> Iterator[DemoServer]:
    """`python app.py` without --demo: the Yahoo provider, unreachable (no demo banner, so other critical CSS)."""
    server = DemoServer(tmp_path_factory.mktemp("plain-app"), demo=False, env={"WARMUP_ENABLED": "0"}).wait_ready()
    portfolio = _post(server, "/api/portfolios", {"name": "Plain"})["portfolio"]["id"]
    for ticker in ("AAPL", "MSFT"):
        _post(server, f"/api/portfolios/{portfolio}/transactions",
              {"date": "2025-03-03", "ticker": ticker, "type": "BUY", "quantity": 5, "price": 100})
    yield server
    server.stop()


@pytest.fixture(params=["demo", "plain"])
def server(request, app_server, plain_server) -> DemoServer:
    return app_server if request.param == "demo" else plain_server


def _page(browser, server: DemoServer):
    context = browser.new_context(viewport=VIEWPORT, base_url=server.base)
    context.set_default_timeout(30_000)
    return context, context.new_page()


def _settled_transactions(page) -> None:
    page.wait_for_selector(ROOT + "#transactions-table-part:not(.is-loading)")
    page.wait_for_selector(ROOT + "#transaction-submit")


def _styles(page, selectors: list[str]) -> dict:
    page.wait_for_timeout(300)  # transitions (button colours) finish
    return page.evaluate(STYLES_JS, selectors)


def _assert_same(direct: dict, navigated: dict, required: list[str]) -> None:
    missing = [selector for selector in required if direct[selector] is None]
    assert missing == [], f"not on the page: {missing}"
    differ = {selector: (direct[selector], navigated[selector]) for selector in direct
              if direct[selector] != navigated[selector]}
    assert differ == {}


def test_dashboard_reached_through_the_navbar_looks_as_reached_directly(browser, server):
    context, page = _page(browser, server)
    try:
        selectors = DASHBOARD + DEMO_ONLY
        page.goto("/")
        wait_for_settled_dashboard(page)
        direct = _styles(page, selectors)
        page.goto("/transactions")
        _settled_transactions(page)
        page.click(ROOT + "#nav-dashboard")
        wait_for_settled_dashboard(page)
        _assert_same(direct, _styles(page, selectors), DASHBOARD)
    finally:
        context.close()


def test_transactions_reached_through_the_navbar_look_as_reached_directly(browser, server):
    context, page = _page(browser, server)
    try:
        page.goto("/transactions")
        _settled_transactions(page)
        direct = _styles(page, TRANSACTIONS)
        page.goto("/")
        wait_for_settled_dashboard(page)
        page.click(ROOT + "#nav-transactions")
        _settled_transactions(page)
        _assert_same(direct, _styles(page, TRANSACTIONS), TRANSACTIONS)
    finally:
        context.close()


def test_the_404_page_reached_inside_the_app_looks_as_reached_directly(browser, server):
    context, page = _page(browser, server)
    try:
        response = page.goto("/nope")
        assert response.status == 404
        page.wait_for_selector(ROOT + ".page .btn")
        direct = _styles(page, NOT_FOUND)
        page.goto("/")
        wait_for_settled_dashboard(page)
        # A client-side move, as a link inside the app makes it (Dash's router follows the history).
        page.evaluate("() => { history.pushState({}, '', '/nope'); dispatchEvent(new PopStateEvent('popstate')); }")
        page.wait_for_selector(ROOT + ".page .btn")
        _assert_same(direct, _styles(page, NOT_FOUND), NOT_FOUND)
    finally:
        context.close()


def test_buttons_keep_their_bootstrap_variant_after_navigation(browser, app_server):
    """The variants themselves, not only their equality: an outline-danger button is red-bordered, the primary one
    filled (the broken cascade made both plain text on transparent)."""
    context, page = _page(browser, app_server)
    try:
        page.goto("/")
        wait_for_settled_dashboard(page)
        page.click(ROOT + "#nav-transactions")
        _settled_transactions(page)
        styles = _styles(page, [ROOT + "#transactions-delete", ROOT + "#transaction-submit"])
        danger, primary = styles[ROOT + "#transactions-delete"], styles[ROOT + "#transaction-submit"]
        assert danger["borderTopWidth"] == "1px" and danger["borderTopColor"] != "rgba(0, 0, 0, 0)"
        assert danger["color"] == danger["borderTopColor"]  # outline: text and border in the variant's colour
        assert primary["backgroundColor"] not in ("rgba(0, 0, 0, 0)", "transparent")
        assert primary["color"] != primary["backgroundColor"]
    finally:
        context.close()
