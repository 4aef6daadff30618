"""The cold path in headless Chromium: with a slow price source, the page shows the summary at once, a progress
indicator while prices arrive, then the priced table and the chart (background callbacks, issue item 4)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from dashapp.components.cold_path import POLL_S
from dashapp.components.part_views import CHART_UNAVAILABLE, NO_HISTORY, NO_HISTORY_AT_ALL, NO_PRICES_ALLOCATION
from tests.browser.support import DemoServer, wait_for_dashboard, wait_for_settled_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LATENCY_MS = 4000  # each simulated upstream request takes this long: long enough to watch the cold path


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("slow-app"),
                        env={"DEMO_LATENCY_MS": str(LATENCY_MS), "WARMUP_ENABLED": "0"}).wait_ready()
    yield server
    server.stop()


def _add(server: DemoServer, ticker: str) -> None:
    body = json.dumps({"date": "2026-01-05", "ticker": ticker, "type": "BUY", "quantity": 4, "price": 50}).encode()
    request = urllib.request.Request(f"{server.base}/api/portfolios/1/transactions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


def test_new_ticker_arrives_through_the_cold_path(browser, slow_server):
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=slow_server.base)
    context.set_default_timeout(30_000)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto("/")
        wait_for_dashboard(page, slow_server)  # the sample portfolio's prices, fetched in LATENCY_MS

        _add(slow_server, "ORCL")  # a ticker whose price is not cached: fetched in LATENCY_MS
        page.goto("/")
        page.wait_for_selector("#refresh-progress-wrap", state="visible", timeout=5_000)
        # The summary did not wait for the new price: it is filled while the price is still on its way.
        page.wait_for_function("() => /\\$\\d/.test(document.querySelector('#summary-market-value').innerText)",
                               timeout=5_000)
        assert page.is_visible("#refresh-progress-wrap")
        assert page.inner_text("#price-status-badge").strip() == "Partial"
        assert page.is_disabled("#refresh-prices")

        page.wait_for_selector("#holdings-table .ag-row >> text=ORCL")
        page.wait_for_function("""() => {
            const row = [...document.querySelectorAll('#holdings-table .ag-row')]
                .find(r => r.innerText.includes('ORCL'));
            return row && !row.innerText.includes('Missing');
        }""")
        page.wait_for_selector("#refresh-progress-wrap", state="hidden")
        wait_for_dashboard(page, slow_server)
        # Every price is in. The badge then says what the page's prices say: Partial only while London and Xetra
        # (the sample's VOD.L, SAP.DE) are closed and New York is open, a mix of fresh and market-closed prices.
        prices = json.loads(urllib.request.urlopen(f"{slow_server.base}/api/dashboard-holdings-data/1",
                                                   timeout=30).read())["prices"]
        assert prices["missing"] == [] and prices["fetching"] == []
        mixed = prices["counts"]["fresh"] > 0 and prices["counts"]["market_closed"] > 0
        assert (page.inner_text("#price-status-badge").strip() == "Partial") == mixed, prices
        assert problems == []
    finally:
        context.close()


def _post(server: DemoServer, path: str, body: dict) -> dict:
    request = urllib.request.Request(server.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_new_portfolio_fills_every_part_without_a_reload(browser, slow_server):
    """Issue 11, item 3: two tickers never fetched before, a slow source: summary, chart and donut filled, and the
    holdings table stayed a skeleton (its refill was held back by Dash's renderer; see ids.py). Every part must
    fill from the one page load, and no part may be left a skeleton."""
    portfolio = _post(slow_server, "/api/portfolios", {"name": "Chips"})["portfolio"]["id"]
    for ticker in ("QCOM", "TXN"):
        _post(slow_server, f"/api/portfolios/{portfolio}/transactions",
              {"date": "2025-02-03", "ticker": ticker, "type": "BUY", "quantity": 3, "price": 100})
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=slow_server.base)
    page = context.new_page()
    try:
        page.goto(f"/portfolio/{portfolio}")
        page.wait_for_selector("#react-entry-point #holdings-part.is-loading", timeout=10_000)  # cold indeed
        wait_for_dashboard(page, slow_server, timeout_ms=4 * LATENCY_MS + 15_000)
        page.wait_for_function("() => !document.querySelector('#react-entry-point .part.is-loading')",
                               timeout=10_000)
        tickers = page.locator("#react-entry-point #holdings-table .ag-pinned-left-cols-container .ag-row")
        assert sorted(tickers.all_inner_texts()) == ["QCOM", "TXN"]
        assert "Missing" not in page.inner_text("#react-entry-point #holdings-table")
    finally:
        context.close()


PRICE_WAIT_S = 2.0


@pytest.fixture(scope="module")
def unreachable_server(tmp_path_factory) -> Iterator[DemoServer]:
    """`python app.py` without --demo, the Yahoo provider's requests refused on this machine: no price ever comes."""
    server = DemoServer(tmp_path_factory.mktemp("unreachable-app"), demo=False,
                        env={"WARMUP_ENABLED": "0", "PRICE_WAIT_S": str(PRICE_WAIT_S),
                             "FETCH_BACKOFF_S": "0.1"}).wait_ready()
    portfolio = _post(server, "/api/portfolios", {"name": "Offline"})["portfolio"]["id"]
    assert portfolio == 1
    for ticker in ("AAPL", "MSFT"):  # 5 x 100 each: a cost basis of $1,000.00 that needs no price
        _post(server, "/api/portfolios/1/transactions",
              {"date": "2025-03-03", "ticker": ticker, "type": "BUY", "quantity": 5, "price": 100})
    yield server
    server.stop()


def _settled_within(page, seconds: float) -> float:
    """Seconds from the page's load until every part has settled; fails past `seconds`."""
    started = time.monotonic()
    wait_for_settled_dashboard(page, timeout_ms=seconds * 1000)
    return time.monotonic() - started


def test_an_unreachable_source_ends_in_the_unpriced_state(browser, unreachable_server):
    """Issue 11, item 4: no endless "Waiting for prices", skeleton or empty axis. Within PRICE_WAIT_S (plus a poll
    and the time the failing requests and their retries take) every part says what it knows and what is missing."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=unreachable_server.base)
    page = context.new_page()
    root = "#react-entry-point "
    try:
        page.goto("/portfolio/1")
        _settled_within(page, PRICE_WAIT_S + POLL_S + 8)
        assert page.inner_text(root + "#summary-market-value").strip() == "—"
        assert page.inner_text(root + "#summary-market-value-sub").strip() == (
            "Cost basis $1,000.00 · prices unavailable")
        assert page.inner_text(root + "#price-status-badge").strip() == "Missing"
        assert page.inner_text(root + "#holdings-count").strip() == "2 open positions · 2 unpriced"
        rows = page.locator(root + "#holdings-table .ag-center-cols-container .ag-row").all_inner_texts()
        assert len(rows) == 2 and all("Missing" in row and "$500.00" in row for row in rows)  # shown at cost
        assert page.inner_text(root + "#allocation-message").strip() == NO_PRICES_ALLOCATION
        assert page.inner_text(root + "#value-chart-message").strip() in (
            NO_HISTORY, NO_HISTORY_AT_ALL, CHART_UNAVAILABLE)
        health = json.loads(urllib.request.urlopen(unreachable_server.base + "/healthz", timeout=10).read())
        assert health["status"] == "degraded" and health["circuit"]["reason"] == "unreachable"

        # With the circuit open nothing is in flight: a second visit settles at once, without a wait.
        page.goto("/portfolio/1")
        assert _settled_within(page, PRICE_WAIT_S + POLL_S + 3) < PRICE_WAIT_S + POLL_S + 3
        assert page.is_hidden(root + "#refresh-progress-wrap")
        page.click(root + "#refresh-prices")
        page.wait_for_selector(root + "#refresh-message .text-loss")
        assert "unavailable" in page.inner_text(root + "#refresh-message")
    finally:
        context.close()
