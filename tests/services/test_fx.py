"""FxRates: exchange rates are prices of Yahoo pairs, read from the same cache-first price service as stocks.

Offline: a real PriceService on a temporary diskcache, with a counting fake provider that serves pair bars written
by hand below. Now is SESSION_MOMENT, Tuesday 8 July 2025, 11:00 in New York (XNYS open). Friday 4 July is a
holiday; 5 and 6 July are a weekend. Every expected rate is computed by hand in its comment, rounded to
RATE_DIGITS = 10 significant digits (half even).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from services.fx import RATE_DIGITS, FxRates, pair_symbol
from services.metrics import CACHE_LOOKUPS, UPSTREAM_REQUESTS, UPSTREAM_SYMBOLS, counter_value
from services.models import Quote
from services.price_planning import Need, merge_needs
from services.providers.base import FetchRequest, TickerHistory
from tests.fakes import SESSION_MOMENT, CountingProvider, counting_close

D = dt.date
START = D(2025, 7, 1)
PROVIDER = "fx-fake"  # a name of its own, so the counters this suite reads move only through it
# The price of 1 unit in USD at each day's close. No bar on 4 July (holiday), 5-6 July (weekend); GBPUSD=X also has
# none on 7 July (a hole in one leg only). The last row is today's, and the quote's price.
BARS = {
    "EURUSD=X": {D(2025, 7, 1): 1.10, D(2025, 7, 2): 1.12, D(2025, 7, 3): 1.15, D(2025, 7, 7): 1.16,
                 D(2025, 7, 8): 1.20},
    "GBPUSD=X": {D(2025, 7, 1): 1.25, D(2025, 7, 2): 1.40, D(2025, 7, 3): 1.25, D(2025, 7, 8): 1.50},
    "JPYUSD=X": {D(2025, 7, 1): 0.0068, D(2025, 7, 8): 0.0070},
}


class PairProvider(CountingProvider):
    """CountingProvider (it counts every request and symbol, and answers `not_found` symbols SymbolNotFoundError)
    serving the hand-written BARS for pairs, from the requested start; any other symbol gets its formula closes."""

    def _history(self, request: FetchRequest):
        if request.ticker not in BARS:
            return super()._history(request)
        rows = {day: close for day, close in BARS[request.ticker].items() if day >= request.start}
        index = pd.DatetimeIndex([pd.Timestamp(day) for day in rows], name="date")
        bars = pd.DataFrame({"close": list(rows.values()), "dividend": 0.0, "split": 1.0}, index=index)
        closes = list(rows.values())
        now = self.clock.now()
        quote = Quote(request.ticker, closes[-1], closes[-2] if len(closes) > 1 else None, "USD", now, now)
        return TickerHistory(request.ticker, bars, quote)


@pytest.fixture
def provider(clock):
    return PairProvider(clock, name=PROVIDER, not_found=["XYZUSD=X"])


@pytest.fixture
def service(make_service, provider, price_cache):
    return make_service(provider, price_cache)


@pytest.fixture
def fx(service):
    return FxRates(service)


@pytest.fixture
def warm_fx(fx, service, provider):
    """Every pair of BARS fetched (one request), then the provider's count reset."""
    service.fetch_prices_parallel(fx.needs_for(["EUR", "GBP", "JPY"], "USD", START))
    assert provider.call_count == 1
    provider.calls.clear()
    return fx


# -- the pair rule ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currencies", "base", "expected"),
    [
        (["EUR", "GBP", "USD"], "USD", ["EURUSD=X", "GBPUSD=X"]),  # USD itself needs no pair
        (["USD"], "EUR", ["EURUSD=X"]),  # USD -> EUR = 1 / EURUSD
        (["EUR", "JPY"], "GBP", ["EURUSD=X", "GBPUSD=X", "JPYUSD=X"]),  # crosses: each leg and the base's pair
        (["JPY", "EUR", "JPY"], "USD", ["EURUSD=X", "JPYUSD=X"]),  # sorted, no duplicates
        (["GBP", "GBP"], "GBP", []),  # the base into itself: no pair
        ([], "EUR", []),
    ],
)
def test_pairs_for(fx, currencies, base, expected):
    assert fx.pairs_for(currencies, base) == expected


@pytest.mark.parametrize("code", ["GBp", "ZAc", "eur", "EURO", "", "US"])
def test_a_code_that_is_not_a_major_unit_is_refused_not_guessed(fx, code):
    # GBp read as GBP would be 100 times off: the caller converts pence (and ZAc, ILA) to the major unit first
    with pytest.raises(ValueError, match="currency code"):
        fx.pairs_for([code], "USD")
    with pytest.raises(ValueError, match="currency code"):
        fx.rate(code, "USD", START)


def test_pair_symbol_prices_one_unit_in_usd():
    assert pair_symbol("JPY") == "JPYUSD=X"
    with pytest.raises(ValueError, match="pivot"):
        pair_symbol("USD")


def test_needs_for_asks_for_the_pairs_from_the_start_with_a_quote(fx):
    assert fx.needs_for(["EUR", "USD"], "GBP", START) == {"EURUSD=X": Need(START), "GBPUSD=X": Need(START)}


# -- rates on a day -----------------------------------------------------------------------------------------------
def test_direct_rate_and_its_inverse(warm_fx):
    assert warm_fx.rate("EUR", "USD", D(2025, 7, 2)) == Decimal("1.12")  # EURUSD=X's close that day
    # USD -> EUR on 1 July = 1 / 1.10 = 0.909090909090... -> 10 significant digits: 0.9090909091
    assert warm_fx.rate("USD", "EUR", D(2025, 7, 1)) == Decimal("0.9090909091")
    # USD -> JPY on 8 July = 1 / 0.0070 = 142.857142857... -> 142.8571429
    assert warm_fx.rate("USD", "JPY", D(2025, 7, 8)) == Decimal("142.8571429")


def test_cross_through_usd(warm_fx):
    # EUR -> GBP on 1 July = EURUSD / GBPUSD = 1.10 / 1.25 = 0.88
    assert warm_fx.rate("EUR", "GBP", D(2025, 7, 1)) == Decimal("0.88")
    # GBP -> EUR on 1 July = 1.25 / 1.10 = 1.13636363636... -> 1.136363636
    assert warm_fx.rate("GBP", "EUR", D(2025, 7, 1)) == Decimal("1.136363636")
    # EUR -> GBP on 2 July = 1.12 / 1.40 = 0.8
    assert warm_fx.rate("EUR", "GBP", D(2025, 7, 2)) == Decimal("0.8")
    # EUR -> JPY on 1 July = 1.10 / 0.0068 = 161.764705882... -> 161.7647059 (one rounding, from the raw legs)
    assert warm_fx.rate("EUR", "JPY", D(2025, 7, 1)) == Decimal("161.7647059")
    assert len(warm_fx.rate("EUR", "JPY", D(2025, 7, 1)).as_tuple().digits) == RATE_DIGITS


def test_same_currency_is_exactly_one_without_any_request(fx, provider):
    assert fx.rate("EUR", "EUR", D(2020, 1, 1)) == Decimal(1)  # even on a day nothing is cached for
    assert fx.latest("JPY", "JPY").rate == Decimal(1)
    assert fx.series("GBP", "GBP", pd.DatetimeIndex(["2025-07-05"])).tolist() == [1.0]
    assert provider.call_count == 0


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2025, 7, 4), "1.15"),  # a holiday: Thursday 3 July's close
        (D(2025, 7, 5), "1.15"),  # Saturday: still 3 July's, never Monday's 1.16
        (D(2025, 7, 6), "1.15"),  # Sunday
        (D(2025, 7, 7), "1.16"),  # the next session's own close
        (D(2025, 7, 20), "1.20"),  # past the last bar: the last earlier close (8 July)
    ],
)
def test_a_day_without_a_bar_takes_the_last_earlier_close(warm_fx, day, expected):
    assert warm_fx.rate("EUR", "USD", day) == Decimal(expected)


def test_each_leg_of_a_cross_takes_its_own_last_earlier_close(warm_fx):
    # 7 July: EURUSD has 1.16; GBPUSD has no bar, so its 3 July close 1.25: 1.16 / 1.25 = 0.928
    assert warm_fx.rate("EUR", "GBP", D(2025, 7, 7)) == Decimal("0.928")
    # Saturday 5 July: 1.15 / 1.25 = 0.92
    assert warm_fx.rate("EUR", "GBP", D(2025, 7, 5)) == Decimal("0.92")


def test_a_day_before_the_first_bar_has_no_rate(warm_fx):
    # 30 June is before every pair's first bar (1 July): no rate, never 1 July's
    assert warm_fx.rate("EUR", "USD", D(2025, 6, 30)) is None
    assert warm_fx.rate("USD", "GBP", D(2025, 6, 30)) is None
    assert warm_fx.rate("EUR", "GBP", D(2025, 6, 30)) is None


def test_rates_on_many_days_match_rate_on_each(warm_fx):
    days = [D(2025, 6, 30), D(2025, 7, 1), D(2025, 7, 5), D(2025, 7, 7)]
    # None; 1.10/1.25 = 0.88; 1.15/1.25 = 0.92; 1.16/1.25 = 0.928
    assert warm_fx.rates_on("EUR", "GBP", days) == [None, Decimal("0.88"), Decimal("0.92"), Decimal("0.928")]


def test_an_unknown_pair_has_no_rate_never_one(fx, service, provider):
    report = service.fetch_prices_parallel(fx.needs_for(["XYZ", "EUR"], "USD", START))
    assert report.finished["XYZUSD=X"].outcome == "failed"  # the provider said not found
    assert report.finished["EURUSD=X"].outcome == "ok"
    assert fx.rate("XYZ", "USD", D(2025, 7, 2)) is None
    assert fx.rate("XYZ", "EUR", D(2025, 7, 2)) is None  # a cross with one unknown leg
    assert fx.rate("EUR", "XYZ", D(2025, 7, 2)) is None
    assert fx.latest("XYZ", "USD") == (None, None, "missing")
    assert fx.series("XYZ", "USD", pd.DatetimeIndex(["2025-07-02"])).isna().all()
    assert fx.rate("EUR", "USD", D(2025, 7, 2)) == Decimal("1.12")  # the known pair still converts


def test_nothing_cached_means_no_rate_and_no_request(fx, provider):
    # FxRates only reads: it never asks the source itself (the warm-up and the loader do, through the service)
    assert fx.rate("EUR", "USD", D(2025, 7, 2)) is None
    assert fx.latest("EUR", "USD") == (None, None, "missing")
    assert provider.call_count == 0


# -- fetching through the price service: one request cold, none warm, the same counters ----------------------------
def test_cold_one_request_for_every_pair_and_stock_warm_none(fx, service, provider):
    needs = merge_needs([{"AAPL": Need(START)}, fx.needs_for(["EUR", "GBP", "JPY"], "USD", START)])
    service.fetch_prices_parallel(needs)
    assert provider.call_count == 1
    assert sorted(provider.requested()) == ["AAPL", "EURUSD=X", "GBPUSD=X", "JPYUSD=X"]

    service.fetch_prices_parallel(needs)  # warm: every quote fetched at SESSION_MOMENT is fresh
    assert provider.call_count == 1
    # ...and the rates are read from what that one request cached: 1.12 / 1.40 = 0.8
    assert fx.rate("EUR", "GBP", D(2025, 7, 2)) == Decimal("0.8")
    assert service.prices(["AAPL"])["AAPL"].price == counting_close(SESSION_MOMENT.date())


def test_pairs_are_counted_in_the_same_metrics_as_stocks(fx, service):
    requests_before = counter_value(UPSTREAM_REQUESTS, provider=PROVIDER, outcome="ok")
    symbols_before = counter_value(UPSTREAM_SYMBOLS, provider=PROVIDER, outcome="ok")
    service.fetch_prices_parallel(fx.needs_for(["EUR", "GBP"], "JPY", START))  # EURUSD, GBPUSD, JPYUSD
    assert counter_value(UPSTREAM_REQUESTS, provider=PROVIDER, outcome="ok") - requests_before == 1
    assert counter_value(UPSTREAM_SYMBOLS, provider=PROVIDER, outcome="ok") - symbols_before == 3

    hits_before = counter_value(CACHE_LOOKUPS, result="hit")
    fx.latest("EUR", "GBP")  # a cross reads two quotes through the service's cache lookups
    assert counter_value(CACHE_LOOKUPS, result="hit") - hits_before == 2


# -- today's rate --------------------------------------------------------------------------------------------------
def test_latest_is_the_quotes_rate_with_its_time_and_freshness(warm_fx, frozen_time):
    # Quotes: EURUSD 1.20, GBPUSD 1.50 -> EUR -> GBP = 0.8, GBP -> EUR = 1.25; fetched at 11:00 New York, open
    assert warm_fx.latest("EUR", "GBP") == (Decimal("0.8"), SESSION_MOMENT, "fresh")
    assert warm_fx.latest("GBP", "EUR") == (Decimal("1.25"), SESSION_MOMENT, "fresh")
    # USD -> JPY = 1 / 0.0070 = 142.857142857... -> 142.8571429
    assert warm_fx.latest("USD", "JPY").rate == Decimal("142.8571429")
    frozen_time.advance(minutes=6)  # past QUOTE_TTL (300 s) in an open session: stale, as a stock's quote would be
    assert warm_fx.latest("EUR", "GBP") == (Decimal("0.8"), SESSION_MOMENT, "stale")


def test_latest_takes_the_older_and_less_fresh_leg(warm_fx, service, price_cache, frozen_time):
    # GBPUSD's quote refetched 6 minutes later at 1.60: EUR -> GBP = 1.20 / 1.60 = 0.75, as of the older EUR leg,
    # and stale because that leg is (fetched 6 minutes ago, TTL 5)
    later = frozen_time.advance(minutes=6)
    price_cache.put_quote(Quote("GBPUSD=X", 1.60, 1.50, "USD", later, later))
    assert warm_fx.latest("EUR", "GBP") == (Decimal("0.75"), SESSION_MOMENT, "stale")


# -- the value chart's series -------------------------------------------------------------------------------------
def test_series_forward_fills_from_earlier_days_only(warm_fx):
    days = pd.date_range("2025-06-30", "2025-07-08", freq="D")
    series = warm_fx.series("EUR", "GBP", days)
    # 30 June: none yet; 1 July 1.10/1.25; 2 July 1.12/1.40; 3-6 July 1.15/1.25; 7 July 1.16/1.25; 8 July 1.20/1.50
    expected = [np.nan, 0.88, 0.8, 0.92, 0.92, 0.92, 0.92, 0.928, 0.8]
    assert series.index.equals(pd.DatetimeIndex(days, name="date"))
    np.testing.assert_allclose(series.to_numpy(), expected, rtol=1e-12)
    assert series.name == "EURGBP"


def test_series_default_dates_are_every_day_a_leg_has_a_bar(warm_fx):
    series = warm_fx.series("USD", "EUR")
    assert [d.date() for d in series.index] == list(BARS["EURUSD=X"])
    # 1 / 1.10, 1 / 1.12, 1 / 1.15, 1 / 1.16, 1 / 1.20
    np.testing.assert_allclose(series.to_numpy(), [1 / 1.10, 1 / 1.12, 1 / 1.15, 1 / 1.16, 1 / 1.20], rtol=1e-12)
