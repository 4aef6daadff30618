"""The chart's return lines and figures per range (issue 16): what the chart generator adds to each range.

Pure pandas over the value series (already in the base currency), the ledger's flows on the MAX grid and the
benchmark's cached closes: no I/O. The flows are computed once on the MAX grid (`ledger_flows`) and sliced per
range; each range's TWR line and benchmark line start at 0 on its first day. The definitions are DESIGN.md
"Returns and benchmark" and docs/returns.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.models import Transaction
from services.returns import Flows, benchmark_series, ledger_flows, range_returns, twr_series

SERIES_DIGITS = 6  # a fraction to 6 dp: 0.000001 is 0.0001 %, far below what a chart shows


@dataclass(frozen=True)
class RangePerformance:
    """One range's TWR and benchmark lines (a value per date, None where unknown) and its `returns` block."""

    twr: list[float | None]
    benchmark: list[float | None]
    returns: dict


def max_flows(transactions: Sequence[Transaction], grid: pd.Index) -> Flows:
    """The ledger's flows on the MAX range's days (in base-currency transactions: each at its own date's rate)."""
    return ledger_flows(transactions, grid)


def range_performance(values: pd.Series, flows: Flows, closes: pd.Series | None, ticker: str) -> RangePerformance:
    """The TWR line, the benchmark line and the returns of the range `values` covers (a slice of the MAX series).

    `closes`: the benchmark's cached closes (None or empty: not fetched yet). The benchmark line needs a close on or
    before the range's first day, its base: without one it is null throughout and so is `benchmark_twr` (a line
    measured from some later day would be a made-up comparison).
    """
    days = values.index
    inflows = flows.inflows.reindex(days, fill_value=0.0)
    outflows = flows.outflows.reindex(days, fill_value=0.0)
    on_days = _closes_on(closes, days)
    returns = range_returns(values, inflows, outflows, on_days)
    line = (benchmark_series(on_days) if on_days is not None
            else pd.Series(np.nan, index=days))
    return RangePerformance(_json_list(twr_series(values, inflows, outflows)), _json_list(line),
                            {**returns.to_json(), "benchmark": ticker})


def unknown_performance(days: int, ticker: str) -> RangePerformance:
    """Every line and figure null (the returns could not be computed): the value chart is still drawn."""
    figures = dict.fromkeys(("twr", "twr_annualized", "annualized_note", "xirr", "xirr_note", "mwr",
                             "benchmark_twr"))
    return RangePerformance([None] * days, [None] * days, {**figures, "benchmark": ticker})


def _closes_on(closes: pd.Series | None, days: pd.Index) -> pd.Series | None:
    """The benchmark's close on each of `days` (the last one before it where its exchange was shut); None when it
    has no close on or before the first day."""
    if closes is None or not len(days):
        return None
    known = closes.dropna()
    known = known.set_axis(pd.DatetimeIndex(known.index)).sort_index()
    if known.empty or known.index[0] > pd.Timestamp(days[0]):
        return None
    days = pd.DatetimeIndex(days)
    return known.reindex(known.index.union(days)).ffill().reindex(days)


def _json_list(series: pd.Series) -> list[float | None]:
    """Fractions rounded for the payload, NaN as None."""
    return [None if math.isnan(v) else v for v in np.round(series.to_numpy(dtype=float), SERIES_DIGITS).tolist()]
