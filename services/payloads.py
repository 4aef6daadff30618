"""The dashboard's payloads, each defined once: the builders return these, the API answers their `to_json()`, the
OpenAPI description is generated from them (`json_schema`), and the page's components read their typed fields.

Frozen dataclasses, not pydantic: the standard library reads the fields and type hints we need, and the app takes
no new dependency for it. A field's JSON schema comes from its type hint: `X | None` is nullable, a `Literal` is
an enum of the one constant it is spelled from (models.PriceStatus, value_series.RangeName), a nested payload is
a `$ref`, and `Annotated[..., {...}]` adds keywords (a description, a minimum). A field whose metadata says
`omit_if_none` is left out of the JSON (and out of `required`) when it is None. Adding a field here is the whole
change: docs/ARCHITECTURE.md, "Adding a payload field".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from services.models import MAX_REPORTED_ERRORS, PageStatus, Portfolio, PriceStatus
from services.value_series import RangeName

PRICE_STATUSES: tuple[str, ...] = get_args(PriceStatus)
ProgressState = Literal["idle", "running", "done", "error"]

Money = Annotated[float | None, {"description": "money in the portfolio's currency; null when not known yet"}]
Fraction = Annotated[float | None, {"description": "a fraction: 0.1234 is 12.34 %; null when not known"}]
Count = Annotated[int, {"minimum": 0}]
Share = Annotated[float, {"minimum": 0, "maximum": 1}]
IsoDate = Annotated[str, {"format": "date"}]  # chart dates stay the ISO text the chart store keeps


OMIT_IF_NONE = {"omit_if_none": True}  # field metadata: left out of the JSON (and of `required`) when None


def _json_value(value: Any) -> Any:
    if isinstance(value, Payload):
        return value.to_json()
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


@cache
def _fields(cls: type) -> tuple[tuple[str, bool], ...]:
    return tuple((f.name, bool(f.metadata.get("omit_if_none"))) for f in dataclasses.fields(cls))


class Payload:
    """Base of every payload: `to_json()` is the API's answer, field by field."""

    def to_json(self) -> dict[str, Any]:
        out = {}
        for name, omit_if_none in _fields(type(self)):
            value = getattr(self, name)
            if value is None and omit_if_none:
                continue
            out[name] = _json_value(value)
        return out


# -- the payloads ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortfolioInfo(Payload):
    """The portfolio as payloads name it (without its owner)."""

    SCHEMA_NAME = "Portfolio"
    id: int
    name: Annotated[str, {"minLength": 1, "maxLength": 100}]
    base_currency: Annotated[str, {"pattern": "^[A-Z]{3}$"}]

    @classmethod
    def of(cls, portfolio: Portfolio) -> PortfolioInfo:
        return cls(portfolio.id, portfolio.name, portfolio.base_currency)


@dataclass(frozen=True)
class Summary(Payload):
    """The summary cards' totals (services/analytics.py `summary` says how each is made)."""

    market_value: Money
    cost_basis: Money
    unrealized_gain: Money
    unrealized_gain_pct: Fraction
    day_change: Money
    day_change_pct: Fraction
    realized_gain: Money
    dividends: Money
    holdings_count: Count
    priced_count: Count  # how many of holdings_count are in market_value
    priced_cost_basis: Money  # the cost basis of those priced holdings
    currency: Annotated[str, {"pattern": "^[A-Z]{3}$", "description": "the currency of every money field"}]


@dataclass(frozen=True)
class PriceBlock(Payload):
    """The page-level price status: one word if every price agrees, `partial` if they differ."""

    status: PageStatus
    as_of: Annotated[dt.datetime | None, {"description": "the oldest price on the page"}]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    counts: dict[PriceStatus, Count]
    simulated: bool
    # Missing or stale tickers being fetched right now; the others failed and wait for their retry time.
    fetching: tuple[str, ...]


@dataclass(frozen=True)
class Market(Payload):
    """The session state of the exchange most of the open holdings trade on (null where the calendar ends)."""

    exchange: str
    is_open: bool | None
    next_open: dt.datetime | None
    last_close: dt.datetime | None
    next_close: dt.datetime | None = field(default=None, metadata=OMIT_IF_NONE)  # an addition to the documented keys


@dataclass(frozen=True)
class InitialData(Payload):
    portfolio: PortfolioInfo
    summary: Summary
    prices: PriceBlock
    market: Market


@dataclass(frozen=True)
class Holding(Payload):
    """One row of the holdings table: money in cents, per-share amounts and fractions to 6 dp."""

    ticker: str
    quantity: float
    avg_cost: float | None
    cost_basis: Money
    price: float | None
    market_value: Money
    unrealized_gain: Money
    unrealized_gain_pct: Fraction
    day_change: Money
    day_change_pct: Fraction
    weight: Fraction
    price_as_of: dt.datetime | None
    price_status: PriceStatus
    # `price`'s quote currency, the rate quote -> base (10 digits), the FX part of unrealized_gain; absent: unknown
    currency: str | None = field(default=None, metadata=OMIT_IF_NONE)
    fx_rate: float | None = field(default=None, metadata=OMIT_IF_NONE)
    fx_gain: Money = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class HoldingsData(Payload):
    holdings: tuple[Holding, ...]
    prices: PriceBlock


@dataclass(frozen=True)
class Series(Payload):
    """A value series over one range; a null is a day whose value cannot be known."""

    dates: tuple[IsoDate, ...]
    market_value: tuple[float | None, ...]
    cost_basis: tuple[float | None, ...]
    currency: Annotated[str | None, {"pattern": "^[A-Z]{3}$"}] = field(default=None, metadata=OMIT_IF_NONE)

    @classmethod
    def from_json(cls, series: dict) -> Series:
        return cls(tuple(series["dates"]), tuple(series["market_value"]), tuple(series["cost_basis"]),
                   series.get("currency"))


@dataclass(frozen=True)
class AllocationSlice(Payload):
    """One holding's share of the priced market value (the weights add up to exactly 1)."""

    ticker: str
    weight: float

    @classmethod
    def from_json(cls, slice_: dict) -> AllocationSlice:
        return cls(slice_["ticker"], slice_["weight"])


@dataclass(frozen=True)
class ChartReady(Payload):
    range: RangeName
    series: Series
    allocation: tuple[AllocationSlice, ...]
    status: Literal["ready"] = "ready"


@dataclass(frozen=True)
class ChartPending(Payload):
    range: RangeName
    progress: Share
    status: Literal["pending"] = "pending"


@dataclass(frozen=True)
class Progress(Payload):
    """The chart generator's state for one portfolio."""

    state: ProgressState
    progress: Share
    message: str

    @classmethod
    def from_json(cls, progress: dict) -> Progress:
        return cls(progress["state"], progress["progress"], progress["message"])


@dataclass(frozen=True)
class Error(Payload):
    error: Annotated[str, {"description": "what went wrong, for a person"}]


@dataclass(frozen=True)
class FieldProblem(Payload):
    """One rejected field (of a CSV line, when `line` is set)."""

    SCHEMA_NAME = "FieldError"
    field: Annotated[str, {"description": "a column, or `file` / `header` for the file as a whole"}]
    message: str
    line: Annotated[int | None, {"minimum": 1, "description": "the CSV line (the header is line 1)"}] = field(
        default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class Rejected(Payload):
    """A 422: the bad fields are named, at most MAX_REPORTED_ERRORS of them; `error_count` counts them all."""

    SCHEMA_NAME = "ValidationError"
    error: str
    errors: Annotated[tuple[FieldProblem, ...], {"minItems": 1, "maxItems": MAX_REPORTED_ERRORS}]
    error_count: Annotated[int, {"minimum": 1, "description": "every error found; `errors` names the first "
                                 f"{MAX_REPORTED_ERRORS}"}]


PAYLOADS: tuple[type[Payload], ...] = (
    Error, FieldProblem, Rejected, PortfolioInfo, PriceBlock, Market, Summary, InitialData, Holding, HoldingsData,
    Series, AllocationSlice, ChartReady, ChartPending, Progress)


# -- JSON schemas from the type hints --------------------------------------------------------------------------
def schema_name(cls: type) -> str:
    """The payload's name in the OpenAPI description's components."""
    return cls.__dict__.get("SCHEMA_NAME", cls.__name__)


def _with_null(schema: dict) -> dict:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def _type_schema(hint: Any) -> dict:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *extras = get_args(hint)
        schema = _type_schema(base)
        for extra in extras:
            schema = {**schema, **extra}
        return schema
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        inner = _type_schema(members[0]) if len(members) == 1 else {"anyOf": [_type_schema(m) for m in members]}
        return _with_null(inner) if len(members) < len(get_args(hint)) else inner
    if origin is Literal:
        values = list(get_args(hint))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin in (tuple, list):
        return {"type": "array", "items": _type_schema(get_args(hint)[0])}
    if origin is dict:
        key, value = get_args(hint)
        keys = get_args(key) if get_origin(key) is Literal else ()
        if keys:  # a count per status: every status is a key
            return {"type": "object", "properties": {k: _type_schema(value) for k in keys}, "required": list(keys)}
        return {"type": "object", "additionalProperties": _type_schema(value)}
    if isinstance(hint, type) and issubclass(hint, Payload):
        return {"$ref": f"#/components/schemas/{schema_name(hint)}"}
    simple = {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
              str: {"type": "string"}, dt.datetime: {"type": "string", "format": "date-time"},
              dt.date: {"type": "string", "format": "date"}}
    if hint in simple:
        return dict(simple[hint])
    raise TypeError(f"no JSON schema for the type hint {hint!r}")


def json_schema(cls: type[Payload]) -> dict:
    """The JSON Schema (2020-12, as OpenAPI 3.1 has it) of one payload, from its fields and type hints."""
    hints = get_type_hints(cls, include_extras=True)
    properties = {f.name: _type_schema(hints[f.name]) for f in dataclasses.fields(cls)}
    required = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("omit_if_none")]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):  # dataclass's generated doc says nothing
        schema["description"] = cls.__doc__.strip()
    return schema


def json_schemas() -> dict[str, dict]:
    """Every payload's schema by its component name."""
    return {schema_name(cls): json_schema(cls) for cls in PAYLOADS}
