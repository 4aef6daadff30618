"""What the holding view and the closed positions page do with their key (the underscore keeps Dash Pages from
importing it as a page, so tests import it before the app exists). Each answer comes from one payload builder.
"""

from __future__ import annotations

from urllib.parse import unquote

from dashapp.components.closed_view import closed_body, closed_link_text, closed_not_found
from dashapp.components.holding_view import holding_body, holding_not_found
from dashapp.services_access import services
from services.closed_positions import closed_of
from services.holding_detail import HoldingDetails
from services.models import NotFoundError


def holding_key(portfolio_id: str | None, ticker: str | None) -> dict:
    """The holding page's key from its address: the id as given (checked when filling), the ticker unescaped."""
    return {"portfolio_id": str(portfolio_id or "")[:40], "ticker": unquote(str(ticker or "")).strip()[:40]}


def _portfolio_problem(portfolio_id: int) -> str | None:
    try:
        services().ledger.get_portfolio(portfolio_id)
    except NotFoundError:
        return f"There is no portfolio {portfolio_id}: it may have been deleted."
    return None


def holding_outputs(key: dict | None) -> tuple[list, bool]:
    """(the view's children, whether to stop looking again): the detail, or why there is none."""
    key = key or {}
    raw_id, ticker = str(key.get("portfolio_id") or ""), str(key.get("ticker") or "")
    try:
        portfolio_id = int(raw_id)
    except ValueError:
        return [holding_not_found(f"There is no portfolio with the id {raw_id!r}.")], True
    try:
        detail = HoldingDetails(services().dashboard).detail(portfolio_id, ticker)
    except NotFoundError:
        problem = _portfolio_problem(portfolio_id)
        if problem:
            return [holding_not_found(problem)], True
        return [holding_not_found(f"This portfolio has never held {ticker!r}.", portfolio_id)], True
    # Looks again (every few seconds, for at most a minute) while the chart's closes are loading or its price is
    # stale or missing: opening the view started their fetch, and it lands in the cache meanwhile.
    settled = detail.figures.price_status in (None, "fresh", "market_closed")
    return holding_body(detail, services().clock.now()), detail.chart.status == "ready" and settled


def closed_outputs(raw_id: str | None) -> list:
    """The closed positions page's children: the list, or why there is none to show."""
    try:
        portfolio_id = int(str(raw_id or ""))
    except ValueError:
        return closed_not_found(f"There is no portfolio with the id {str(raw_id or '')[:40]!r}.")
    try:
        return closed_body(closed_of(services().dashboard, portfolio_id))
    except NotFoundError:
        return closed_not_found(f"There is no portfolio {portfolio_id}: it may have been deleted.")


def closed_count_text(portfolio_id: int) -> str:
    """The dashboard link's "Closed positions (N)" (NotFoundError for a portfolio the user cannot see)."""
    loaded = services().dashboard.load(portfolio_id)
    return closed_link_text(sum(1 for position in loaded.positions.values() if not position.is_open))
