"""Issue 14 on the transactions page, in a real browser: the base-currency select and its refusal."""

from __future__ import annotations

import pytest

from tests.browser.test_transactions import _api, _open, _portfolio, assert_visible

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_base_currency_select_changes_the_portfolios_currency(page, app_server):
    pid, _name, _rows = _portfolio(app_server, ("2024-01-02", "MSFT", "BUY", "1", "300"))
    _open(page, pid)
    assert page.inner_text("#portfolio-base-label") == "USD"
    page.select_option("#portfolio-base-currency", "EUR")
    page.click("#portfolio-base-apply")
    assert_visible(page, "#portfolio-message .alert-success", "Now valued in EUR.")
    page.wait_for_function("() => document.querySelector('#portfolio-base-label').innerText === 'EUR'")
    assert [p["base_currency"] for p in _api(app_server, "GET", "/api/portfolios")["portfolios"]
            if p["id"] == pid] == ["EUR"]
    assert page.problems == []


def test_a_refused_base_currency_says_why_in_an_alert(page, app_server):
    pid, _name, _rows = _portfolio(app_server)
    _api(app_server, "POST", f"/api/portfolios/{pid}/transactions", {
        "date": "2024-01-02", "ticker": "SAP.DE", "type": "BUY", "quantity": "1", "price": "180",
        "currency": "EUR", "fx_rate": "1.09"})
    _open(page, pid)
    page.select_option("#portfolio-base-currency", "GBP")
    page.click("#portfolio-base-apply")
    seen = assert_visible(page, "#portfolio-message .alert-danger", "carries an fx_rate into USD")
    assert seen["text"].startswith("Base currency not changed: 1 transaction carries an fx_rate into USD")
    assert page.inner_text("#portfolio-base-label") == "USD"
    assert page.problems == []
