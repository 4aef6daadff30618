"""services/import_checks.py: a price typed in pence is a warning, by hand-computed ratios."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd

from services.import_checks import ImportWarning, close_lookup, minor_unit_warnings
from services.models import Transaction

DAY = dt.date(2025, 6, 3)


def row(ticker: str, price: str, currency: str | None = None, day: dt.date = DAY) -> Transaction:
    return Transaction(date=day, ticker=ticker, type="BUY", quantity=Decimal(10), price=Decimal(price),
                       currency=currency)


def closes(mapping: dict[str, float]):
    return lambda ticker, day: mapping.get(ticker) if day == DAY else None


def test_a_price_about_100_times_the_close_of_a_pence_quoted_ticker_is_a_warning() -> None:
    lookup = closes({"VOD.L": 0.70, "AAPL": 2.0, "NPN.JO": 30.0})
    rows = [
        (2, row("VOD.L", "70")),            # 70 / 0.70 = 100: pence
        (3, row("VOD.L", "0.71")),          # ~1: pounds, fine
        (4, row("VOD.L", "35")),            # 35 / 0.70 = 50: the edge, still pence
        (5, row("VOD.L", "34.9")),          # 49.86: not
        (6, row("VOD.L", "140")),           # 200: the other edge
        (7, row("VOD.L", "140.7")),         # 201: not
        (8, row("VOD.L", "70", "GBP")),     # a currency was given (GBp arrives as GBP / 100): the user said so
        (9, row("AAPL", "200")),            # 100x, but quoted in dollars: no minor unit
        (10, row("NPN.JO", "3000")),        # South African cents
        (11, row("BARC.L", "70")),          # nothing cached
    ]
    assert minor_unit_warnings(rows, lookup) == [
        ImportWarning(2, "price", "looks like pence; add currency GBp"),
        ImportWarning(4, "price", "looks like pence; add currency GBp"),
        ImportWarning(6, "price", "looks like pence; add currency GBp"),
        ImportWarning(10, "price", "looks like cents; add currency ZAc"),
    ]
    assert ImportWarning(2, "price", "x").to_json() == {"line": 2, "field": "price", "message": "x"}


def test_no_close_that_day_no_warning() -> None:
    assert minor_unit_warnings([(2, row("VOD.L", "70", day=DAY + dt.timedelta(days=1)))],
                               closes({"VOD.L": 0.70})) == []
    assert minor_unit_warnings([(2, row("VOD.L", "0"))], closes({"VOD.L": 0.70})) == []


def test_close_lookup_reads_the_day_or_the_last_close_within_a_week() -> None:
    index = pd.DatetimeIndex(["2025-05-20", "2025-05-30", "2025-06-02", "2025-06-03"])
    stored = {"VOD.L": (index.to_numpy(dtype="datetime64[ns]").view("int64"), np.array([0.6, 0.65, 0.7, 0.72]))}
    reads: list[str] = []

    def get_closes(ticker):
        reads.append(ticker)
        return stored.get(ticker)

    close_on = close_lookup(get_closes)
    assert close_on("VOD.L", dt.date(2025, 6, 3)) == 0.72
    assert close_on("VOD.L", dt.date(2025, 6, 2)) == 0.7
    assert close_on("VOD.L", dt.date(2025, 6, 1)) == 0.65   # a Sunday: Friday's close
    assert close_on("VOD.L", dt.date(2025, 6, 10)) == 0.72  # 7 days after the last bar
    assert close_on("VOD.L", dt.date(2025, 6, 11)) is None  # 8 days: too old
    assert close_on("VOD.L", dt.date(2025, 5, 19)) is None  # before the first bar
    assert close_on("BARC.L", DAY) is None
    assert reads == ["VOD.L", "BARC.L"]  # each ticker read once
