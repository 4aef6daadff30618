"""One holding, at /portfolio/<portfolio_id>/holding/<ticker> (issue 15): figures, price chart, transactions.

The layout is a skeleton with the holding's key; one callback fills it from `HoldingDetails.detail` (cache only:
it never waits on the price source). While the ticker's closes are not cached, or its price is stale or missing,
it says so and looks again every few seconds for a minute (opening it started the fetch). An unknown ticker or
portfolio (another owner's looks the same) is a clear message.
"""

from __future__ import annotations

import dash
from dash import Input, Output, callback

from dashapp import ids
from dashapp.components.holding_view import holding_page
from dashapp.pages._holding import holding_key, holding_outputs
from dashapp.pages._services import resolve_portfolio

# `order` puts it before the dashboard's /portfolio/<portfolio_id>, whose pattern also matches this address.
dash.register_page(__name__, path_template="/portfolio/<portfolio_id>/holding/<ticker>", name="Holding",
                   title="Holding · MyStockTracker", order=2)


def layout(portfolio_id: str | None = None, ticker: str | None = None, **_query: str):
    """The skeleton of the holding's view; `fill_holding` draws it."""
    portfolio, _problem = resolve_portfolio(portfolio_id)  # None: the callback says why
    return holding_page(holding_key(portfolio_id, ticker), portfolio)


@callback(Output(ids.HOLDING_BODY, "children"), Output(ids.HOLDING_POLL, "disabled"),
          Input(ids.HOLDING_KEY, "data"), Input(ids.HOLDING_POLL, "n_intervals"))
def fill_holding(key: dict | None, _polls: int | None):
    """The holding's view; keeps looking while its chart's prices are not loaded or its price is not current."""
    return holding_outputs(key)
