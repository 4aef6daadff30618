"""`/`: the dashboard of the first portfolio (its callbacks live in dashboard.py, on the same component ids)."""

from __future__ import annotations

import dash
from dash import html

from dashapp.components.dashboard import dashboard_page, no_portfolio_page
from dashapp.components.split_warnings import with_split_warnings
from dashapp.pages._services import resolve_portfolio

dash.register_page(__name__, path="/", name="Dashboard", title="MyStockTracker", order=0)


def layout(**_query: str) -> html.Div:
    """The first portfolio's dashboard skeleton, or a pointer to the Transactions page when there is none."""
    portfolio, problem = resolve_portfolio(None)
    return with_split_warnings(dashboard_page(portfolio)) if portfolio else no_portfolio_page(problem or "")
