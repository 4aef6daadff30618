"""The real app in Chromium under its Content-Security-Policy: nothing is refused while every part works.

Chromium fires a `securitypolicyviolation` event (and logs a console error) for each script, style, image,
connection or eval the policy blocks; the page records them from before its first script runs.
"""

from __future__ import annotations

import urllib.request

import pytest

from tests.browser.support import DASHBOARD_READY_JS, get, wait_for_settled_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LIVE = "#react-entry-point"

RECORD_VIOLATIONS_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push({
    directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample,
    source: e.sourceFile, line: e.lineNumber}));
"""


def _violations(page) -> list[dict]:
    return page.evaluate("() => window.__cspViolations")


def test_the_policy_is_strict_for_scripts(app_server):
    with urllib.request.urlopen(app_server.base + "/", timeout=30) as response:
        policy = response.headers["Content-Security-Policy"]
        # `python app.py` (Flask's dev server) names the app, not its Werkzeug and Python versions.
        assert response.headers.get_all("Server") == ["MyStockTracker"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    scripts = directives["script-src"].split()
    assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:])
    assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in directives["script-src"]


def test_dashboard_and_transactions_run_under_the_policy(page):
    page.add_init_script(RECORD_VIOLATIONS_JS)
    page.goto("/")
    wait_for_settled_dashboard(page)
    page.wait_for_function(DASHBOARD_READY_JS)  # the chart drawn: plotly's basic bundle loaded and ran
    page.wait_for_selector("#allocation-chart .slice")
    points = "() => document.querySelector('#value-chart .js-plotly-plot').data[0].x.length"
    one_year = page.evaluate(points)
    page.click(f"{LIVE} .range-buttons button:text-is('5Y')")
    page.wait_for_function(f"n => ({points})() > n", arg=one_year)
    # To the transactions page and back through the navbar (the same document: Dash's router).
    page.click("#nav-transactions")
    page.wait_for_selector(f"{LIVE} #transactions-table .ag-row")
    # A CSV upload is a Dash callback POST too (a bad row: nothing is imported).
    page.set_input_files("#csv-upload input[type=file]", files=[{
        "name": "bad.csv", "mimeType": "text/csv",
        "buffer": b"date,ticker,type,quantity,price\n2025-01-06,AAPL,HOLD,1,1\n"}])
    page.wait_for_selector("#csv-upload-result .csv-errors")
    page.click("#nav-dashboard")
    page.wait_for_function(DASHBOARD_READY_JS)
    page.wait_for_timeout(300)  # a violation reported late still lands
    assert _violations(page) == []
    assert page.problems == []


def test_a_fresh_tab_of_transactions_runs_under_the_policy(page, app_server):
    page.add_init_script(RECORD_VIOLATIONS_JS)
    page.goto("/transactions")
    page.wait_for_selector(f"{LIVE} #transactions-table .ag-row")
    page.wait_for_timeout(300)
    assert _violations(page) == []
    assert page.problems == []
    assert get(app_server.base + "/healthz")[0] == 200
