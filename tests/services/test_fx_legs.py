"""services/fx_legs.py: a pair's closes are read from its bars once per write of them, and never past one.

A real PriceService on a temporary diskcache (tests/conftest.py), the pair bars of tests/services/test_fx.py
fetched through its fake provider; the rates are those test_fx.py computes by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from services.fx import FxRates
from services.fx_legs import LegMemoFxRates
from services.store import BARS
from tests.services.test_fx import START, PairProvider


@pytest.fixture
def service(make_service, clock, price_cache):
    built = make_service(PairProvider(clock, name="fx-legs-fake"), price_cache)
    built.fetch_prices_parallel(FxRates(built).needs_for(["EUR", "GBP"], "USD", START))
    return built


def _bars_reads(price_cache, monkeypatch) -> list[str]:
    """The keys of every bars read from now on."""
    reads: list[str] = []
    store = price_cache.store
    original = store.get

    def get(key, default=None):
        if key.startswith(BARS.key("")):
            reads.append(key)
        return original(key, default)

    monkeypatch.setattr(store, "get", get)
    return reads


def test_the_same_rates_as_fx_rates_with_one_bars_read_per_pair(service, price_cache, monkeypatch):
    plain, memo = FxRates(service), LegMemoFxRates(service)
    days = [dt.date(2025, 7, 3), dt.date(2025, 7, 6), dt.date(2025, 7, 7)]
    reads = _bars_reads(price_cache, monkeypatch)
    # EUR -> GBP = EURUSD / GBPUSD: 3 July 1.15 / 1.25 = 0.92; Sunday 6 July takes Thursday's 0.92 too; 7 July has
    # no GBPUSD bar (its last earlier close, 1.25): 1.16 / 1.25 = 0.928.
    expected = [Decimal("0.92"), Decimal("0.92"), Decimal("0.928")]
    assert plain.rates_on("EUR", "GBP", days) == expected
    assert reads == ["bars:EURUSD=X", "bars:GBPUSD=X"]
    reads.clear()
    for _ in range(3):
        assert memo.rates_on("EUR", "GBP", days) == expected
    assert reads == ["bars:EURUSD=X", "bars:GBPUSD=X"]  # the first call read them; the next two did not


def test_a_new_write_of_the_bars_is_read_at_once(service, price_cache, monkeypatch):
    memo = LegMemoFxRates(service)
    assert memo.rate("EUR", "USD", dt.date(2025, 7, 7)) == Decimal("1.16")
    # Another process rewrites EURUSD=X's 7 July close (put_bars stamps the bars in the same transaction).
    bars = pd.DataFrame({"close": [1.17], "dividend": 0.0, "split": 1.0},
                        index=pd.DatetimeIndex([pd.Timestamp(2025, 7, 7)], name="date"))
    price_cache.put_bars("EURUSD=X", bars, dt.date(2025, 7, 7))
    reads = _bars_reads(price_cache, monkeypatch)
    assert memo.rate("EUR", "USD", dt.date(2025, 7, 7)) == Decimal("1.17")
    assert memo.rate("EUR", "USD", dt.date(2025, 7, 3)) == Decimal("1.15")  # the earlier bars kept by the merge
    assert reads == ["bars:EURUSD=X"]  # read again once, for the new stamp


def test_a_pair_never_cached_is_unknown_not_one(service):
    assert LegMemoFxRates(service).rate("CHF", "USD", dt.date(2025, 7, 7)) is None


def test_days_given_as_datetimes_are_read_as_fx_rates_reads_them(service):
    # FxRates turns them into their day (pandas' normalize): 3 July at 15:00 is 3 July, 1.15 / 1.25 = 0.92.
    moment = dt.datetime(2025, 7, 3, 15, 0)
    assert LegMemoFxRates(service).rates_on("EUR", "GBP", [moment]) == FxRates(service).rates_on(
        "EUR", "GBP", [moment]) == [Decimal("0.92")]
