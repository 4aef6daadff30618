"""What each dashboard part shows in each state: loading, filled, partly priced, unpriced, empty, unavailable.

Pure decisions over the payloads of services/dashboard_data.py, so every state is unit-tested without a browser.
A part stays a skeleton (LOADING) only while its data is still arriving (`prices.fetching`, or a chart being
generated) and the background wait has not ended (`final`); once the wait has ended or nothing is arriving any
more, the part shows what there is, with a message that says what is missing and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from dashapp.components.cold_path import price_progress
from dashapp.components.skeleton import LOADED, LOADING
from services.payloads import AllocationSlice, Holding, PriceBlock, Series

CHART_UNAVAILABLE = "Price history is not available for every holding yet. Try Refresh prices in a minute."
NO_HISTORY = ("No price history could be fetched for these holdings yet: the cost basis is drawn alone until it "
              "arrives.")
NO_HISTORY_AT_ALL = "No price history could be fetched for these holdings yet: the chart appears when it arrives."
NO_PRICES_ALLOCATION = "No prices yet: the allocation needs at least one priced holding."


@dataclass(frozen=True)
class PartView:
    """A part's class (skeleton or filled), the message over it (None: none) and whether to wait for more data."""

    class_name: str
    message: Any = None
    wait: bool = False


def note(text: str, tone: str = "light") -> html.Div:
    """A short message drawn over a part (its text is escaped by React)."""
    return html.Div(text, className=f"alert alert-{tone} border small mb-0 py-2 px-3", role="status")


def add_transactions_prompt(portfolio_id: int | None, what: str) -> html.Div:
    """The call to action of an empty portfolio: say what will appear, and link to where transactions are added."""
    href = f"/transactions?portfolio={portfolio_id}" if portfolio_id is not None else "/transactions"
    return html.Div([
        html.Span(f"No holdings yet: {what} appears once you add transactions. ", className="me-1"),
        dcc.Link("Add a transaction", href=href, className="btn btn-primary btn-sm ms-1"),
    ], className="alert alert-light border small mb-0 py-2 px-3 d-flex flex-wrap align-items-center gap-1",
        role="status")


def _arriving(prices: PriceBlock) -> bool:
    return bool(prices.fetching)


def holdings_view(rows: Sequence[Holding], prices: PriceBlock, *, final: bool,
                  portfolio_id: int | None = None) -> PartView:
    """The holdings table: a skeleton only while no holding is priced and prices are still on their way."""
    if not rows:
        return PartView(LOADED, add_transactions_prompt(portfolio_id, "the holdings table"))
    progress = price_progress(prices)
    arriving = _arriving(prices)
    if progress.settled == 0 and not any(row.price is not None for row in rows) and arriving and not final:
        return PartView(LOADING, None, wait=True)
    return PartView(LOADED, None, wait=bool(progress.unsettled) and arriving and not final)


def holdings_count(rows: Sequence[Holding]) -> str:
    """`20 open positions`, with the unpriced ones named by number (`· 2 unpriced`)."""
    if not rows:
        return "No open positions"
    unpriced = sum(1 for row in rows if row.price is None)
    text = f"{len(rows)} open position{'s' if len(rows) != 1 else ''}"
    return text + (f" · {unpriced} unpriced" if unpriced else "")


def allocation_view(rows: Sequence[Holding], allocation: Sequence[AllocationSlice], prices: PriceBlock, *,
                    final: bool, portfolio_id: int | None = None) -> PartView:
    """The donut: drawn from the priced holdings; a message when there are none, a skeleton while they arrive."""
    if not rows:
        return PartView(LOADED, add_transactions_prompt(portfolio_id, "the allocation"))
    if allocation:
        return PartView(LOADED)
    if _arriving(prices) and not final:
        return PartView(LOADING)
    return PartView(LOADED, note(NO_PRICES_ALLOCATION))


def chart_view(series: Series | None, *, final: bool, has_holdings: bool,
               portfolio_id: int | None = None) -> PartView:
    """The value chart: the series when there is one (None: being generated), a skeleton meanwhile, else a message."""
    if series is not None:
        if not series.dates and not has_holdings:
            return PartView(LOADED, add_transactions_prompt(portfolio_id, "the value over time"))
        if not any(value is not None for value in series.market_value):
            if not has_holdings and not any(series.cost_basis):
                return PartView(LOADED, add_transactions_prompt(portfolio_id, "the value over time"))
            return PartView(LOADED, note(NO_HISTORY if drawable(series) else NO_HISTORY_AT_ALL))
        return PartView(LOADED)
    if final:
        return PartView(LOADED, note(CHART_UNAVAILABLE))
    return PartView(LOADING, None, wait=True)


def drawable(series: Series) -> bool:
    """Whether the series has any point to draw (a market value or a cost basis); else the axes would be empty."""
    return any(value is not None for value in (*series.market_value, *series.cost_basis))


def refresh_message(prices: PriceBlock) -> html.Span:
    """What pressing Refresh prices did: fetching some, or nothing due (every price current, or none reachable)."""
    started = len(prices.fetching)
    if started:
        return html.Span(f"Fetching {started} price{'s' if started != 1 else ''}", className="small text-muted")
    progress = price_progress(prices)
    if progress.total == 0:
        return html.Span("No holdings to price", className="small text-muted")
    if progress.unsettled:
        count = len(progress.unsettled)
        return html.Span(f"{count} price{'s' if count != 1 else ''} unavailable: the price source is not "
                         "answering; they are tried again automatically", className="small text-loss")
    return html.Span("All prices are current", className="small text-muted")

