"""The price badge: its word, colour and tooltip for every page status."""

from __future__ import annotations

import datetime as dt

import pytest

from dashapp.components.price_badge import (
    LISTED_TICKERS,
    NO_HOLDINGS,
    badge_text,
    badge_view,
    market_line,
    tooltip_children,
)
from services.payloads import Market, PriceBlock

NOW = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)
UTC = dt.UTC
CLOSED = Market("XNYS", False, dt.datetime(2026, 11, 30, 14, 30, tzinfo=UTC), dt.datetime(2026, 11, 27, 18, tzinfo=UTC))


def prices(status, *, as_of=None, missing=(), stale=(), counts=None, simulated=False):
    # One holding of the status (a fresh and a missing one for `partial`) unless the test says otherwise.
    default = {"fresh": 1, "missing": 1} if status == "partial" else {status: 1}
    return PriceBlock(status, as_of, tuple(missing), tuple(stale), default if counts is None else counts, simulated,
                      ())


@pytest.mark.parametrize(("status", "as_of", "expected"), [
    ("fresh", None, "Fresh"),
    ("market_closed", None, "Market closed"),
    ("stale", NOW - dt.timedelta(hours=3), "Stale (3 h)"),
    ("stale", NOW - dt.timedelta(minutes=7), "Stale (7 min)"),
    ("stale", None, "Stale"),
    ("missing", None, "Missing"),
    ("partial", None, "Partial"),
])
def test_badge_words(status, as_of, expected):
    assert badge_text(status, as_of, NOW) == expected


@pytest.mark.parametrize(("status", "tone"), [("fresh", "text-bg-success"), ("market_closed", "text-bg-secondary"),
                                              ("stale", "text-bg-warning"), ("missing", "text-bg-danger"),
                                              ("partial", "text-bg-info")])
def test_badge_tone(status, tone):
    assert tone in badge_view(prices(status), None, NOW).class_name


def test_tooltip_lists_missing_tickers_and_the_next_open():
    view = badge_view(prices("partial", as_of=dt.datetime(2026, 11, 30, 14, tzinfo=UTC), missing=["AAPL", "MSFT"],
                             counts={"fresh": 18, "market_closed": 0, "stale": 0, "missing": 2}, simulated=True),
                      CLOSED, NOW)
    assert view.text == "Partial"
    assert view.tooltip == (
        "Prices: 18 fresh, 2 missing",
        "Oldest price: Mon 30 Nov, 09:00 EST (1 h ago)",
        "Missing: AAPL, MSFT",
        "XNYS closed, opens Mon 30 Nov, 09:30 EST",
        "Prices are simulated (demo provider)",
    )


def test_tooltip_shortens_long_lists():
    tickers = [f"T{i:02d}" for i in range(LISTED_TICKERS + 3)]
    view = badge_view(prices("missing", missing=tickers, counts={"missing": len(tickers)}), None, NOW)
    assert view.tooltip[0] == f"Prices: {len(tickers)} missing"
    assert view.tooltip[1].endswith("and 3 more")


def test_market_line_when_open_names_the_close_if_known():
    assert market_line(Market("XNYS", True, None, None)) == "XNYS open"
    assert market_line(Market("XNYS", True, None, None, dt.datetime(2026, 11, 30, 21, tzinfo=UTC))) == (
        "XNYS open, closes Mon 30 Nov, 16:00 EST")
    assert market_line(Market("XLON", False, dt.datetime(2026, 12, 1, 8, tzinfo=UTC), None)) == (
        "XLON closed, opens Tue 1 Dec, 08:00 GMT")
    assert market_line(None) is None
    assert market_line(Market("XNYS", None, None, None)) == "XNYS closed"


def test_tooltip_children_are_text():
    view = badge_view(prices("missing", missing=["<b>X</b>"]), None, NOW)
    children = tooltip_children(view)
    assert children[1].children == "Missing: <b>X</b>"  # a text child: React escapes it


def test_a_portfolio_without_holdings_is_not_called_fresh():
    """The API's page status of an empty portfolio is `fresh` (no price disagrees); the badge does not repeat it."""
    view = badge_view(prices("fresh", counts={"fresh": 0, "market_closed": 0, "stale": 0, "missing": 0}), None, NOW)
    assert view.text == NO_HOLDINGS == "No holdings"
    assert "text-bg-success" not in view.class_name
    assert view.tooltip == ("No open holdings: there is no price to keep fresh",)


def test_tooltip_says_which_missing_prices_are_on_their_way():
    block = prices("missing", missing=("AAPL", "MSFT"), counts={"missing": 2})
    fetching = PriceBlock(block.status, block.as_of, block.missing, block.stale, block.counts, block.simulated,
                          ("AAPL",))
    assert "Being fetched now: AAPL" in badge_view(fetching, None, NOW).tooltip
    assert not any(line.startswith("Being fetched") for line in badge_view(block, None, NOW).tooltip)
