"""The payload models: their JSON, and the OpenAPI schemas generated from their fields and type hints."""

from __future__ import annotations

import datetime as dt

import pytest

from services.models import PriceStatus
from services.payloads import (
    PRICE_STATUSES,
    ChartPending,
    ClosedPosition,
    Error,
    FieldProblem,
    Market,
    PriceBlock,
    Series,
    json_schema,
    json_schemas,
)
from services.value_series import RANGES

SCHEMAS = json_schemas()

# The documented interface (README, "JSON API"; the shared design): every field it names, per payload.
DESIGN_FIELDS = {
    "Summary": {"market_value", "cost_basis", "unrealized_gain", "unrealized_gain_pct", "day_change",
                "day_change_pct", "realized_gain", "dividends", "holdings_count", "currency"},
    "PriceBlock": {"status", "as_of", "missing"},
    "Market": {"exchange", "is_open", "next_open", "last_close"},
    "InitialData": {"portfolio", "summary", "prices", "market"},
    "Portfolio": {"id", "name", "base_currency"},
    "Holding": {"ticker", "quantity", "avg_cost", "cost_basis", "price", "market_value", "unrealized_gain",
                "unrealized_gain_pct", "day_change", "day_change_pct", "weight", "price_as_of", "price_status",
                "realized_gain", "dividends", "total_return"},  # DESIGN, "Returns and benchmark"
    "HoldingsData": {"holdings", "prices", "closed"},
    "ClosedPosition": {"ticker", "realized_gain", "dividends", "closed_on"},
    "ChartReady": {"status", "range", "series", "allocation"},
    "ChartPending": {"status", "progress"},
    "Series": {"dates", "market_value", "cost_basis"},
    "AllocationSlice": {"ticker", "weight"},
    "Progress": {"state", "progress", "message"},
    "Error": {"error"},
    "ValidationError": {"error", "errors"},
    "FieldError": {"line", "field", "message"},
}


@pytest.mark.parametrize("name", sorted(DESIGN_FIELDS))
def test_every_design_field_is_in_its_schema(name):
    assert DESIGN_FIELDS[name] <= set(SCHEMAS[name]["properties"])


def test_optional_is_nullable_and_a_plain_type_is_not():
    summary = SCHEMAS["Summary"]["properties"]
    assert summary["market_value"]["type"] == ["number", "null"]
    assert summary["holdings_count"] == {"type": "integer", "minimum": 0}
    assert SCHEMAS["PriceBlock"]["properties"]["as_of"]["type"] == ["string", "null"]
    assert SCHEMAS["PriceBlock"]["properties"]["as_of"]["format"] == "date-time"
    assert SCHEMAS["Holding"]["properties"]["quantity"] == {"type": "number"}


def test_enums_come_from_the_one_constant():
    assert PRICE_STATUSES == ("fresh", "market_closed", "stale", "missing")
    assert SCHEMAS["Holding"]["properties"]["price_status"] == {"enum": list(PRICE_STATUSES)}
    assert SCHEMAS["PriceBlock"]["properties"]["status"] == {"enum": [*PRICE_STATUSES, "partial"]}
    assert SCHEMAS["ChartReady"]["properties"]["range"] == {"enum": list(RANGES)}
    assert SCHEMAS["ChartReady"]["properties"]["status"] == {"const": "ready"}
    counts = SCHEMAS["PriceBlock"]["properties"]["counts"]
    assert counts["required"] == list(PRICE_STATUSES) == list(counts["properties"])


def test_nested_payloads_are_references():
    assert SCHEMAS["InitialData"]["properties"]["summary"] == {"$ref": "#/components/schemas/Summary"}
    assert SCHEMAS["HoldingsData"]["properties"]["holdings"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Holding"}}


def test_a_field_left_out_when_none_is_not_required():
    assert "line" not in SCHEMAS["FieldError"]["required"]
    assert "next_close" not in SCHEMAS["Market"]["required"]
    assert FieldProblem("date", "bad").to_json() == {"field": "date", "message": "bad"}
    assert FieldProblem("date", "bad", 3).to_json() == {"field": "date", "message": "bad", "line": 3}


def test_to_json_writes_dates_lists_and_nested_payloads():
    moment = dt.datetime(2025, 7, 8, 15, tzinfo=dt.UTC)
    block = PriceBlock("fresh", moment, (), ("B",), {"fresh": 1, "market_closed": 0, "stale": 1, "missing": 0},
                       False, ())
    assert block.to_json() == {
        "status": "fresh", "as_of": "2025-07-08T15:00:00+00:00", "missing": [], "stale": ["B"],
        "counts": {"fresh": 1, "market_closed": 0, "stale": 1, "missing": 0}, "simulated": False, "fetching": []}
    assert Market("XNYS", None, None, None).to_json() == {
        "exchange": "XNYS", "is_open": None, "next_open": None, "last_close": None}
    assert ChartPending("1Y", 0.45).to_json() == {"status": "pending", "range": "1Y", "progress": 0.45}
    assert Error("no").to_json() == {"error": "no"}


def test_a_type_without_a_schema_is_refused():
    from dataclasses import dataclass

    from services.payloads import Payload

    @dataclass(frozen=True)
    class Odd(Payload):
        value: complex

    with pytest.raises(TypeError, match="complex"):
        json_schema(Odd)


def test_the_literal_and_the_constant_agree():
    from typing import get_args

    assert get_args(PriceStatus) == PRICE_STATUSES


def test_base_currency_fields_are_nullable_and_left_out_when_unknown():
    holding = SCHEMAS["Holding"]
    assert holding["properties"]["currency"] == {"type": ["string", "null"]}
    assert holding["properties"]["fx_rate"] == {"type": ["number", "null"]}
    assert holding["properties"]["fx_gain"]["type"] == ["number", "null"]
    assert not {"currency", "fx_rate", "fx_gain"} & set(holding["required"])  # absent: not known (or one currency)
    series = SCHEMAS["Series"]
    assert series["properties"]["currency"] == {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"}
    assert "currency" not in series["required"]
    # A series stored before issue 16 reads with empty return lines.
    assert Series.from_json({"dates": [], "market_value": [], "cost_basis": []}).to_json() == {
        "dates": [], "market_value": [], "cost_basis": [], "twr": [], "benchmark": []}
    assert Series.from_json({"dates": [], "market_value": [], "cost_basis": [], "currency": "EUR"}).currency == "EUR"


def test_closed_positions_in_the_holdings_payload():
    # Issue 15: `closed` lists ClosedPosition; day_change is there only for a position sold out today.
    assert SCHEMAS["HoldingsData"]["properties"]["closed"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/ClosedPosition"}}
    assert "closed" in SCHEMAS["HoldingsData"]["required"]
    assert SCHEMAS["ClosedPosition"]["required"] == ["ticker", "realized_gain", "dividends", "closed_on"]
    assert SCHEMAS["ClosedPosition"]["properties"]["closed_on"] == {"type": ["string", "null"], "format": "date"}
    earlier = ClosedPosition("AAA", 148.0, 0.5, dt.date(2026, 12, 1))
    assert earlier.to_json() == {"ticker": "AAA", "realized_gain": 148.0, "dividends": 0.5, "closed_on": "2026-12-01"}
    today = ClosedPosition("BBB", -3.0, 0.0, dt.date(2026, 12, 3), day_change=-1.25)
    assert today.to_json()["day_change"] == -1.25
    for name in ("realized_gain", "dividends", "total_return"):  # always there, null while unknown
        assert name in SCHEMAS["Holding"]["required"]
        assert SCHEMAS["Holding"]["properties"][name]["type"] == ["number", "null"]


def test_the_schema_machinery_is_still_importable_from_payloads():
    from services import payload_schema, payloads

    assert payloads.Payload is payload_schema.Payload and payloads.json_schema is payload_schema.json_schema
    assert payloads.OMIT_IF_NONE == {"omit_if_none": True}
