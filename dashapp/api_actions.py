"""The corporate-actions route of the JSON API (DESIGN.md, "Day change, splits and import hygiene").

Registered on the `api` blueprint of dashapp/api.py, so it answers JSON errors like every other route; this module
must be imported before the blueprint is mounted (dashapp/__init__.py imports it).
"""

from __future__ import annotations

from dashapp.api import api
from dashapp.services_access import services as _services
from services.corporate_actions import corporate_actions


@api.get("/api/portfolios/<int:portfolio_id>/corporate-actions")
def portfolio_corporate_actions(portfolio_id: int):
    """The source's splits held against the ledger, from the cache alone (never waits on the price source)."""
    services = _services()  # owner-scoped: another owner's portfolio is a 404, as an unknown one
    return corporate_actions(services.ledger, services.cache, portfolio_id).to_json()
