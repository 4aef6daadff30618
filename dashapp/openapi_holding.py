"""The OpenAPI description of the holding view's routes (dashapp/api_holding.py), to merge into dashapp/openapi.py's
paths and schemas (`_SCHEMAS.update(HOLDING_SCHEMAS)`, `_PATHS.update(HOLDING_PATHS)`). The schemas come from the
payload dataclasses themselves (services.payloads.json_schema), like the dashboard's."""

from __future__ import annotations

from typing import Any

from services.closed_positions import ClosedPositions, ClosedRow
from services.holding_detail import (
    ChartMarker,
    HoldingDetail,
    HoldingFigures,
    HoldingTransaction,
    PriceHistory,
)
from services.payloads import json_schema, schema_name

HOLDING_PAYLOADS = (HoldingDetail, HoldingFigures, HoldingTransaction, PriceHistory, ChartMarker, ClosedPositions,
                    ClosedRow)
HOLDING_SCHEMAS: dict[str, dict] = {schema_name(cls): json_schema(cls) for cls in HOLDING_PAYLOADS}

_PORTFOLIO_ID = {"name": "portfolio_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_TICKER = {"name": "ticker", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
           "description": "any case; URL-escaped (%5EGSPC for ^GSPC)"}


def _answer(name: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


_NOT_FOUND = _answer("Error", "no such portfolio (another owner's too), or it never held the ticker")
HOLDING_PATHS: dict[str, dict] = {
    "/api/portfolios/{portfolio_id}/holdings/{ticker}": {
        "parameters": [_PORTFOLIO_ID, _TICKER],
        "get": {"operationId": "holdingDetail", "tags": ["dashboard"],
                "summary": "One holding, open or closed: figures, transactions (newest first) and its cached price "
                           "chart with a marker per transaction (chart.status not_loaded until its closes are "
                           "cached; never waits on the price source)",
                "responses": {"200": _answer("HoldingDetail", "the holding"), "404": _NOT_FOUND}},
    },
    "/api/portfolios/{portfolio_id}/closed-positions": {
        "parameters": [_PORTFOLIO_ID],
        "get": {"operationId": "closedPositions", "tags": ["dashboard"],
                "summary": "The sold-out positions, latest closed first: realized gain, dividends and their total",
                "responses": {"200": _answer("ClosedPositions", "the closed positions"), "404": _NOT_FOUND}},
    },
}
