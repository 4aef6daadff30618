"""The dashboard in headless Chromium: every part fills in, the badge shows, nothing errors in the console."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.browser.support import BADGE_WORDS, DASHBOARD_READY_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LIVE = "#react-entry-point"


def test_dashboard_fills_in(page):
    callbacks = []
    page.on("request", lambda request: callbacks.append(json.loads(request.post_data)["output"])
            if "_dash-update-component" in request.url else None)
    page.goto("/")
    page.wait_for_function(DASHBOARD_READY_JS)
    # The first page comes in the first layout: Dash Pages' router callback does not run (one round trip less).
    assert not [output for output in callbacks if "_pages_content" in output]
    assert re.fullmatch(r"\$[\d,]+\.\d\d", page.inner_text("#summary-market-value").strip())
    assert page.locator("#holdings-table .ag-row").count() >= 10
    assert page.locator("#value-chart .scatterlayer .trace").count() == 2  # market value and cost basis
    page.wait_for_selector("#allocation-chart .slice")
    badge = page.inner_text("#price-status-badge").strip()
    assert badge.startswith(BADGE_WORDS)
    assert "is-loading" not in page.get_attribute("#holdings-part", "class")
    assert page.problems == []


def test_charts_draw_with_the_basic_plotly_bundle_and_the_full_one_is_never_fetched(page):
    scripts = []
    page.on("request", lambda request: scripts.append(request.url.split("?")[0])
            if request.resource_type == "script" else None)
    page.goto("/portfolio/1")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.wait_for_selector("#allocation-chart .slice")
    assert [url for url in scripts if "/assets/vendor/plotly-basic-" in url and url.endswith(".min.js")]
    assert not [url for url in scripts if url.endswith("/plotly.min.js")], scripts
    # The Plotly the graphs drew with is the basic bundle: it knows three trace types (the full one 47).
    assert page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces).sort()") == ["bar", "pie", "scatter"]
    assert page.problems == []


def test_badge_tooltip_names_the_market(page):
    page.goto("/")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.hover("#price-status-badge")
    tooltip = page.wait_for_selector(".tooltip")
    text = tooltip.inner_text()
    assert "Prices:" in text and ("XNYS open" in text or "XNYS closed" in text)
    assert page.problems == []


def test_range_buttons_change_the_chart(page):
    page.goto("/portfolio/1")
    page.wait_for_function(DASHBOARD_READY_JS)
    points = "() => document.querySelector('#value-chart .js-plotly-plot').data[0].x.length"
    one_year = page.evaluate(points)
    # Scoped to the live app: the static skeleton (hidden) has the same buttons.
    page.click(f"{LIVE} .range-buttons button:text-is('5Y')")
    page.wait_for_function(f"n => ({points})() > n", arg=one_year)
    assert "active" in page.get_attribute(f"{LIVE} .range-buttons button:text-is('5Y')", "class")
    assert "active" not in page.get_attribute(f"{LIVE} .range-buttons button:text-is('1Y')", "class")
    assert page.problems == []


def test_unknown_portfolio_says_so(page):
    response = page.goto("/portfolio/999999")
    assert response.status == 404  # the page itself is drawn, with the status of what it shows
    page.wait_for_selector("text=There is no portfolio 999999")
    # The browser logs the 404 of the page's own address as a console error; nothing else may fail.
    assert [p for p in page.problems if "status of 404" not in p] == []


def test_holdings_grid_sorts(page):
    page.goto("/")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.click("#holdings-table .ag-header-cell[col-id='ticker'] .ag-header-cell-label")
    page.wait_for_function("""() => {
        const cells = [...document.querySelectorAll("#holdings-table .ag-center-cols-container .ag-row, "
            + "#holdings-table .ag-pinned-left-cols-container .ag-row")];
        return cells.length > 0;
    }""")
    tickers = page.eval_on_selector_all(
        "#holdings-table .ag-pinned-left-cols-container .ag-row",
        "rows => rows.sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))"
        ".map(r => r.innerText.trim())")
    assert tickers == sorted(tickers)
    assert page.problems == []


def test_portfolio_selector_navigates(page, app_server):
    request = urllib.request.Request(f"{app_server.base}/api/portfolios", data=b'{"name": "Empty <one>"}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        created = json.loads(response.read())["portfolio"]
    page.goto("/")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.select_option("#portfolio-select", str(created["id"]))
    page.wait_for_url(f"**/portfolio/{created['id']}")
    page.wait_for_selector(f"{LIVE} #portfolio-title >> text=Empty <one>")  # user text shown as text
    page.wait_for_function("() => document.querySelector('#summary-market-value').innerText.trim() === '$0.00'")
    assert page.get_attribute("#nav-transactions", "href") == f"/transactions?portfolio={created['id']}"
    page.click("#nav-transactions")
    page.wait_for_selector("#transactions-title >> text=Empty <one>")
    assert page.input_value("#portfolio-select") == str(created["id"])
    assert page.problems == []
