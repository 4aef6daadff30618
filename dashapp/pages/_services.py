"""How a page's callbacks reach the services (the underscore keeps Dash Pages from importing it as a page).

Through the app, not a request: background callbacks run in a forked process without a Flask request
context, but with a copy of the module globals, so `dash.get_app()` still finds the app and its services.
"""

from __future__ import annotations

import dash

from services.container import Services
from services.models import NotFoundError


def services() -> Services:
    """The services `create_app` registered on the Dash app's Flask server."""
    return dash.get_app().server.extensions["stocktracker"]


def currency_of(portfolio: dict | None) -> str:
    """A payload's portfolio currency (USD when it has none)."""
    return (portfolio or {}).get("base_currency") or "USD"


def resolve_portfolio(raw_id: str | int | None) -> tuple[dict | None, str | None]:
    """The portfolio a page shows: the one named by `raw_id`, else the first; (None, why) when there is none."""
    ledger = services().ledger
    if raw_id is None or str(raw_id).strip() == "":
        portfolios = ledger.list_portfolios()
        if not portfolios:
            return None, "There is no portfolio yet: create one on the Transactions page."
        return portfolios[0].to_json(), None
    try:
        portfolio_id = int(str(raw_id))
    except ValueError:
        return None, f"There is no portfolio with the id {str(raw_id)[:40]!r}."
    try:
        return ledger.get_portfolio(portfolio_id).to_json(), None
    except NotFoundError:
        return None, f"There is no portfolio {portfolio_id}: it may have been deleted."
