"""The ledger's external cash flows per session day: what the return measures (services/returns.py) chain over.

Pure numpy/pandas over `services.models.Transaction`: no I/O. The amounts are in whatever currency the
transactions are stated in; for the base currency pass `ConvertedLedger.in_base` (services/base_currency.py),
whose price and fees are already converted at each transaction's own date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.models import TRANSACTION_TYPES, Transaction

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()  # datetime64[D] counts days from 1970-01-01


@dataclass(frozen=True)
class Flows:
    """Money into and out of the holdings per day of a date grid (both >= 0 for a well-formed ledger).

    `inflows`: BUYs' quantity x price + fees. `outflows`: SELLs' quantity x price - fees, plus DIVIDENDs'
    quantity x price - withholding (a DIVIDEND's `fees`). SPLITs move no money.
    """

    inflows: pd.Series
    outflows: pd.Series


def session_grid(grid: Sequence[dt.date] | pd.Index) -> pd.DatetimeIndex:
    """`grid` as a DatetimeIndex of days, checked to be strictly increasing (a ValueError names the first fault)."""
    days = pd.DatetimeIndex(pd.to_datetime(grid)).normalize()
    if days.hasnans:
        raise ValueError("date grid: contains a missing date (NaT)")
    if len(days) > 1:
        steps = days[1:] <= days[:-1]
        if steps.any():
            bad = days[1:][steps][0].date().isoformat()
            raise ValueError(f"date grid: not strictly increasing at {bad} (sorted, one row per session day)")
    return days


def ledger_flows(transactions: Sequence[Transaction], grid: Sequence[dt.date] | pd.Index) -> Flows:
    """The ledger's inflows and outflows summed per day of `grid` (the session days of the value series).

    A transaction dated on a day that is not in the grid (a weekend, a holiday of this exchange, a date the
    broker booked late) counts on the next grid day: the holding it changes is first valued at that day's close
    (`value_series` values the ledger as of every transaction dated <= the day), so its money must enter the
    same day's return; counted on the day before, the buy would read as that day's gain or loss.

    Transactions before the grid's first day are left out (they are already in the first day's value, the
    range's base), and so are those after its last day (outside the range). The arithmetic is exact in Decimal
    per transaction, then float; the per-day sums are one vectorized aggregation (np.bincount), no loop over days.
    """
    days = session_grid(grid)
    columns = _flow_columns(transactions)
    inflows = np.zeros(len(days))
    outflows = np.zeros(len(days))
    if len(days) and columns is not None:
        dates, inflow, outflow = columns
        grid_days = days.values.astype("datetime64[D]")
        position = np.searchsorted(grid_days, dates, side="left")  # the first grid day on or after the date
        keep = (dates >= grid_days[0]) & (position < len(grid_days))
        inflows = np.bincount(position[keep], weights=inflow[keep], minlength=len(days))
        outflows = np.bincount(position[keep], weights=outflow[keep], minlength=len(days))
    return Flows(pd.Series(inflows, index=days, name="inflows"), pd.Series(outflows, index=days, name="outflows"))


def _flow_columns(transactions: Sequence[Transaction]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(dates as datetime64[D], inflow, outflow) per money-moving transaction, or None when there is none."""
    dates: list[int] = []  # proleptic ordinals: numpy's date parsing of dt.date objects is ~20x slower
    inflow: list[float] = []
    outflow: list[float] = []
    for txn in transactions:
        kind = txn.type
        if kind == "SPLIT":
            continue
        if kind == "BUY":
            dates.append(txn.date.toordinal())
            inflow.append(float(txn.quantity * txn.price + txn.fees))
            outflow.append(0.0)
        elif kind in ("SELL", "DIVIDEND"):
            dates.append(txn.date.toordinal())
            inflow.append(0.0)
            outflow.append(float(txn.quantity * txn.price - txn.fees))
        else:
            raise ValueError(f"transaction {txn.date.isoformat()} {txn.ticker}: type {kind!r} is not one of "
                             f"{', '.join(TRANSACTION_TYPES)}")
    if not dates:
        return None
    days = (np.array(dates, dtype=np.int64) - _EPOCH_ORDINAL).astype("datetime64[D]")
    return days, np.array(inflow), np.array(outflow)
