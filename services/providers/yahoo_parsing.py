"""Yahoo's chart answers in the contract's terms (yahoo.py's parsing half): bars as traded, the previous close
on today's share basis, prices in the major currency unit (the divisor comes from services/providers/currency.py's
`major_currency`, the rule the demo provider follows too), and finite numbers or None.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd


def as_traded_bars(frame: pd.DataFrame, divisor: float = 1.0) -> pd.DataFrame:
    """The contract's bars from yfinance's history(auto_adjust=False, actions=True).

    Yahoo's Close and Dividends are adjusted for every split up to now, and the window runs to now, so the
    factor that undoes it for a day is the product of the splits strictly after that day in the frame.
    """
    splits = frame["Stock Splits"].fillna(0.0).replace(0.0, 1.0)  # Yahoo writes 0 for "no split"
    later_splits = splits[::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
    bars = pd.DataFrame({
        "close": frame["Close"] * later_splits / divisor,
        "dividend": frame["Dividends"].fillna(0.0) * later_splits / divisor,
        "split": splits,
    }).astype("float64")
    index = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
    bars.index = pd.DatetimeIndex(index.normalize(), name="date")
    bars = bars[bars["close"].notna()]
    return bars[~bars.index.duplicated(keep="last")].sort_index()


def previous_close(frame: pd.DataFrame | None, meta: Mapping[str, Any], divisor: float) -> float | None:
    """The close of the session before the last bar, on today's share basis (so it compares with the price).

    In a start/end query Yahoo's chartPreviousClose is the close before the FIRST bar of the range, so it is
    only the right value when the range holds exactly one bar; with more, the bar before the last is.
    """
    if frame is not None and len(frame) >= 2:
        return scaled(frame["Close"].iloc[-2], divisor)
    if frame is not None and len(frame) == 1:
        return scaled(meta.get("chartPreviousClose"), divisor)
    return scaled(meta.get("previousClose"), divisor)  # only in range=1d answers; else unknown


def finite_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def scaled(value: Any, divisor: float) -> float | None:
    number = finite_number(value)
    return None if number is None else number / divisor


def utc_time(value: Any) -> dt.datetime | None:
    """regularMarketTime: epoch seconds, or the exchange-local Timestamp yfinance formats them into."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()
