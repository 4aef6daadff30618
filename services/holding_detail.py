"""One holding seen on its own (issue 15): its figures, its transactions and its price chart with trade markers.

`holding_detail` is pure: it builds a frozen `HoldingDetail` from a loaded portfolio, the holdings payload
(`DashboardData.holdings`) and the ticker's cached closes. `HoldingDetails` gathers those three from the cache
only: it may start a fetch of the ticker's history, but never waits on the source, so a cold ticker's chart is
`not_loaded` and says so. A closed position (every share sold) has a detail too: its realized result.

Money is in the portfolio's base currency; the chart (closes and marker prices) is in the ticker's quote
currency, as traded (the cached closes are not split-adjusted, so a BUY before a split sits on the line).
The closed positions list is services/closed_positions.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

import numpy as np

from services.models import NotFoundError, Transaction
from services.payloads import OMIT_IF_NONE, Holding, HoldingsData, Money, Payload, PortfolioInfo
from services.portfolio_load import LoadedPortfolio
from services.replay import Position
from services.returns_holding import holding_twr

CENT = Decimal("0.01")
LEAD_DAYS = 30  # the chart starts this many days before the first transaction (and ends as long after a close)
ChartStatus = Literal["ready", "not_loaded"]
Closes = tuple[np.ndarray, np.ndarray]  # (dates as int64 nanoseconds, closes): PriceCache.get_closes


def cents(value: Decimal | None) -> float | None:
    """Money of a replayed position rounded to cents, half up (as the holdings rows are)."""
    return None if value is None else float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def add_known(*values: float | None) -> float | None:
    """The sum to the cent, or None when any part is unknown (a total is never a guess)."""
    if any(v is None for v in values):
        return None
    return float(sum((Decimal(str(v)) for v in values), Decimal(0)))


def entry_field(entry: Any, name: str) -> Any:
    """A field of a payload entry that may be a dataclass or a dict (the closed list's entries); None if absent."""
    if isinstance(entry, dict):
        return entry.get(name)
    return getattr(entry, name, None)


def given_or(entry: Any, name: str, fallback: float | None) -> float | None:
    """The valuation's own figure when the entry has the field (its null too: unknown, e.g. a missing rate), else
    `fallback` (the replayed position's, for a payload without the field)."""
    if entry is None:
        return fallback
    has = name in entry if isinstance(entry, dict) else hasattr(entry, name)
    return entry_field(entry, name) if has else fallback


def find_ticker(loaded: LoadedPortfolio, ticker: str) -> str:
    """The ledger's spelling of `ticker` (case-insensitive), or NotFoundError naming what is missing."""
    asked = (ticker or "").strip()
    if asked in loaded.positions:
        return asked
    for known in loaded.positions:
        if known.upper() == asked.upper():
            return known
    raise NotFoundError(f"portfolio {loaded.portfolio.id} has no holding {asked[:40]!r}")


@dataclass(frozen=True)
class HoldingTransaction(Payload):
    """One transaction of the holding, as entered (price and fees in `currency`, else the quote currency)."""

    id: int | None
    date: dt.date
    type: str
    quantity: float
    price: float
    fees: float
    note: str
    currency: str | None = field(default=None, metadata=OMIT_IF_NONE)

    @classmethod
    def of(cls, txn: Transaction) -> HoldingTransaction:
        return cls(txn.id, txn.date, txn.type, float(txn.quantity), float(txn.price), float(txn.fees), txn.note,
                   txn.currency)


@dataclass(frozen=True)
class ChartMarker(Payload):
    """A transaction on the price chart: at its date and its price (BUY, SELL), or on the close (DIVIDEND, SPLIT,
    and a trade entered in another currency than the chart's), with its own price for the hover text."""

    date: dt.date
    type: str
    y: float
    quantity: float
    price: float
    currency: str | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class PriceHistory(Payload):
    """The ticker's cached daily closes around its transactions; `not_loaded` while none are cached."""

    status: ChartStatus
    dates: tuple[dt.date, ...]
    closes: tuple[float, ...]
    currency: str | None
    markers: tuple[ChartMarker, ...]


@dataclass(frozen=True)
class HoldingFigures(Payload):
    """The holding's numbers: the open row's (null for a closed position) and its results."""

    quantity: float
    avg_cost: float | None
    cost_basis: Money
    price: float | None
    market_value: Money
    unrealized_gain: Money
    unrealized_gain_pct: float | None
    day_change: Money
    day_change_pct: float | None
    realized_gain: Money
    dividends: Money
    total_return: Money  # unrealized + realized + dividends (realized + dividends once closed)
    price_status: str | None  # null for a closed position: it has no price to be fresh or stale
    price_as_of: dt.datetime | None
    first_date: dt.date
    closed_on: dt.date | None
    # Issue 16: the holding's own time-weighted return from its first trade to its close or today (a fraction, in
    # the base currency; services/returns_holding.py); null while its closes (or a rate) are not cached.
    twr: Annotated[float | None, {"description": "the holding's own time-weighted return over the time it was "
                                                "held; null when unknown"}] = None


@dataclass(frozen=True)
class HoldingDetail(Payload):
    """GET /api/portfolios/<id>/holdings/<ticker>: one holding, open or closed."""

    portfolio: PortfolioInfo
    ticker: str
    is_open: bool
    figures: HoldingFigures
    transactions: tuple[HoldingTransaction, ...]  # newest first
    chart: PriceHistory


def _row_of(holdings: HoldingsData, ticker: str) -> Holding | None:
    return next((row for row in holdings.holdings if row.ticker == ticker), None)


def _closed_entry(holdings: HoldingsData, ticker: str) -> Any:
    return next((e for e in (getattr(holdings, "closed", None) or ()) if entry_field(e, "ticker") == ticker), None)


def _figures(position: Position, row: Holding | None, closed: Any) -> HoldingFigures:
    """The payload's own fields where it has them (the valuation's), else the replayed position's, to the cent."""
    source = row if row is not None else closed
    realized = given_or(source, "realized_gain", cents(position.realized_gain))
    dividends = given_or(source, "dividends", cents(position.dividends))
    if row is None:  # closed: nothing unrealized, its result is what it made
        return HoldingFigures(0.0, None, None, None, None, None, None, entry_field(closed, "day_change"), None,
                              realized, dividends, add_known(realized, dividends), None, None,
                              position.first_date, position.closed_on or position.last_date)
    total = given_or(row, "total_return", add_known(row.unrealized_gain, realized, dividends))
    return HoldingFigures(row.quantity, row.avg_cost, row.cost_basis, row.price, row.market_value,
                          row.unrealized_gain, row.unrealized_gain_pct, row.day_change, row.day_change_pct,
                          realized, dividends, total, row.price_status, row.price_as_of, position.first_date, None)


def _window(position: Position) -> tuple[dt.date, dt.date | None]:
    lead = dt.timedelta(days=LEAD_DAYS)
    end = None if position.is_open else (position.closed_on or position.last_date)
    return position.first_date - lead, (end + lead if end is not None else None)


def _history(closes: Closes | None, position: Position, txns: Sequence[Transaction],
             currency: str | None) -> PriceHistory:
    """The closes in the holding's window and a marker per transaction (none when no close is cached)."""
    start, end = _window(position)
    if closes is None or not len(closes[0]):
        return PriceHistory("not_loaded", (), (), currency, ())
    days = np.asarray(closes[0], dtype="int64").view("datetime64[ns]").astype("datetime64[D]")
    values = np.asarray(closes[1], dtype="float64")
    keep = np.isfinite(values) & (days >= np.datetime64(start))
    if end is not None:
        keep &= days <= np.datetime64(end)
    days, values = days[keep], values[keep]
    if not len(days):
        return PriceHistory("not_loaded", (), (), currency, ())
    dates = tuple(d.astype(object) for d in days)
    markers = []
    for txn in txns:
        at = int(np.searchsorted(days, np.datetime64(txn.date), side="right")) - 1  # the close on or before
        close = float(values[at]) if at >= 0 else None
        own_price = txn.type in ("BUY", "SELL") and (txn.currency is None or currency is None
                                                     or txn.currency == currency)
        y = float(txn.price) if own_price else close
        if y is None or not math.isfinite(y):
            continue  # before the first cached close: nowhere honest to draw it
        markers.append(ChartMarker(txn.date, txn.type, y, float(txn.quantity), float(txn.price), txn.currency))
    return PriceHistory("ready", dates, tuple(float(v) for v in values), currency, tuple(markers))


def quote_currency(loaded: LoadedPortfolio, row: Holding | None, ticker: str) -> str | None:
    """The currency the ticker's closes are in: the conversion's (major unit), else the row's, else unknown."""
    if loaded.fx is not None and ticker in loaded.fx.currencies:
        return loaded.fx.currencies[ticker]
    return row.currency if row is not None else None


def holding_detail(loaded: LoadedPortfolio, holdings: HoldingsData, ticker: str,
                   closes: Closes | None, twr: float | None = None) -> HoldingDetail:
    """One holding of `loaded`: NotFoundError when the portfolio never held `ticker`. `twr`: its own time-weighted
    return (services/returns_holding.py `holding_twr`)."""
    ticker = find_ticker(loaded, ticker)
    position = loaded.positions[ticker]
    row = _row_of(holdings, ticker)
    txns = [t for t in loaded.transactions if t.ticker == ticker]
    currency = quote_currency(loaded, row, ticker)
    figures = _figures(position, row, None if position.is_open else _closed_entry(holdings, ticker))
    return HoldingDetail(
        portfolio=PortfolioInfo.of(loaded.portfolio),
        ticker=ticker,
        is_open=position.is_open,
        figures=dataclasses.replace(figures, twr=None if twr is None else round(twr, 6)),
        transactions=tuple(HoldingTransaction.of(t) for t in reversed(txns)),
        chart=_history(closes, position, txns, currency),
    )


class HoldingDetails:
    """Gathers a holding's parts from the cache (`DashboardData` of the asking owner) and builds its detail."""

    def __init__(self, dashboard: Any):  # services.dashboard_data.DashboardData (not imported: no cycle)
        self.dashboard = dashboard

    def detail(self, portfolio_id: int, ticker: str) -> HoldingDetail:
        """The holding's detail from cached prices and closes (NotFoundError: unknown portfolio or ticker)."""
        loaded = self.dashboard.load(portfolio_id)
        name = find_ticker(loaded, ticker)
        holdings = self.dashboard.holdings(portfolio_id, wait_s=0)
        prices = self.dashboard.prices
        closes = prices.cache.get_closes(name)
        if closes is None and name in loaded.needs:  # start its history's fetch; the page shows what there is
            prices.fetch_prices_parallel({name: loaded.needs[name]}, wait_s=0)
        loaded = self.dashboard.load(portfolio_id)
        twr = holding_twr(loaded, name, closes, self.dashboard.clock.now().date(), self.dashboard.fx)
        return holding_detail(loaded, holdings, name, closes, twr)
