"""What the pages share about the portfolio they show (the underscore keeps Dash Pages from importing it as a
page). The services are reached through dashapp/services_access.py, as the API reaches them.
"""

from __future__ import annotations

from dashapp.services_access import services
from services.models import NotFoundError


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
