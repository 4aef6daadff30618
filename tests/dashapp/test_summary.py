"""The summary cards' text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from dashapp.components.summary import CARDS, figure_children, summary_figures, summary_row
from services.analytics import Position, summary
from services.models import PriceInfo
from services.payloads import PriceBlock, Summary

FULL = {"market_value": 1500.0, "cost_basis": 1000.0, "unrealized_gain": 500.0, "unrealized_gain_pct": 0.5,
        "day_change": -12.5, "day_change_pct": -0.0083, "realized_gain": 40.0, "dividends": 10.0,
        "holdings_count": 3, "priced_count": 3, "priced_cost_basis": 1000.0, "currency": "USD"}


def cards(fields: dict, *args, **kwargs):
    """The cards of a summary written as its JSON fields."""
    return summary_figures(Summary(**fields), *args, **kwargs)


def test_cards_of_a_priced_portfolio():
    market, day, gain, realized = cards(FULL)
    assert (market.value, market.sub) == ("$1,500.00", "Cost basis $1,000.00")
    assert (day.value, day.sub, day.value_class) == ("-$12.50", "-0.83%", "text-loss")
    assert (gain.value, gain.sub, gain.value_class) == ("+$500.00", "+50.00%", "text-gain")
    assert (realized.value, realized.sub) == ("+$50.00", "Realized $40.00 · Div $10.00")


UNPRICED = {**FULL, "market_value": None, "unrealized_gain": None, "unrealized_gain_pct": None,
            "day_change": None, "day_change_pct": None, "priced_count": 0, "priced_cost_basis": 0.0}


def prices_block(fetching=(), missing=()):
    return PriceBlock("missing", None, tuple(missing), (),
                      {"fresh": 0, "market_closed": 0, "stale": 0, "missing": len(missing)}, False, tuple(fetching))


def test_all_priced_shows_value_over_the_whole_cost_basis():
    full = {**FULL, "priced_count": 3, "priced_cost_basis": 1000.0}
    market, *_ = cards(full, prices=prices_block())
    assert (market.value, market.sub) == ("$1,500.00", "Cost basis $1,000.00")


def test_partly_priced_shows_the_priced_value_and_the_cost_basis_of_the_same_holdings():
    # 18 of 20 priced: value 1,500.00 over their cost 1,000.00 (gain 500.00 = 1,500.00 - 1,000.00); the 2
    # unpriced holdings cost 234.56 more, in cost_basis 1,234.56 but not in the value or the gain.
    partial = {**FULL, "cost_basis": 1234.56, "holdings_count": 20, "priced_count": 18,
               "priced_cost_basis": 1000.0}
    market, _day, gain, _realized = cards(partial, prices=prices_block(missing=["X", "Y"]))
    assert (market.value, market.sub) == ("$1,500.00", "Cost basis $1,000.00 · 18 of 20 priced")
    assert gain.value == "+$500.00"


def test_nothing_priced_while_fetching_says_so_and_keeps_the_cost_basis():
    market, day, gain, _realized = cards(UNPRICED, prices=prices_block(fetching=["AAA"],
                                                                                missing=["AAA", "BBB"]))
    assert (market.value, market.sub) == ("—", "Cost basis $1,000.00 · fetching prices")
    assert (day.value, day.sub) == ("—", "—")
    assert (gain.value, gain.value_class) == ("—", "text-muted")


def test_nothing_priced_and_nothing_fetching_says_prices_unavailable():
    market, *_ = cards(UNPRICED, prices=prices_block(missing=["AAA", "BBB", "CCC"]))
    assert (market.value, market.sub) == ("—", "Cost basis $1,000.00 · prices unavailable")
    market, *_ = cards(UNPRICED)  # a caller without the prices block: never "waiting" for good
    assert (market.value, market.sub) == ("—", "Cost basis $1,000.00 · prices unavailable")


def test_empty_portfolio_is_worth_zero():
    empty = {"market_value": 0.0, "cost_basis": 0.0, "unrealized_gain": 0.0, "unrealized_gain_pct": None,
             "day_change": 0.0, "day_change_pct": None, "realized_gain": 0.0, "dividends": 0.0,
             "holdings_count": 0, "priced_count": 0, "priced_cost_basis": 0.0, "currency": "USD"}
    market, *_ = cards(empty, prices=prices_block())
    assert (market.value, market.sub) == ("$0.00", "No holdings yet")


def test_a_tiny_day_change_does_not_read_minus_zero():
    # -$0.16 on a $10,000 base: -0.16 / 10000 = -0.000016 = -0.0016 %, not "-0.00%"
    _market, day, *_ = cards({**FULL, "day_change": -0.16, "day_change_pct": -0.000016})
    assert (day.value, day.sub, day.sub_class) == ("-$0.16", "-0.0016%", "text-loss")


def test_cards_of_a_real_summary_add_up():
    # Three holdings (see tests/services/test_analytics.py::_half_cents): value 10.01 + 20.01 + 30.01 = 60.03,
    # cost 7.33 + 15.13 + 20.12 = 42.58, gain 60.03 - 42.58 = 17.45, day 1.01 + 0.01 + 0.01 = 1.03.
    positions = {t: Position(t, D(q), D(c), D(0), D(0), dt.date(2024, 1, 2))
                 for t, q, c in (("AAA", 3, "7.334"), ("BBB", 1, "15.125"), ("CCC", 5, "20.115"))}
    moment = dt.datetime(2024, 5, 1, 20, tzinfo=dt.UTC)
    prices = {t: PriceInfo(t, p, pc, moment, moment, "fresh")
              for t, p, pc in (("AAA", 3.335, 3.0), ("BBB", 20.005, 20.0), ("CCC", 6.001, 6.0))}
    market, day, gain, _realized = summary_figures(summary(positions, prices), prices=prices_block())
    assert (market.value, market.sub) == ("$60.03", "Cost basis $42.58")
    assert (gain.value, gain.sub) == ("+$17.45", "+40.98%")  # 17.45 / 42.58 = 0.409817
    assert (day.value, day.sub) == ("+$1.03", "+1.75%")  # 1.03 / 59 = 0.017458


def test_currency_is_used():
    market, *_ = cards({**FULL, "currency": "EUR"})
    assert market.value == "€1,500.00"


def test_figure_children_carry_the_tone():
    _market, day, *_ = cards(FULL)
    value, sub = figure_children(day)
    assert (value.children, value.className, sub.className) == ("-$12.50", "text-loss", "text-loss")


def test_row_has_the_four_ids():
    row = summary_row()
    ids_found = {c.id for c in _walk(row) if getattr(c, "id", None)}
    for _label, value_id, sub_id in CARDS:
        assert {value_id, sub_id} <= ids_found
    assert "summary-market-value" in ids_found


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            yield from _walk(child)
    elif children is not None and not isinstance(children, str):
        yield from _walk(children)
