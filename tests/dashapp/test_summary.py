"""The summary cards' text."""

from __future__ import annotations

from dashapp.components.summary import CARDS, figure_children, summary_figures, summary_row

FULL = {"market_value": 1500.0, "cost_basis": 1000.0, "unrealized_gain": 500.0, "unrealized_gain_pct": 0.5,
        "day_change": -12.5, "day_change_pct": -0.0083, "realized_gain": 40.0, "dividends": 10.0,
        "holdings_count": 3}


def test_cards_of_a_priced_portfolio():
    market, day, gain, realized = summary_figures(FULL)
    assert (market.value, market.sub) == ("$1,500.00", "Cost basis $1,000.00")
    assert (day.value, day.sub, day.value_class) == ("-$12.50", "-0.83%", "text-loss")
    assert (gain.value, gain.sub, gain.value_class) == ("+$500.00", "+50.00%", "text-gain")
    assert (realized.value, realized.sub) == ("+$50.00", "Realized $40.00 · Div $10.00")


def test_unknown_values_are_dashes_never_zero():
    waiting = {**FULL, "market_value": None, "unrealized_gain": None, "unrealized_gain_pct": None,
               "day_change": None, "day_change_pct": None}
    market, day, gain, _realized = summary_figures(waiting)
    assert (market.value, market.sub) == ("—", "Waiting for prices")
    assert (day.value, day.sub) == ("—", "—")
    assert (gain.value, gain.value_class) == ("—", "text-muted")


def test_empty_portfolio_is_worth_zero():
    empty = {"market_value": 0.0, "cost_basis": 0.0, "unrealized_gain": 0.0, "unrealized_gain_pct": None,
             "day_change": 0.0, "day_change_pct": None, "realized_gain": 0.0, "dividends": 0.0,
             "holdings_count": 0}
    market, *_ = summary_figures(empty)
    assert (market.value, market.sub) == ("$0.00", "Cost basis $0.00")


def test_currency_is_used():
    market, *_ = summary_figures(FULL, "EUR")
    assert market.value == "€1,500.00"


def test_figure_children_carry_the_tone():
    _market, day, *_ = summary_figures(FULL)
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
