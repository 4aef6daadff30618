"""At 390x844 (a phone) nothing scrolls sideways and every key number is whole (issue 11, item 7)."""

from __future__ import annotations

import pytest

from tests.browser.support import PHONE, wait_for_settled_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Elements wider than the screen, or poking out of it, outside the grids (which scroll inside themselves).
OVERFLOW_JS = """() => {
    const width = innerWidth;
    const out = [...document.querySelectorAll('#react-entry-point *')]
        .filter(e => !e.closest('.ag-root-wrapper') && e.getClientRects().length)
        .filter(e => { const box = e.getBoundingClientRect(); return box.right > width + 0.5 || box.left < -0.5; })
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + String(e.className).slice(0, 40));
    return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, out: out.slice(0, 10)};
}"""

# Summary numbers cut (ellipsis or clipped) or off screen.
CUT_JS = """() => [...document.querySelectorAll('#react-entry-point .summary-value, #react-entry-point .summary-sub')]
    .filter(e => e.scrollWidth > e.clientWidth + 0.5 || e.getBoundingClientRect().right > innerWidth)
    .map(e => e.id + ': ' + e.innerText)"""


def _assert_fits(page) -> None:
    layout = page.evaluate(OVERFLOW_JS)
    assert layout["scrollWidth"] <= layout["innerWidth"], layout
    assert layout["out"] == [], layout


def test_the_dashboard_fits_a_phone(phone):
    phone.goto("/")
    wait_for_settled_dashboard(phone)
    phone.locator("#react-entry-point #holdings-table").scroll_into_view_if_needed()
    phone.wait_for_selector("#react-entry-point #holdings-table .ag-row")
    _assert_fits(phone)
    assert phone.evaluate(CUT_JS) == []
    values = phone.locator("#react-entry-point .summary-value").all_inner_texts()
    assert len(values) == 4 and all("$" in value for value in values)
    # The selector is on screen, whole, and wide enough to read a portfolio's name.
    box = phone.locator("#react-entry-point #portfolio-select").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["width"] >= 200
    # Every range button is on screen and can be tapped (not squeezed to nothing).
    for button in phone.locator("#react-entry-point .range-buttons .btn").all():
        shape = button.bounding_box()
        assert shape["x"] >= 0 and shape["x"] + shape["width"] <= PHONE["width"] and shape["width"] >= 36
    # The holdings table leads with what a glance needs; its first columns are whole on screen.
    headers = phone.locator("#react-entry-point #holdings-table .ag-header-cell-text").all_inner_texts()
    assert headers[:4] == ["Ticker", "Market value", "Day change", "Gain"]


def test_the_transactions_page_fits_a_phone(phone):
    phone.goto("/transactions")
    phone.wait_for_selector("#react-entry-point #transactions-table .ag-row", state="attached")
    phone.wait_for_selector("#react-entry-point #transaction-submit")
    _assert_fits(phone)
    submit = phone.locator("#react-entry-point #transaction-submit").bounding_box()
    assert submit["x"] + submit["width"] <= PHONE["width"]
