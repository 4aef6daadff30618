"""The four summary cards: market value, day change, unrealized gain, realized gain plus dividends."""

from __future__ import annotations

from dataclasses import dataclass

from dash import html

from dashapp import ids
from dashapp.components.format import DASH, money, percent, tone
from dashapp.components.skeleton import skeleton_text
from services.payloads import PriceBlock, Summary

# (label, value id, sub-line id), in the order the cards are drawn.
CARDS = (
    ("Market value", ids.SUMMARY_MARKET_VALUE, ids.SUMMARY_MARKET_VALUE_SUB),
    ("Day change", ids.SUMMARY_DAY_CHANGE, ids.SUMMARY_DAY_CHANGE_SUB),
    ("Unrealized gain", ids.SUMMARY_UNREALIZED, ids.SUMMARY_UNREALIZED_SUB),
    ("Realized + dividends", ids.SUMMARY_REALIZED, ids.SUMMARY_REALIZED_SUB),
)


@dataclass(frozen=True)
class Figure:
    """One card's big number and the small line under it, each with its colour class."""

    value: str
    value_class: str
    sub: str
    sub_class: str = "text-muted"


def summary_figures(summary: Summary, *, prices: PriceBlock | None = None) -> tuple[Figure, Figure, Figure, Figure]:
    """The four cards' text for a payload's summary, in its currency; values not known yet read as an em dash.

    `prices` is the same payload's price block: with nothing priced it tells "fetching prices" (some are
    being fetched now) from "prices unavailable" (none is), so the card never waits for good.
    """
    currency = summary.currency
    market_value = _market_value_figure(summary, currency, bool(prices and prices.fetching))
    day = summary.day_change
    day_change = Figure(money(day, currency, signed=True), tone(day),
                        percent(summary.day_change_pct) if day is not None else DASH, tone(day))
    gain = summary.unrealized_gain
    unrealized = Figure(money(gain, currency, signed=True), tone(gain),
                        percent(summary.unrealized_gain_pct) if gain is not None else DASH, tone(gain))
    realized_value, dividends = summary.realized_gain, summary.dividends
    total = None if realized_value is None or dividends is None else realized_value + dividends
    realized = Figure(money(total, currency, signed=True), tone(total),
                      f"Realized {money(realized_value, currency)} · Div {money(dividends, currency)}")
    return market_value, day_change, unrealized, realized


def _market_value_figure(summary: Summary, currency: str, fetching: bool) -> Figure:
    """Market value over its cost basis, saying how much of the portfolio is priced when not all of it is.

    The cost basis shown is that of the holdings in the value above it (the unrealized gain card is their
    difference, to the cent); with nothing priced it is the whole cost basis, which needs no price.
    """
    holdings, value = summary.holdings_count, summary.market_value
    if holdings == 0:
        return Figure(money(0.0, currency), "", "No holdings yet")
    cost = f"Cost basis {money(summary.cost_basis, currency)}"
    if value is None:
        return Figure(DASH, "", f"{cost} · {'fetching prices' if fetching else 'prices unavailable'}")
    if summary.priced_count < holdings:
        return Figure(money(value, currency), "", f"Cost basis {money(summary.priced_cost_basis, currency)} · "
                                                  f"{summary.priced_count} of {holdings} priced")
    return Figure(money(value, currency), "", cost)


def figure_children(figure: Figure) -> tuple[html.Span, html.Span]:
    """A card's value and sub-line as coloured spans."""
    return html.Span(figure.value, className=figure.value_class), html.Span(figure.sub, className=figure.sub_class)


def summary_row() -> html.Div:
    """The row of four cards, each showing a skeleton until the summary callback fills it."""
    cards = []
    for label, value_id, sub_id in CARDS:
        cards.append(html.Div(html.Div(html.Div([
            html.Div(label, className="summary-label"),
            html.Div(skeleton_text("9rem", height="1.5rem"), id=value_id, className="summary-value"),
            html.Div(skeleton_text("7rem"), id=sub_id, className="summary-sub"),
        ], className="card-body"), className="card summary-card h-100"), className="col-6 col-lg-3"))
    return html.Div(cards, className="row g-3 mb-3")
