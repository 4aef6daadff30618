"""The closed positions of one portfolio, at /portfolio/<portfolio_id>/closed (issue 15).

A skeleton with the portfolio's id; one callback fills it from `closed_of` (cache only). The dashboard's Holdings
card links here; `count_closed` writes that link's "Closed positions (N)" when the dashboard mounts.
"""

from __future__ import annotations

import dash
from dash import Input, Output, callback
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components.closed_view import closed_page
from dashapp.pages._holding import closed_count_text, closed_outputs
from dashapp.pages._services import resolve_portfolio
from services.models import NotFoundError

# `order` puts it before the dashboard's /portfolio/<portfolio_id>, whose pattern also matches this address.
dash.register_page(__name__, path_template="/portfolio/<portfolio_id>/closed", name="Closed positions",
                   title="Closed positions · MyStockTracker", order=3)


def layout(portfolio_id: str | None = None, **_query: str):
    portfolio, _problem = resolve_portfolio(portfolio_id)  # None: the callback says why
    return closed_page(portfolio_id, portfolio)


@callback(Output(ids.CLOSED_BODY, "children"), Input(ids.CLOSED_KEY, "data"))
def fill_closed(raw_id: str | None):
    """The closed positions of the page's portfolio."""
    return closed_outputs(raw_id)


@callback(Output(ids.CLOSED_LINK, "children"), Input(ids.CURRENT_PORTFOLIO, "data"))
def count_closed(portfolio: dict | None):
    """The dashboard's link to the list, with how many there are (only the dashboard has the link)."""
    if not portfolio:
        raise PreventUpdate
    try:
        return closed_count_text(int(portfolio["id"]))
    except NotFoundError:
        raise PreventUpdate from None
