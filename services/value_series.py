"""The ledger's value over time, and the chart's ranges.

Pure pandas over `services.models` values and a frame of closes: no I/O. The ranges are `RangeName`, the one
constant the chart builder, the API's validation and its OpenAPI enum all read.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from services.models import Transaction
from services.replay import Oversell, OversellError, walk

RangeName = Literal["1M", "3M", "6M", "YTD", "1Y", "5Y", "MAX"]
RANGES: tuple[str, ...] = get_args(RangeName)
_RANGE_MONTHS = {"1M": 1, "3M": 3, "6M": 6, "1Y": 12, "5Y": 60}


def value_series(transactions: Sequence[Transaction], closes: pd.DataFrame, start: dt.date | None = None,
                 end: dt.date | None = None, *, strict: bool = False, rates: pd.DataFrame | None = None,
                 missing: Collection[str] = ()) -> pd.DataFrame:
    """Daily market value and cost basis of the ledger on the session dates of `closes`.

    `closes` holds raw (not split-adjusted) closes, dates x tickers. The holding on day d is the ledger after
    every transaction dated <= d, so a split and its halved raw close meet on the same row. Closes are
    forward-filled (exchanges keep different holidays). A holding with no close yet is unpriced: it is left out
    of both lines that day, its value and its cost basis (issue 15, item 6: the summary leaves an unpriced
    holding out of its market value and compares that with the priced cost, so the chart's gap between the
    lines is the summary's unrealized gain). Oversold SELLs are skipped, or raise OversellError with
    `strict=True` (as in `replay`).

    In the base currency (services/base_currency.py): `transactions` is `ConvertedLedger.in_base` (its cost basis
    is the base cost, fixed at each trade's rate), `rates` the rate quote -> base per day, dates x tickers (a
    ticker quoted in the base currency: 1.0; `FxRates.series`), and `missing` the tickers whose base cost is
    unknown (`ConvertedLedger.missing`). Each day's close is valued at that day's rate, or the last earlier one
    (never a later one); a day on which a held ticker has no rate, or a missing ticker is held, is NaN (the chart
    shows a gap), never valued at a rate of 1.
    """
    columns = ["market_value", "cost_basis"]
    found: list[Oversell] = []
    # One pass over the ledger: (date, ticker, quantity, cost basis) after every transaction.
    # Plain dates here, converted to Timestamps in one vectorized call: a pd.Timestamp per event is ~20 us.
    events = [(txn.date, txn.ticker, float(book.quantity), float(book.cost_basis))
              for txn, book in walk(transactions, found)]
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
    close = closes.reindex(columns=quantity.columns).ffill().reindex(days).to_numpy(dtype="float64")
    priced = ~np.isnan(close)
    quantity = quantity.where(priced, 0.0)  # an unpriced holding counts as not held: no value, no cost
    held = quantity.to_numpy() * np.where(priced, close, 0.0)
    costs = np.where(priced, cost.to_numpy(), 0.0)
    if rates is not None:
        held, costs = _in_base(held, costs, quantity, rates, missing)
    return pd.DataFrame(
        {"market_value": np.round(held.sum(axis=1), 2), "cost_basis": np.round(costs.sum(axis=1), 2)},
        index=days,
    )


def _in_base(held: np.ndarray, costs: np.ndarray, quantity: pd.DataFrame, rates: pd.DataFrame,
             missing: Collection[str]) -> tuple[np.ndarray, np.ndarray]:
    """(value, cost) per day and ticker in the base currency: values x the day's rate (forward-filled from earlier
    days only); NaN where something is held without a rate, and for a held ticker whose cost is unknown."""
    days = quantity.index
    rates = rates.set_axis(pd.DatetimeIndex(rates.index).normalize()).sort_index()
    rates = rates[~rates.index.duplicated(keep="last")].reindex(columns=quantity.columns)
    rate = rates.reindex(rates.index.union(days)).ffill().reindex(days).to_numpy(dtype="float64")
    # Nothing held (an unpriced holding counts as not held) needs no rate; anything else without one is unknown.
    value = np.where(held == 0, 0.0, held * rate)
    unknown = quantity.columns.isin(list(missing))[np.newaxis, :] & (quantity.to_numpy() != 0)
    value = np.where(unknown, np.nan, value)
    return value, np.where(unknown, np.nan, costs)


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
