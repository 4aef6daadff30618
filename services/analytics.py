"""Portfolio arithmetic: replay a ledger into positions, value them, chart them.

Pure functions over `services.models` values: no I/O, no dash. Amounts accumulate as exact Decimals and are
rounded only on the way out (money to cents, quantities and fractions to 6 dp). A total that a person can add up
from the rows on screen is the sum of the rounded rows, never the rounded exact sum, so the cents agree (issue 11,
item 8): each holding's money is rounded to cents once, and the summary and the weights are built from those
cents. Transactions are applied in
date order; transactions on the same date keep the order they were given in (a stable sort), so a BUY listed
before a SELL on the same day is applied first. See "Ledger semantics" in DESIGN.md.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from services.models import PriceInfo, Transaction

ZERO = Decimal(0)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
# Weights are shown as percentages with 2 decimals (0.01 % = 0.0001 of the whole): they are allocated in these
# steps so the shown weights add up to exactly 100.00 %.
WEIGHT_STEP = Decimal("0.0001")

RANGES = ("1M", "3M", "6M", "YTD", "1Y", "5Y", "MAX")
_RANGE_MONTHS = {"1M": 1, "3M": 3, "6M": 6, "1Y": 12, "5Y": 60}


@dataclass(frozen=True)
class Position:
    """One ticker after replaying the ledger (average-cost method)."""

    ticker: str
    quantity: Decimal
    cost_basis: Decimal
    realized_gain: Decimal
    dividends: Decimal
    first_date: dt.date  # first transaction of this ticker, even if the position was closed since

    @property
    def avg_cost(self) -> Decimal | None:
        return self.cost_basis / self.quantity if self.quantity else None

    @property
    def is_open(self) -> bool:
        return self.quantity != 0


@dataclass(frozen=True)
class Oversell:
    """A SELL of more shares than were held at that point; `index` is its position in the input."""

    index: int
    ticker: str
    date: dt.date
    held: Decimal
    quantity: Decimal


class OversellError(ValueError):
    """The ledger sells shares it does not hold; `oversells` names every such SELL."""

    def __init__(self, oversells: list[Oversell]):
        first = oversells[0]
        super().__init__(
            f"{len(oversells)} SELL(s) of more shares than held, first: {first.ticker} on "
            f"{first.date.isoformat()} sells {first.quantity}, holds {first.held}"
        )
        self.oversells = oversells


# --- replaying the ledger ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Book:
    """Running state of one ticker while the ledger is replayed (mutable, private)."""

    ticker: str
    first_date: dt.date
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_gain: Decimal = ZERO
    dividends: Decimal = ZERO

    def apply(self, txn: Transaction) -> None:
        if txn.type == "BUY":
            self.quantity += txn.quantity
            self.cost_basis += txn.quantity * txn.price + txn.fees
        elif txn.type == "SELL":
            # cost * sold / held is avg_cost * sold, but exact when everything is sold.
            released = self.cost_basis * txn.quantity / self.quantity if txn.quantity else ZERO
            self.realized_gain += txn.quantity * txn.price - txn.fees - released
            self.quantity -= txn.quantity
            self.cost_basis -= released
        elif txn.type == "DIVIDEND":
            self.dividends += txn.quantity * txn.price
        elif txn.type == "SPLIT":
            self.quantity *= txn.quantity
        else:
            raise ValueError(f"unknown transaction type {txn.type!r}")
        if self.quantity == 0:
            self.cost_basis = ZERO  # closed: a later BUY starts a fresh position

    def position(self) -> Position:
        return Position(self.ticker, self.quantity, self.cost_basis, self.realized_gain, self.dividends,
                        self.first_date)


def _walk(transactions: Sequence[Transaction], found: list[Oversell]) -> Iterator[tuple[Transaction, _Book]]:
    """Apply the transactions in (date, input order); yield each one with its ticker's book after it.

    A SELL of more than is held is recorded in `found` and skipped, so each oversell is judged on its own.
    """
    books: dict[str, _Book] = {}
    order = sorted(range(len(transactions)), key=lambda i: transactions[i].date)  # stable: ties keep order
    for index in order:
        txn = transactions[index]
        book = books.get(txn.ticker)
        if book is None:
            book = books[txn.ticker] = _Book(txn.ticker, txn.date)
        if txn.type == "SELL" and txn.quantity > book.quantity:
            found.append(Oversell(index, txn.ticker, txn.date, book.quantity, txn.quantity))
            continue
        book.apply(txn)
        yield txn, book


def oversells(transactions: Sequence[Transaction]) -> list[Oversell]:
    """Every SELL of more shares than held at that point, in date order (each judged without the others)."""
    found: list[Oversell] = []
    for _step in _walk(transactions, found):
        pass
    return found


def replay(transactions: Sequence[Transaction], *, strict: bool = False) -> dict[str, Position]:
    """Positions of every ticker ever traded, closed ones included.

    An oversold SELL is skipped, as `oversells` judges it: the ledger refuses new ones, but data older than
    that check must still render. With `strict=True` it raises OversellError instead.
    """
    found: list[Oversell] = []
    books = {txn.ticker: book for txn, book in _walk(transactions, found)}
    if found and strict:
        raise OversellError(found)
    return {ticker: book.position() for ticker, book in sorted(books.items())}


# --- valuing positions --------------------------------------------------------------------------------------


def _round(value: Decimal | None, step: Decimal) -> float | None:
    return None if value is None else float(value.quantize(step, rounding=ROUND_HALF_UP))


def _cents(value: Decimal | None) -> Decimal | None:
    """Money rounded to cents (half up), still a Decimal so totals of rounded rows stay exact."""
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def _float(value: Decimal | None) -> float | None:
    """An already rounded Decimal for the JSON payload."""
    return None if value is None else float(value)


def _fine(value: Decimal | None) -> float | None:
    return _round(value, MICRO)


def _fraction(value: Decimal | None) -> float | None:
    """A fraction to 6 dp, but never fewer than 2 significant digits.

    A -$0.16 day change on a $400,000 portfolio is -0.0000004: at 6 dp it would be 0, a "no change" next to a
    visible loss. Below 1e-5 the fraction keeps its first two significant digits instead (-0.0000004 stays).
    """
    if value is None or not value or abs(value) >= Decimal("0.00001"):
        return _fine(value)
    return _round(value, Decimal(1).scaleb(value.adjusted() - 1))


def _ratio(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    return None if part is None or not whole else part / whole


def _decimal(price: float | None) -> Decimal | None:
    """A provider float as the Decimal it prints as (0.1 -> Decimal('0.1')); NaN and inf are unknown."""
    if price is None or not math.isfinite(price):
        return None
    return Decimal(repr(float(price)))


def _weights(values: Mapping[str, Decimal], step: Decimal = WEIGHT_STEP) -> dict[str, Decimal] | None:
    """Each value's share of the total in whole `step`s that add up to exactly 1 (largest-remainder method).

    Rounding each share on its own can make three thirds 0.9999 or 100.0001 % (issue 11, item 8). Here every
    share is floored to a step and the steps left over go, one each, to the shares that lost the most by the
    flooring (ties: the larger value, then the ticker). None when the total is not positive.
    """
    total = sum(values.values(), ZERO)
    if total <= 0:
        return None
    units = 1 / step  # steps in the whole
    quotas = {t: v * units / total for t, v in values.items()}
    floors = {t: q.to_integral_value(rounding=ROUND_FLOOR) for t, q in quotas.items()}
    left = int(units - sum(floors.values(), ZERO))
    by_remainder = sorted(quotas, key=lambda t: (-(quotas[t] - floors[t]), -values[t], t))
    for ticker in by_remainder[:left]:
        floors[ticker] += 1
    return {t: (n * step).quantize(step) for t, n in floors.items()}


@dataclass(frozen=True)
class _Valued:
    """One open position against its quote, in exact Decimals (None = cannot be known)."""

    position: Position
    info: PriceInfo | None
    price: Decimal | None
    market_value: Decimal | None
    day_change: Decimal | None
    day_base: Decimal | None  # quantity * previous close: what day_change is a fraction of


def _value(position: Position, info: PriceInfo | None) -> _Valued:
    price = _decimal(info.price) if info else None
    previous = _decimal(info.previous_close) if info else None
    qty = position.quantity
    market_value = qty * price if price is not None else None
    day_change = qty * (price - previous) if price is not None and previous is not None else None
    day_base = qty * previous if previous is not None else None
    return _Valued(position, info, price, market_value, day_change, day_base)


def _open_valued(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo]) -> list[_Valued]:
    return [_value(p, prices.get(t)) for t, p in positions.items() if p.is_open]


def _rounded(v: _Valued) -> dict[str, Decimal | None]:
    """One holding's money in cents, rounded once; every total and gain on screen is built from these."""
    cost_basis = _cents(v.position.cost_basis)
    market_value = _cents(v.market_value)
    return {
        "cost_basis": cost_basis,
        "market_value": market_value,
        # value - cost of the shown cents, so the row adds up on screen (not the rounded exact gain).
        "unrealized_gain": market_value - cost_basis if market_value is not None else None,
        "day_change": _cents(v.day_change),
    }


def holdings_rows(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo]) -> list[dict]:
    """The holdings table: open positions, largest market value first, unpriced ones last (by ticker).

    Money is in cents, rounded once per row; unrealized_gain is the row's market_value - cost_basis as shown.
    The weights are shares of the sum of the rows' market values, allocated in 0.0001 steps that add up to
    exactly 1 (see `_weights`); an unpriced row has no weight.
    """
    valued = _open_valued(positions, prices)
    valued.sort(key=lambda v: (v.market_value is None, -(v.market_value or ZERO), v.position.ticker))
    money = [_rounded(v) for v in valued]
    weights = _weights({v.position.ticker: m["market_value"] for v, m in zip(valued, money, strict=True)
                        if m["market_value"] is not None}) or {}
    rows = []
    for v, m in zip(valued, money, strict=True):
        p = v.position
        priced = v.price is not None
        rows.append({
            "ticker": p.ticker,
            "quantity": _fine(p.quantity),
            "avg_cost": _fine(p.avg_cost),  # a per-share amount: 6 dp so penny stocks keep their digits
            "cost_basis": _float(m["cost_basis"]),
            "price": _fine(v.price),
            "market_value": _float(m["market_value"]),
            "unrealized_gain": _float(m["unrealized_gain"]),
            "unrealized_gain_pct": _fraction(_ratio(m["unrealized_gain"], m["cost_basis"])),
            "day_change": _float(m["day_change"]),
            "day_change_pct": _fraction(_ratio(m["day_change"], v.day_base)),
            "weight": _float(weights.get(p.ticker)),
            "price_as_of": v.info.as_of.isoformat() if priced and v.info.as_of else None,
            "price_status": v.info.status if priced else "missing",
        })
    return rows


def summary(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo]) -> dict:
    """Portfolio totals for the summary cards, each the sum of the holdings rows' rounded cents.

    Missing prices never turn into made-up values: market_value is the sum over priced holdings only, and
    unrealized_gain(_pct) compares it with the cost basis of those same holdings (`priced_cost_basis`, so
    unrealized_gain == market_value - priced_cost_basis to the cent), and an unpriced holding does not show up
    as a loss. cost_basis is the full cost of every open holding (it needs no price); `priced_count` says how
    many of the `holdings_count` holdings are in market_value. day_change(_pct) covers the holdings with both a
    price and a previous close. With holdings but none of them priced, the price-dependent values are None; an
    empty portfolio is worth exactly 0. realized_gain and dividends include closed positions (each position
    rounded to cents, then summed, like everything else here).
    """
    valued = _open_valued(positions, prices)
    money = [_rounded(v) for v in valued]
    priced = [m for m in money if m["market_value"] is not None]
    moved = [(v, m) for v, m in zip(valued, money, strict=True) if m["day_change"] is not None]
    market_value = sum((m["market_value"] for m in priced), ZERO) if priced or not valued else None
    priced_cost = sum((m["cost_basis"] for m in priced), ZERO)
    gain = market_value - priced_cost if market_value is not None else None
    day_change = sum((m["day_change"] for _v, m in moved), ZERO) if moved or not valued else None
    day_base = sum((v.day_base for v, _m in moved), ZERO)
    return {
        "market_value": _float(market_value),
        "cost_basis": _float(sum((m["cost_basis"] for m in money), ZERO)),
        "unrealized_gain": _float(gain),
        "unrealized_gain_pct": _fraction(_ratio(gain, priced_cost)),
        "day_change": _float(day_change),
        "day_change_pct": _fraction(_ratio(day_change, day_base)),
        "realized_gain": _float(sum((_cents(p.realized_gain) for p in positions.values()), ZERO)),
        "dividends": _float(sum((_cents(p.dividends) for p in positions.values()), ZERO)),
        "holdings_count": len(valued),
        "priced_count": len(priced),
        "priced_cost_basis": _float(priced_cost),
    }


def allocation(rows: Sequence[Mapping]) -> list[dict]:
    """[{"ticker", "weight"}] over rows with a market value, largest first; the weights add up to exactly 1.

    The same largest-remainder allocation in 0.0001 steps as the rows' own weights, so the donut and the
    table agree.
    """
    values = {r["ticker"]: Decimal(repr(float(r["market_value"])))
              for r in rows if r.get("market_value") is not None}
    weights = _weights(values)
    if weights is None:
        return []
    ordered = sorted(weights, key=lambda t: (-weights[t], t))
    return [{"ticker": t, "weight": float(weights[t])} for t in ordered]


# --- value over time ----------------------------------------------------------------------------------------


def value_series(transactions: Sequence[Transaction], closes: pd.DataFrame, start: dt.date | None = None,
                 end: dt.date | None = None, *, strict: bool = False) -> pd.DataFrame:
    """Daily market value and cost basis of the ledger on the session dates of `closes`.

    `closes` holds raw (not split-adjusted) closes, dates x tickers. The holding on day d is the ledger after
    every transaction dated <= d, so a split and its halved raw close meet on the same row. Closes are
    forward-filled (exchanges keep different holidays); a holding with no close yet is worth 0 but its cost
    basis counts. Oversold SELLs are skipped, or raise OversellError with `strict=True` (as in `replay`).
    """
    columns = ["market_value", "cost_basis"]
    found: list[Oversell] = []
    # One pass over the ledger: (date, ticker, quantity, cost basis) after every transaction.
    # Plain dates here, converted to Timestamps in one vectorized call: a pd.Timestamp per event is ~20 us.
    events = [(txn.date, txn.ticker, float(book.quantity), float(book.cost_basis))
              for txn, book in _walk(transactions, found)]
    if found and strict:
        raise OversellError(found)
    closes = closes.set_axis(pd.DatetimeIndex(closes.index)).sort_index()  # tolerate datetime.date labels
    grid = closes.index
    if not events and start is None:
        return pd.DataFrame(columns=columns, index=grid[:0], dtype=float)
    first = pd.Timestamp(start) if start is not None else pd.Timestamp(events[0][0])
    last = pd.Timestamp(end) if end is not None else pd.Timestamp.max
    days = grid[(grid >= first) & (grid <= last)]
    if not events:
        return pd.DataFrame(0.0, index=days, columns=columns)

    frame = pd.DataFrame(events, columns=["date", "ticker", "quantity", "cost_basis"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame = frame.drop_duplicates(["date", "ticker"], keep="last")  # the state at the end of each day
    quantity = frame.pivot(index="date", columns="ticker", values="quantity")
    cost = frame.pivot(index="date", columns="ticker", values="cost_basis")
    # Transactions may fall on non-session days: fill over the union, then keep the session days.
    union = quantity.index.union(days)
    quantity = quantity.reindex(union).ffill().fillna(0.0).reindex(days)
    cost = cost.reindex(union).ffill().fillna(0.0).reindex(days)
    # Fill closes over the whole grid first so the first day of a range still sees an earlier close.
    close = closes.reindex(columns=quantity.columns).ffill().reindex(days).fillna(0.0)
    market_value = (quantity.to_numpy() * close.to_numpy()).sum(axis=1)
    return pd.DataFrame(
        {"market_value": np.round(market_value, 2), "cost_basis": np.round(cost.to_numpy().sum(axis=1), 2)},
        index=days,
    )


def range_start(range_name: str, today: dt.date, first_date: dt.date) -> dt.date:
    """First day of a chart range: calendar months back from today (day clamped), Jan 1, or first_date."""
    if range_name == "MAX":
        return first_date
    if range_name == "YTD":
        return dt.date(today.year, 1, 1)
    months = _RANGE_MONTHS.get(range_name)
    if months is None:
        raise ValueError(f"unknown range {range_name!r}; expected one of {', '.join(RANGES)}")
    year, month0 = divmod(today.year * 12 + today.month - 1 - months, 12)
    month = month0 + 1
    return dt.date(year, month, min(today.day, calendar.monthrange(year, month)[1]))
