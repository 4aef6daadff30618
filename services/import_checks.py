"""Warnings about imported rows that were accepted but look wrong (DESIGN.md, "Day change, splits and import hygiene").

Pure: the rows and a close lookup in, warnings out. The caller (the API's import route) reads the closes from the
price cache; the ledger never sees a price (tests/test_layering.py).

The one check so far: a row of an instrument its source quotes in a minor unit (`.L` in pence, GBp), given without
a `currency`, whose price is about 100 times that day's close (the cache holds closes in the major unit, pounds):
it was most likely typed in pence. The row stays imported; the warning says how to fix it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

import numpy as np

from services.csv_io import parse_transactions_csv_lines
from services.models import ImportWarning, Transaction
from services.providers.currency import CURRENCY_BY_SUFFIX, MINOR_CURRENCIES, listed_currency

# A price this many times the day's close (inclusive) looks like it was given in the minor unit.
MINOR_UNIT_RATIO = (50.0, 200.0)
# How far back the close of "that day" may come from (a weekend or holiday has no bar of its own).
CLOSE_LOOKBACK_DAYS = 7
CloseLookup = Callable[[str, dt.date], float | None]
# A ticker of an exchange quoting in a minor unit (.L, .JO, .TA): only then are an import's rows read again.
_MINOR_UNIT_SUFFIX = re.compile("(?:" + "|".join(re.escape(suffix) for suffix, unit in CURRENCY_BY_SUFFIX.items()
                                                 if unit in MINOR_CURRENCIES) + r")\b", re.IGNORECASE)


def minor_unit_warnings(rows: Iterable[tuple[int, Transaction]], close_on: CloseLookup) -> list[ImportWarning]:
    """A warning on `price` for each row that looks typed in pence (or another minor unit) of its quote currency.

    Only rows without a `currency` of a ticker listed in a minor unit are checked; a row without a close (nothing
    cached for that ticker near that day) or a price of 0 gets no warning.
    """
    warnings: list[ImportWarning] = []
    for line, transaction in rows:
        minor = listed_currency(transaction.ticker)
        if transaction.currency is not None or minor not in MINOR_CURRENCIES or transaction.price <= 0:
            continue
        close = close_on(transaction.ticker, transaction.date)
        if close is None or not close > 0:
            continue
        low, high = MINOR_UNIT_RATIO
        if low <= float(transaction.price) / close <= high:
            warnings.append(ImportWarning(line, "price", f"looks like {_unit_name(minor)}; add currency {minor}"))
    return warnings


def _unit_name(minor: str) -> str:
    return {"GBp": "pence", "GBX": "pence", "ZAc": "cents", "ILA": "agorot"}.get(minor, "a minor unit")


def close_lookup(get_closes: Callable[[str], tuple[np.ndarray, np.ndarray] | None]) -> CloseLookup:
    """A `close_on(ticker, day)` over cached closes (`PriceCache.get_closes`: dates as int64 nanoseconds, closes):
    the close of `day`, else the last one before it within CLOSE_LOOKBACK_DAYS; None when there is none. Each
    ticker's closes are read once."""
    read: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def close_on(ticker: str, day: dt.date) -> float | None:
        if ticker not in read:
            read[ticker] = get_closes(ticker)
        found = read[ticker]
        if found is None or len(found[0]) == 0:
            return None
        dates, closes = found
        end = np.datetime64(day + dt.timedelta(days=1), "ns").astype("int64")
        at = int(np.searchsorted(dates, end, side="left")) - 1
        if at < 0:
            return None
        start = np.datetime64(day - dt.timedelta(days=CLOSE_LOOKBACK_DAYS), "ns").astype("int64")
        close = float(closes[at])
        return close if dates[at] >= start and np.isfinite(close) else None

    return close_on


def csv_warnings(text: str, get_closes: Callable[[str], tuple[np.ndarray, np.ndarray] | None]) -> list[ImportWarning]:
    """The warnings of a CSV ledger that was just imported (so it parses), against cached closes
    (`PriceCache.get_closes`). A file without a minor-unit ticker is not read a second time."""
    if not _MINOR_UNIT_SUFFIX.search(text):
        return []
    return minor_unit_warnings(parse_transactions_csv_lines(text), close_lookup(get_closes))
