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

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Literal, get_args

from services.models import DEFAULT_BENCHMARK, MAX_REPORTED_ERRORS, PageStatus, Portfolio, PriceStatus
from services.payload_schema import OMIT_IF_NONE, Payload, json_schema, schema_name
from services.value_series import RangeName

__all__ = ["OMIT_IF_NONE", "PAYLOADS", "PRICE_STATUSES", "AllocationSlice", "ChartPending", "ChartReady",
           "ClosedPosition", "Error", "FieldProblem", "Holding", "HoldingsData", "InitialData", "Market", "Payload",
           "PortfolioInfo", "PriceBlock", "Progress", "RangeReturns", "Rejected", "Series", "Summary", "json_schema",
           "json_schemas", "schema_name"]

PRICE_STATUSES: tuple[str, ...] = get_args(PriceStatus)
ProgressState = Literal["idle", "running", "done", "error"]

Money = Annotated[float | None, {"description": "money in the portfolio's currency; null when not known yet"}]
Fraction = Annotated[float | None, {"description": "a fraction: 0.1234 is 12.34 %; null when not known"}]
Count = Annotated[int, {"minimum": 0}]
Share = Annotated[float, {"minimum": 0, "maximum": 1}]
IsoDate = Annotated[str, {"format": "date"}]  # chart dates stay the ISO text the chart store keeps


# -- the payloads ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortfolioInfo(Payload):
    """The portfolio as payloads name it (without its owner)."""

    SCHEMA_NAME = "Portfolio"
    id: int
    name: Annotated[str, {"minLength": 1, "maxLength": 100}]
    base_currency: Annotated[str, {"pattern": "^[A-Z]{3}$"}]
    benchmark: Annotated[str, {"description": "the ticker the returns are compared with (^GSPC by default)"}] = (
        DEFAULT_BENCHMARK)

    @classmethod
    def of(cls, portfolio: Portfolio) -> PortfolioInfo:
        return cls(portfolio.id, portfolio.name, portfolio.base_currency, portfolio.benchmark)


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
    # unrealized_gain + realized_gain + dividends: the portfolio's result so far (null while nothing is priced).
    total_return: Money = None


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
    # Issue 15: the position's gains besides its price (every sale and dividend of the ticker, dividends net of
    # withholding), and total_return = unrealized_gain + realized_gain + dividends (null while unpriced).
    realized_gain: Money = None
    dividends: Money = None
    total_return: Money = None


@dataclass(frozen=True)
class ClosedPosition(Payload):
    """A ticker sold out (quantity 0): what it earned; `day_change` only when it was sold out today."""

    ticker: str
    realized_gain: Money
    dividends: Money
    closed_on: dt.date | None
    day_change: Money = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class HoldingsData(Payload):
    holdings: tuple[Holding, ...]
    prices: PriceBlock
    closed: tuple[ClosedPosition, ...] = ()  # sold-out positions, latest closed first


@dataclass(frozen=True)
class Series(Payload):
    """A value series over one range; a null is a day whose value cannot be known."""

    dates: tuple[IsoDate, ...]
    market_value: tuple[float | None, ...]
    cost_basis: tuple[float | None, ...]
    currency: Annotated[str | None, {"pattern": "^[A-Z]{3}$"}] = field(default=None, metadata=OMIT_IF_NONE)
    # Issue 16: cumulative time-weighted return since the range's first day (0 there), and the benchmark's price
    # return over the same days; null where the value (or the benchmark's close) is not known.
    twr: tuple[Fraction, ...] = ()
    benchmark: tuple[Fraction, ...] = ()

    @classmethod
    def from_json(cls, series: dict) -> Series:
        return cls(tuple(series["dates"]), tuple(series["market_value"]), tuple(series["cost_basis"]),
                   series.get("currency"), tuple(series.get("twr", ())), tuple(series.get("benchmark", ())))


@dataclass(frozen=True)
class RangeReturns(Payload):
    """The return measures of one range (services/returns.py `Returns`; README, "How returns
    are computed")."""

    SCHEMA_NAME = "Returns"
    twr: Annotated[float | None, {"description": "cumulative time-weighted return over the range (a fraction)"}]
    twr_annualized: Annotated[float | None, {"description": "null for a range shorter than a year"}]
    annualized_note: Annotated[str | None, {"description": "why twr_annualized is null"}]
    xirr: Annotated[float | None, {"description": "money-weighted annual rate (Act/365); null when none"}]
    xirr_note: Annotated[str | None, {"description": "why xirr is null: no flows, no sign change, did not "
                                                     "converge"}]
    mwr: Annotated[float | None, {"description": "the money-weighted return over the range itself"}]
    benchmark_twr: Annotated[float | None, {"description": "the benchmark's price return over the range; null "
                                                          "while its prices are not known"}]
    benchmark: Annotated[str, {"description": "the benchmark's ticker"}]
    total_return: Annotated[float | None, {"description": "money made over the range: value at its end - value "
                                                          "at its start + sales and dividends - buys"}] = None

    @classmethod
    def from_json(cls, returns: dict) -> RangeReturns:
        return cls(returns["twr"], returns["twr_annualized"], returns["annualized_note"], returns["xirr"],
                   returns["xirr_note"], returns["mwr"], returns["benchmark_twr"], returns["benchmark"],
                   returns.get("total_return"))


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
    returns: RangeReturns | None = None  # issue 16: the range's returns (always set by DashboardData.chart)


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
    Error, FieldProblem, Rejected, PortfolioInfo, PriceBlock, Market, Summary, InitialData, Holding, ClosedPosition,
    HoldingsData, Series, RangeReturns, AllocationSlice, ChartReady, ChartPending, Progress)


def json_schemas() -> dict[str, dict]:
    """Every payload's schema by its component name."""
    return {schema_name(cls): json_schema(cls) for cls in PAYLOADS}
