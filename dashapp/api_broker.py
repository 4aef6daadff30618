"""The broker-import routes of the JSON API (docs/broker-import.md), on the `api` blueprint of dashapp/api.py.

GET  /api/import-presets                       the formats: our CSV, each preset (name, source, columns), custom
GET  /api/portfolios/<id>/import-mapping       the portfolio's saved format ({"format", "custom"})
PUT  /api/portfolios/<id>/import-mapping       save one (checked: unknown format or headers named, 422)
POST /api/portfolios/<id>/import-broker        import a broker file (the body, or a multipart "file");
     ?format=schwab|ibkr|custom|mystocktracker  (default: the saved format); custom uses the saved mapping.
     Answers {"imported", "skipped_duplicates", "not_trades", "not_trade_actions", "warnings", "format"}; a
     rejection is 422 with every error on the line of the user's file.

This module must be imported before the blueprint is registered (dashapp/api.py imports it at its end).
"""

from __future__ import annotations

from flask import request

from dashapp.api import IDEMPOTENCY_HEADER, _json_body, api, upload_text
from dashapp.services_access import services as _services
from services.broker_formats import DATE_FORMATS, OUR_COLUMNS
from services.broker_import import import_broker_csv
from services.broker_presets import CUSTOM, OWN_FORMAT, PRESETS, mapping_for, preset_list
from services.import_mappings import ImportMappings
from services.models import FieldError, ValidationError

OWN_NAME = "MyStockTracker CSV"


def formats_json() -> dict:
    """Every import format: ours, the presets, custom; with our columns and the date layouts a mapping may use."""
    return {"formats": [{"key": OWN_FORMAT, "name": OWN_NAME}, *preset_list(),
                        {"key": CUSTOM, "name": "Custom columns"}],
            "columns": list(OUR_COLUMNS), "date_formats": list(DATE_FORMATS)}


@api.get("/api/import-presets")
def import_presets():
    return formats_json()


@api.get("/api/portfolios/<int:portfolio_id>/import-mapping")
def get_import_mapping(portfolio_id: int):
    return {"mapping": ImportMappings(_services().ledger).get(portfolio_id).to_json()}


@api.put("/api/portfolios/<int:portfolio_id>/import-mapping")
def put_import_mapping(portfolio_id: int):
    mappings = ImportMappings(_services().ledger)
    mappings.ledger.get_portfolio(portfolio_id)  # 404 before judging the body
    return {"mapping": mappings.save(portfolio_id, _json_body()).to_json()}


@api.post("/api/portfolios/<int:portfolio_id>/import-broker")
def import_broker(portfolio_id: int):
    services = _services()
    saved = ImportMappings(services.ledger).get(portfolio_id)  # 404 before reading a large body
    key = request.args.get("format") or saved.format
    if key not in (OWN_FORMAT, CUSTOM, *PRESETS):
        mapping_for(key)  # raises naming the known formats
    custom = saved.custom if key == CUSTOM else None
    if key == CUSTOM and custom is None:
        raise ValidationError("no custom mapping", [FieldError(
            "format", "this portfolio has no saved custom mapping: PUT one to import-mapping first")])
    mapping = mapping_for(key, custom)
    result = import_broker_csv(services, portfolio_id, upload_text(), mapping, format_key=key,
                               idempotency_key=request.headers.get(IDEMPOTENCY_HEADER))
    return result.to_json()
