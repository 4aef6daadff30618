"""Each dashboard part in each state: a skeleton only while data is on its way, then data or a message."""

from __future__ import annotations

import pytest

from dashapp.components.part_views import (
    CHART_UNAVAILABLE,
    NO_HISTORY,
    NO_HISTORY_AT_ALL,
    NO_PRICES_ALLOCATION,
    allocation_view,
    chart_view,
    drawable,
    holdings_count,
    holdings_view,
    refresh_message,
)
from dashapp.components.skeleton import LOADED, LOADING
from services.payloads import AllocationSlice, Holding, PriceBlock, Series


def prices(*, fresh=0, missing=(), stale=(), fetching=()):
    counts = {"fresh": fresh, "market_closed": 0, "stale": len(stale), "missing": len(missing)}
    return PriceBlock("partial", None, tuple(missing), tuple(stale), counts, False, tuple(fetching))


def row(ticker, price):
    return Holding(ticker, 1.0, 100.0, 100.0, price, price, None, None, None, None, None, None,
                   "missing" if price is None else "fresh")


def text_of(component) -> str:
    if component is None:
        return ""
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        return "".join(text_of(child) for child in children)
    return text_of(children)


UNPRICED = [row("AAPL", None), row("MSFT", None)]


def test_holdings_wait_under_a_skeleton_while_their_prices_are_fetched():
    view = holdings_view(UNPRICED, prices(missing=("AAPL", "MSFT"), fetching=("AAPL", "MSFT")), final=False)
    assert (view.class_name, view.wait) == (LOADING, True)


@pytest.mark.parametrize(("fetching", "final"), [((), False), (("AAPL",), True)])
def test_unpriced_holdings_are_shown_at_cost_once_nothing_more_is_coming(fetching, final):
    """The source is unreachable (nothing in flight), or the wait ended: rows, not an endless skeleton."""
    view = holdings_view(UNPRICED, prices(missing=("AAPL", "MSFT"), fetching=fetching), final=final)
    assert (view.class_name, view.wait) == (LOADED, False)


def test_partly_priced_holdings_show_at_once_and_wait_for_the_rest():
    rows = [row("AAPL", 190.0), row("MSFT", None)]
    view = holdings_view(rows, prices(fresh=1, missing=("MSFT",), fetching=("MSFT",)), final=False)
    assert (view.class_name, view.wait) == (LOADED, True)
    assert holdings_count(rows) == "2 open positions · 1 unpriced"


def test_an_empty_portfolio_asks_for_transactions():
    view = holdings_view([], prices(), final=False, portfolio_id=7)
    assert view.class_name == LOADED and not view.wait
    assert "No holdings yet" in text_of(view.message)
    assert view.message.children[1].href == "/transactions?portfolio=7"
    assert holdings_count([]) == "No open positions"
    assert holdings_count([row("AAPL", 1.0)]) == "1 open position"


def test_allocation_states():
    priced = (AllocationSlice("AAPL", 1.0),)
    assert allocation_view([row("AAPL", 1.0)], priced, prices(fresh=1), final=False).class_name == LOADED
    arriving = prices(missing=("AAPL", "MSFT"), fetching=("AAPL",))
    assert allocation_view(UNPRICED, [], arriving, final=False).class_name == LOADING
    for view in (allocation_view(UNPRICED, [], arriving, final=True),
                 allocation_view(UNPRICED, [], prices(missing=("AAPL", "MSFT")), final=False)):
        assert view.class_name == LOADED and text_of(view.message) == NO_PRICES_ALLOCATION
    assert "No holdings yet" in text_of(allocation_view([], [], prices(), final=False).message)


SERIES = Series(("2026-01-02", "2026-01-05"), (100.0, 101.5), (90.0, 90.0))


def test_chart_states():
    drawn = chart_view(SERIES, final=False, has_holdings=True)
    assert (drawn.class_name, drawn.message, drawn.wait) == (LOADED, None, False)
    pending = chart_view(None, final=False, has_holdings=True)
    assert (pending.class_name, pending.wait) == (LOADING, True)
    gave_up = chart_view(None, final=True, has_holdings=True)
    assert (gave_up.class_name, text_of(gave_up.message), gave_up.wait) == (LOADED, CHART_UNAVAILABLE, False)


def test_a_chart_without_any_market_value_says_so_and_keeps_the_cost_line():
    unpriced = Series(SERIES.dates, (None, None), SERIES.cost_basis)
    view = chart_view(unpriced, final=False, has_holdings=True)
    assert view.class_name == LOADED and text_of(view.message) == NO_HISTORY
    assert drawable(unpriced)


def test_a_chart_with_no_point_at_all_draws_no_axes_and_says_why():
    """The source was never reached: dates but neither a value nor a cost line (an empty axis, issue 11 item 4)."""
    nothing = Series(SERIES.dates, (None, None), (None, None))
    assert not drawable(nothing)
    view = chart_view(nothing, final=True, has_holdings=True)
    assert view.class_name == LOADED and text_of(view.message) == NO_HISTORY_AT_ALL


@pytest.mark.parametrize("series", [Series((), (), ()), Series(("2026-01-02",), (None,), (0.0,))])
def test_an_empty_portfolios_chart_asks_for_transactions(series):
    view = chart_view(series, final=False, has_holdings=False, portfolio_id=3)
    assert view.class_name == LOADED
    assert "the value over time" in text_of(view.message)


def test_refresh_says_what_it_did():
    assert text_of(refresh_message(prices(missing=("A", "B"), fetching=("A", "B")))) == "Fetching 2 prices"
    assert text_of(refresh_message(prices(fresh=3))) == "All prices are current"
    assert text_of(refresh_message(prices())) == "No holdings to price"
    unreachable = refresh_message(prices(fresh=1, missing=("B",)))
    assert text_of(unreachable).startswith("1 price unavailable")
    assert unreachable.className == "small text-loss"
