"""The return measures of a range: true time-weighted return (TWR), XIRR, annualization, the benchmark line.

Pure numpy/pandas/pyxirr over a value series and its flows (services/returns_flows.py): no I/O, no dash. The
definitions are DESIGN.md "Returns and benchmark"; the README ("How returns are computed") works an example
through by hand.

Conventions: percentages are fractions; a measure that is undefined is None (never NaN or inf), with a note
saying why where a user would ask.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyxirr

from services.returns_flows import Flows, ledger_flows, session_grid

__all__ = ["NOT_ANNUALIZED", "Annualized", "Flows", "Returns", "XirrResult", "annualized", "benchmark_series",
           "cash_flows_on", "ledger_flows", "range_cash_flows", "range_returns", "returns_of", "session_grid",
           "twr_array", "twr_series", "xirr"]

DAYS_PER_YEAR = 365  # Act/365 for both the annualization and XIRR
NOT_ANNUALIZED = "not annualized: range shorter than a year"
NO_RETURN = "no return for the range"
# An XIRR whose NPV is further from 0 than this share of the money moved is no solution (pyxirr's answer is
# checked, not trusted: a rate from a failed search must not reach a user as a number).
_NPV_TOLERANCE = 1e-9


def twr_series(values: pd.Series, inflows: pd.Series | None = None, outflows: pd.Series | None = None) -> pd.Series:
    """Cumulative true time-weighted return per day since the first day of `values` (0 on that day).

    Portfolio Performance's definition: each day r_t = (V_t + out_t) / (V_{t-1} + in_t) - 1, chained as
    prod(1 + r) - 1. V is the holdings' value at the close, `inflows` the money put in that day (counted at
    the start of the day), `outflows` the money taken out (counted at its end); flows index a subset of the
    value's days (missing days: no flow). The first day's flows are part of its value, the range's base.

    - Nothing held (V_{t-1} + in_t == 0): that day's return is 0 and the chain carries on, so the cumulative
      line stays flat over a time with no holdings (money out of nothing, e.g. a late dividend after the last
      sale, is left out: it has no base to be a return on).
    - A NaN value (a day that cannot be valued) is a gap: NaN on that day, and the next valued day's return is
      measured from the last valued day, with the gap's inflows and outflows counted on that next day.
    - A day's factor 1 + r never goes below 0 (outflows below zero, fees larger than proceeds, could push it
      there), so the cumulative return never falls below -100 %; after -100 % it stays there.
    """
    v = _checked_values(values)
    into = _aligned(values, inflows, "inflows")
    out = _aligned(values, outflows, "outflows")
    if (into < 0).any():
        raise ValueError(f"inflows: negative on {_first_date(values.index, into < 0)} (a buy adds money)")
    return pd.Series(twr_array(v, into, out), index=values.index, name="twr")


def twr_array(v: np.ndarray, into: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`twr_series` on checked arrays of one length (values >= 0 or NaN, inflows >= 0): the chart's per-range
    path, which checks the MAX range's arrays once and then slices them."""
    result = np.full(len(v), np.nan)
    valued = np.flatnonzero(~np.isnan(v))
    if len(valued):
        into_between = _between(into, valued)
        out_between = _between(out, valued)
        base = v[valued[:-1]] + into_between
        end = v[valued[1:]] + out_between
        factor = np.ones(len(base))
        held = base > 0
        factor[held] = np.maximum(end[held] / base[held], 0.0)
        result[valued] = np.concatenate(([1.0], np.cumprod(factor))) - 1.0
    return result


def _between(flows: np.ndarray, valued: np.ndarray) -> np.ndarray:
    """The flows summed over (previous valued day, this valued day] for each valued day after the first: one
    element per sum without gaps, so exact (differences of running sums would leave float dust over 10 years)."""
    if len(valued) < 2:
        return np.zeros(0)
    return np.add.reduceat(flows[: valued[-1] + 1], valued[:-1] + 1)


def benchmark_series(closes: pd.Series) -> pd.Series:
    """The benchmark's own cumulative price return since the range's first close: close_t / close_0 - 1.

    A day without a close (the benchmark's exchange was shut) keeps the last close; days before its first
    close are NaN. The price return, not a TWR of anything held: the benchmark is a line to compare with.
    """
    c = pd.to_numeric(closes, errors="coerce").astype(float).ffill()
    known = c.dropna()
    if (known <= 0).any():
        raise ValueError(f"benchmark closes: not positive on {known.index[known.to_numpy() <= 0][0]}")
    if known.empty:
        return pd.Series(np.nan, index=closes.index, name="benchmark")
    return (c / known.iloc[0] - 1.0).rename("benchmark")


@dataclass(frozen=True)
class Annualized:
    """An annualized return, or None with `note` saying why not."""

    value: float | None
    note: str | None = None


def annualized(cumulative: float | None, days: int) -> Annualized:
    """(1 + cumulative) ^ (365 / days) - 1 for a range of at least 365 calendar days; under a year the return is
    not annualized (an annual rate extrapolated from weeks misleads) and `note` says so."""
    if cumulative is None or not math.isfinite(cumulative):
        return Annualized(None, NO_RETURN)
    if cumulative < -1:
        raise ValueError(f"cumulative return {cumulative}: below -100 %")
    if days < DAYS_PER_YEAR:
        return Annualized(None, NOT_ANNUALIZED)
    return Annualized((1.0 + cumulative) ** (DAYS_PER_YEAR / days) - 1.0)


@dataclass(frozen=True)
class XirrResult:
    """The money-weighted annual rate (Act/365), or None with `reason`: "no flows", "no sign change",
    "did not converge"."""

    rate: float | None
    reason: str | None = None


def xirr(flows: Sequence[tuple[dt.date, float]]) -> XirrResult:
    """The annual rate r at which the flows' net present value sum(a / (1 + r) ^ (days since the first / 365))
    is 0. Money put in is negative (buys, the value at the start), money out positive (sales, dividends, the
    value at the end). Zero amounts are left out. Solved by pyxirr, whose answer is checked by substituting it
    back into the NPV; no solution is None with a reason, never NaN or inf."""
    dates: list[dt.date] = []
    amounts: list[float] = []
    for when, amount in flows:
        amount = float(amount)
        if not math.isfinite(amount):
            raise ValueError(f"xirr flow on {when}: amount {amount} is not a finite number")
        if amount != 0:
            # A pd.Timestamp is a dt.datetime (a subclass of dt.date): take its day; a plain date as it is.
            dates.append(when if type(when) is dt.date else pd.Timestamp(when).date())
            amounts.append(amount)
    if not amounts:
        return XirrResult(None, "no flows")
    if min(amounts) >= 0 or max(amounts) <= 0:
        return XirrResult(None, "no sign change")
    rate = pyxirr.xirr(dates, amounts, day_count=pyxirr.DayCount.ACT_365F, silent=True)
    if rate is None or not math.isfinite(rate) or rate <= -1:
        return XirrResult(None, "did not converge")
    npv = pyxirr.xnpv(rate, dates, amounts, day_count=pyxirr.DayCount.ACT_365F, silent=True)
    if npv is None or not math.isfinite(npv) or abs(npv) > _NPV_TOLERANCE * sum(abs(a) for a in amounts):
        return XirrResult(None, "did not converge")
    return XirrResult(float(rate))


def range_cash_flows(values: pd.Series, inflows: pd.Series | None = None,
                     outflows: pd.Series | None = None) -> list[tuple[dt.date, float]]:
    """The XIRR flows of a range, as the TWR sees it: the value at the close of the first valued day put in
    (negative; that day's own flows are in it), each later day's outflows - inflows up to the last valued day,
    and the value at that day's close taken out (positive). Flows after the last valued day are left out."""
    v = _checked_values(values)
    net = _aligned(values, outflows, "outflows") - _aligned(values, inflows, "inflows")
    return cash_flows_on(pd.DatetimeIndex(values.index), v, net)


def cash_flows_on(days: pd.DatetimeIndex, v: np.ndarray, net: np.ndarray) -> list[tuple[dt.date, float]]:
    """`range_cash_flows` on checked arrays: `net` is outflows - inflows per day of `days`."""
    valued = np.flatnonzero(~np.isnan(v))
    if not len(valued):
        return []
    first, last = valued[0], valued[-1]
    amounts = net.copy()
    amounts[: first + 1] = 0.0
    amounts[last + 1:] = 0.0
    amounts[first] -= v[first]
    amounts[last] += v[last]
    chosen = np.flatnonzero(amounts)
    dates = days[chosen].date  # dt.date objects in one call
    return list(zip(dates.tolist(), amounts[chosen].tolist(), strict=True))


@dataclass(frozen=True)
class Returns:
    """The return measures of one range (the chart payload's "returns"); None where undefined.

    `twr`: cumulative TWR over the range; `twr_annualized`: None under a year, `annualized_note` saying so.
    `xirr`: the money-weighted annual rate (an annual rate by definition, so over a short range it is an
    extrapolation: 4 days of +17 % read as +200,000,000 % a year; show `mwr` there), `xirr_note` the reason it
    is None. `mwr`: the same money-weighted return over the range itself, (1 + xirr) ^ (days / 365) - 1.
    """

    twr: float | None
    twr_annualized: float | None
    annualized_note: str | None
    xirr: float | None
    xirr_note: str | None
    mwr: float | None
    benchmark_twr: float | None

    def to_json(self) -> dict:
        return {"twr": self.twr, "twr_annualized": self.twr_annualized, "annualized_note": self.annualized_note,
                "xirr": self.xirr, "xirr_note": self.xirr_note, "mwr": self.mwr, "benchmark_twr": self.benchmark_twr}


def range_returns(values: pd.Series, inflows: pd.Series | None = None, outflows: pd.Series | None = None,
                  benchmark_closes: pd.Series | None = None) -> Returns:
    """Every measure of the range `values` covers (its first to its last day): the cumulative TWR at the last
    valued day, annualized over the calendar days between the first and last valued day, the XIRR of
    `range_cash_flows` (and as a return over those days), and the benchmark's price return over the same days
    (None without closes)."""
    twr = twr_series(values, inflows, outflows).dropna()
    cumulative = float(twr.iloc[-1]) if len(twr) else None
    span = (pd.Timestamp(twr.index[-1]) - pd.Timestamp(twr.index[0])).days if len(twr) else 0
    money = xirr(range_cash_flows(values, inflows, outflows))
    bench = None
    if benchmark_closes is not None:
        line = benchmark_series(_on_days(benchmark_closes, values.index)).dropna()
        bench = float(line.iloc[-1]) if len(line) else None
    return returns_of(cumulative, span, money, bench)


def returns_of(cumulative: float | None, span: int, money: XirrResult, bench: float | None) -> Returns:
    """The `Returns` of a range from its cumulative TWR, its calendar days, its XIRR and its benchmark return."""
    yearly = annualized(cumulative, span)
    return Returns(cumulative, yearly.value, yearly.note, money.rate, money.reason, _over(money.rate, span), bench)


def _over(rate: float | None, days: int) -> float | None:
    """An annual rate as the return over `days`: (1 + rate) ^ (days / 365) - 1; None when too large to hold."""
    if rate is None or days <= 0:
        return None
    try:
        return math.expm1(days / DAYS_PER_YEAR * math.log1p(rate))
    except OverflowError:
        return None


def _on_days(closes: pd.Series, days: pd.Index) -> pd.Series:
    """`closes` on `days`: each day's close or the last one before it (a close before the range's first day
    is its base when the benchmark's exchange was shut that day)."""
    closes = closes.set_axis(pd.DatetimeIndex(closes.index)).sort_index()
    days = pd.DatetimeIndex(days)
    return closes.reindex(closes.index.union(days)).ffill().reindex(days)


def _checked_values(values: pd.Series) -> np.ndarray:
    """The values as floats, refused when negative or infinite (NaN is a gap) or when the days are unordered."""
    session_grid(values.index)
    v = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    bad = np.isinf(v) | (v < 0)
    if bad.any():
        raise ValueError(f"values: {v[bad][0]} on {_first_date(values.index, bad)} (a value is >= 0 or NaN)")
    return v


def _aligned(values: pd.Series, flows: pd.Series | None, name: str) -> np.ndarray:
    """`flows` on the days of `values` (0 where it has none); a flow on a day without a value is an error."""
    if flows is None:
        return np.zeros(len(values))
    index = pd.DatetimeIndex(values.index)
    flow_days = pd.DatetimeIndex(flows.index)
    stray = flow_days.difference(index)
    if len(stray):
        raise ValueError(f"{name}: {stray[0].date().isoformat()} is not a day of the values "
                         "(map flows onto the value series' days first: ledger_flows)")
    raw = pd.to_numeric(flows, errors="raise").to_numpy(dtype=float)
    if not np.isfinite(raw).all():
        raise ValueError(f"{name}: not a finite number on {_first_date(flow_days, ~np.isfinite(raw))}")
    return pd.Series(raw, index=flow_days).groupby(level=0).sum().reindex(index, fill_value=0.0).to_numpy()


def _first_date(index: pd.Index, mask: np.ndarray) -> str:
    return pd.Timestamp(index[np.flatnonzero(mask)[0]]).date().isoformat()
