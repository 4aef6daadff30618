"""Issue 15, item 2 in a real browser: a split the ledger lacks (or dates wrong) is warned about on the dashboard,
one click fixes it through the ledger, the warning goes away, and the chart loses its cliff.

The demo provider splits NVDA 10:1 on 2024-06-10 and AVGO 10:1 on 2024-07-15 (services/providers/demo.py).
"""

from __future__ import annotations

import json
import time
import urllib.request
from itertools import pairwise

import pytest

from tests.browser.axe import assert_no_serious_violations, axe_missing
from tests.browser.support import wait_for_dashboard
from tests.browser.test_transactions import _api, _ledger, _portfolio, assert_visible

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WARNING = "#split-warnings .split-warning"


def _worst_day(app_server, pid: int) -> float:
    """The largest one-day fall of the chart's market value over its whole range, as a fraction (0.9: -90 %)."""
    with urllib.request.urlopen(f"{app_server.base}/api/dashboard-chart-data/{pid}?range=MAX", timeout=60) as reply:
        assert reply.status == 200  # 202 while it is generated: waited for below
        body = json.loads(reply.read())
    values = [v for v in body["series"]["market_value"] if v]
    return max(1 - after / before for before, after in pairwise(values))


def _chart_ready(app_server, pid: int) -> None:
    """Wait until the chart's series of the current ledger is generated (the API answers 202 until then)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{app_server.base}/api/dashboard-chart-data/{pid}?range=MAX",
                                    timeout=60) as reply:
            if reply.status == 200:
                return
        time.sleep(0.5)
    raise AssertionError("the chart was not generated within 60 s")


def test_a_missing_split_is_warned_about_and_fixed_in_one_click(page, app_server):
    pid, _name, _rows = _portfolio(app_server, ("2024-01-02", "NVDA", "BUY", "10", "50"))
    page.goto(f"/portfolio/{pid}")
    wait_for_dashboard(page, app_server)
    seen = assert_visible(page, WARNING, "NVDA: the price source split it 10:1 on 2024-06-10")
    assert "false -90 % move" in seen["text"]
    # The chart shows the cliff the warning speaks of: 10 shares at the old price, then at a tenth of it.
    _chart_ready(app_server, pid)
    assert _worst_day(app_server, pid) > 0.85

    page.click("#split-warnings button.split-fix")
    assert_visible(page, "#split-fix-message .alert-success", "Added the 10:1 split of NVDA on 2024-06-10.")
    page.wait_for_function("(s) => !document.querySelector(s)", arg=WARNING)
    splits = [(t["date"], t["quantity"]) for t in _ledger(app_server, pid) if t["type"] == "SPLIT"]
    assert splits == [("2024-06-10", 10.0)]
    _chart_ready(app_server, pid)
    # A simulated day moves a few percent at most: no cliff once the ledger agrees with the source.
    assert _worst_day(app_server, pid) < 0.2
    assert page.problems == []


def test_a_misdated_split_is_moved_to_the_sources_day(page, app_server):
    pid, _name, rows = _portfolio(app_server, ("2024-01-02", "AVGO", "BUY", "4", "100"),
                                  ("2024-07-12", "AVGO", "SPLIT", "10", "0"))  # the Friday before
    page.goto(f"/portfolio/{pid}")
    wait_for_dashboard(page, app_server)
    assert_visible(page, WARNING, "AVGO: the ledger's 10:1 split is dated 2024-07-12")
    if axe_missing() is None:  # the warning and its button read well (contrast, names) where axe-core is installed
        assert_no_serious_violations(page, "the split warning", "#split-warnings")
    page.get_by_role("button", name="Move it to 2024-07-15").click()
    assert_visible(page, "#split-fix-message .alert-success", "Moved the 10:1 split of AVGO to 2024-07-15.")
    page.wait_for_function("(s) => !document.querySelector(s)", arg=WARNING)
    moved = [t for t in _ledger(app_server, pid) if t["type"] == "SPLIT"]
    assert [(t["id"], t["date"]) for t in moved] == [(rows[1]["id"], "2024-07-15")]  # the same row, moved
    assert page.problems == []


def test_a_ledger_that_agrees_shows_no_warning(page, app_server):
    pid, _name, _rows = _portfolio(app_server, ("2024-01-02", "NVDA", "BUY", "10", "50"),
                                   ("2024-06-10", "NVDA", "SPLIT", "10", "0"))
    page.goto(f"/portfolio/{pid}")
    wait_for_dashboard(page, app_server)
    page.wait_for_load_state("networkidle")
    assert page.query_selector(WARNING) is None
    assert _api(app_server, "GET", f"/api/portfolios/{pid}/transactions")["transactions"][1]["type"] == "SPLIT"


def test_fixing_one_of_two_leaves_the_other_warned_about(page, app_server):
    pid, _name, _rows = _portfolio(app_server, ("2024-01-02", "NVDA", "BUY", "10", "50"),
                                   ("2024-01-02", "AVGO", "BUY", "4", "100"))
    page.goto(f"/portfolio/{pid}")
    wait_for_dashboard(page, app_server)
    assert_visible(page, WARNING, "AVGO: the price source split it 10:1 on 2024-07-15")
    assert page.locator(f"{WARNING} li").count() == 2
    page.get_by_role("button", name="Add the 10:1 split").first.click()  # AVGO's: the list is by ticker
    assert_visible(page, "#split-fix-message .alert-success", "Added the 10:1 split of AVGO on 2024-07-15.")
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 1", arg=f"{WARNING} li")
    assert "NVDA" in page.inner_text(WARNING)
    page.wait_for_load_state("networkidle")
    # Redrawing the buttons clicked nothing: only the one fix was written.
    splits = [(t["ticker"], t["date"]) for t in _ledger(app_server, pid) if t["type"] == "SPLIT"]
    assert splits == [("AVGO", "2024-07-15")]
    assert page.problems == []
