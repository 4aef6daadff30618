"""The holding view's JSON (issue 15), on the API's blueprint: one holding, and the closed positions.

- `GET /api/portfolios/<id>/holdings/<ticker>` -> `HoldingDetail` (services/holding_detail.py): figures,
  transactions (newest first) and the cached price chart with its markers (`chart.status` `not_loaded` while the
  ticker's closes are not cached: the request never waits on the price source).
- `GET /api/portfolios/<id>/closed-positions` -> `ClosedPositions` (services/closed_positions.py).

An unknown portfolio or ticker, or another owner's portfolio, is a JSON 404 (the API's NotFoundError handler).
Importing this module adds the routes; it must be imported before the blueprint is registered (dashapp/__init__).
"""

from __future__ import annotations

from dashapp.api import api
from dashapp.services_access import services
from services.closed_positions import closed_of
from services.holding_detail import HoldingDetails


@api.get("/api/portfolios/<int:portfolio_id>/holdings/<ticker>")
def holding_detail(portfolio_id: int, ticker: str):
    return HoldingDetails(services().dashboard).detail(portfolio_id, ticker).to_json()


@api.get("/api/portfolios/<int:portfolio_id>/closed-positions")
def closed_positions(portfolio_id: int):
    return closed_of(services().dashboard, portfolio_id).to_json()
