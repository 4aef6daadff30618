"""The chart's return lines and figures per range (issue 16): what the chart generator adds to each range.

Pure pandas over the value series (already in the base currency), the ledger's flows on the MAX grid and the
benchmark's cached closes: no I/O. The flows are computed once on the MAX grid (`ledger_flows`) and sliced per
range (`MaxRange`: numpy arrays checked once); each range is a tail of them, whose TWR line and benchmark line
start at 0 on its first day. The same formulas as services/returns.py `range_returns` (its array cores), without
pandas' per-call overhead seven times over: the whole adds a few ms to a 500-ticker, 10-year chart. The
definitions are DESIGN.md "Returns and benchmark" and the README's "How returns are computed".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.models import Transaction
from services.returns import cash_flows_on, ledger_flows, returns_of, twr_array, xirr

SERIES_DIGITS = 6  # a fraction to 6 dp: 0.000001 is 0.0001 %, far below what a chart shows


@dataclass(frozen=True)
class RangePerformance:
    """One range's TWR and benchmark lines (a value per date, None where unknown) and its `returns` block."""

    twr: list[float | None]
    benchmark: list[float | None]
    returns: dict


@dataclass(frozen=True)
class MaxRange:
    """The MAX range's days, values, flows (in the base currency) and benchmark closes, as checked arrays."""

    days: pd.DatetimeIndex
    values: np.ndarray  # >= 0, NaN where unknown
    inflows: np.ndarray
    outflows: np.ndarray
    closes: np.ndarray  # the benchmark's close on each day (the last earlier one where it had none); NaN before


def max_range(values: pd.Series, transactions: Sequence[Transaction], closes: pd.Series | None) -> MaxRange:
    """The arrays every range is sliced from: `values` the MAX value series (in the base currency), its flows from
    `transactions` (the ledger in the base currency, each at its own date's rate), the benchmark's `closes`."""
    days = pd.DatetimeIndex(values.index)
    v = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    bad = np.isinf(v) | (v < 0)
    if bad.any():
        raise ValueError(f"values: {v[bad][0]} on {days[np.flatnonzero(bad)[0]].date()} (a value is >= 0 or NaN)")
    flows = ledger_flows(transactions, days)
    inflows, outflows = flows.inflows.to_numpy(), flows.outflows.to_numpy()
    if (inflows < 0).any() or not (np.isfinite(inflows).all() and np.isfinite(outflows).all()):
        raise ValueError("flows: an inflow is negative or a flow is not a finite number")
    return MaxRange(days, v, inflows, outflows, _closes_on(closes, days))


def range_performance(arrays: MaxRange, first: int, ticker: str) -> RangePerformance:
    """The TWR line, the benchmark line and the returns of the range from position `first` of the MAX range to
    its end. The benchmark line needs a close on or before the range's first day, its base: without one it is
    null throughout and so is `benchmark_twr` (a line measured from some later day would be a made-up comparison).
    """
    days = arrays.days[first:]
    v, into, out = arrays.values[first:], arrays.inflows[first:], arrays.outflows[first:]
    twr = twr_array(v, into, out)
    valued = np.flatnonzero(~np.isnan(twr))
    cumulative = float(twr[valued[-1]]) if len(valued) else None
    span = (days[valued[-1]] - days[valued[0]]).days if len(valued) else 0
    money = xirr(cash_flows_on(days, v, out - into))
    closes = arrays.closes[first:]
    line = np.full(len(days), np.nan)
    if len(closes) and not np.isnan(closes[0]) and (closes > 0).all():
        line = closes / closes[0] - 1.0
    bench = float(line[-1]) if len(line) and not np.isnan(line[-1]) else None
    returns = returns_of(cumulative, span, money, bench)
    figures = {**returns.to_json(), "benchmark": ticker, "total_return": _range_gain(v, into, out, valued)}
    return RangePerformance(_json_list(twr), _json_list(line), figures)


def _range_gain(v: np.ndarray, into: np.ndarray, out: np.ndarray, valued: np.ndarray) -> float | None:
    """Money made over the range, to the cent: the last valued day's value - the first's (the base) + what came out
    after the first day (sales after fees, dividends after withholding) - what went in (buys with fees)."""
    if not len(valued):
        return None
    first, last = valued[0], valued[-1]
    gain = v[last] - v[first] + out[first + 1:last + 1].sum() - into[first + 1:last + 1].sum()
    return round(float(gain), 2)


def unknown_performance(days: int, ticker: str) -> RangePerformance:
    """Every line and figure null (the returns could not be computed): the value chart is still drawn."""
    figures = dict.fromkeys(("twr", "twr_annualized", "annualized_note", "xirr", "xirr_note", "mwr",
                             "benchmark_twr"))
    return RangePerformance([None] * days, [None] * days, {**figures, "benchmark": ticker, "total_return": None})


def _closes_on(closes: pd.Series | None, days: pd.DatetimeIndex) -> np.ndarray:
    """The benchmark's close on each of `days`, or the last one before it (its exchange shut that day); NaN before
    its first close, and throughout without closes."""
    if closes is None or not len(days):
        return np.full(len(days), np.nan)
    known = closes.dropna()
    known = known.set_axis(pd.DatetimeIndex(known.index)).sort_index()
    known = known[~known.index.duplicated(keep="last")]
    if known.empty:
        return np.full(len(days), np.nan)
    return known.reindex(known.index.union(days)).ffill().reindex(days).to_numpy(dtype=float)


def _json_list(line: np.ndarray) -> list[float | None]:
    """Fractions rounded for the payload, NaN as None."""
    return [None if math.isnan(v) else v for v in np.round(line, SERIES_DIGITS).tolist()]
