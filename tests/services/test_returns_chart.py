"""The chart's return lines and `returns` block (issue 16), on stated prices put straight into a real diskcache.

Every close, quote and exchange rate is written into the price cache before the chart is generated, and each
expected number is worked out by hand below; the provider is never asked (it would answer other prices). Now is
Tuesday 2025-07-08, 15:00 UTC (tests/fakes.SESSION_MOMENT); 19 June and 4 July are NYSE holidays.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from services.chart_generator import BackgroundChartGenerator, ChartStore
from services.ledger import Ledger
from services.models import Quote
from services.returns import NOT_ANNUALIZED
from tests.fakes import SESSION_MOMENT, CountingProvider

RETURN_KEYS = {"twr", "twr_annualized", "annualized_note", "xirr", "xirr_note", "mwr", "benchmark_twr", "benchmark",
               "total_return"}


def sessions(first: str, last: str) -> list[str]:
    """Weekdays from `first` to `last` without the two NYSE holidays in between."""
    days = pd.bdate_range(first, last)
    return [d.date().isoformat() for d in days if d.date() not in (dt.date(2025, 6, 19), dt.date(2025, 7, 4))]


class World:
    def __init__(self, settings, clock, frozen_time, cache, make_service):
        self.ledger = Ledger(settings.database_url)
        self.ledger.create_all()
        self.cache = cache
        self.provider = CountingProvider(clock)
        self.prices = make_service(self.provider, cache)
        self.charts = BackgroundChartGenerator(self.ledger, self.prices, clock, ChartStore(cache), now=frozen_time)

    def put(self, ticker: str, closes: dict[str, float], currency: str = "USD") -> None:
        """Closes from the first day given, and a quote taken just now (so nothing is due upstream)."""
        frame = pd.DataFrame({"close": list(closes.values()), "dividend": 0.0, "split": 1.0},
                             index=pd.DatetimeIndex(pd.to_datetime(list(closes)), name="date"))
        self.cache.put_bars(ticker, frame, dt.date.fromisoformat(next(iter(closes))))
        last = list(closes.values())
        self.cache.put_quote(Quote(ticker, last[-1], last[-2] if len(last) > 1 else None, currency,
                                   SESSION_MOMENT, SESSION_MOMENT))

    def portfolio(self, rows: list[str], base: str = "USD", benchmark: str | None = "BMK") -> int:
        pid = self.ledger.create_portfolio(f"P{len(self.ledger.list_portfolios())}", base).id
        self.ledger.import_csv(pid, "date,ticker,type,quantity,price,fees\n" + "\n".join(rows) + "\n")
        if benchmark is not None:
            self.ledger.set_benchmark(pid, benchmark)
        return pid

    def close(self) -> None:
        self.charts.shutdown()
        self.charts._executor.shutdown(wait=True)
        self.ledger.dispose()


@pytest.fixture
def world(settings, clock, frozen_time, price_cache, make_service):
    built = World(settings, clock, frozen_time, price_cache, make_service)
    yield built
    built.close()


# AAA: 80 on 2 June, 100 until 1 July, then the README's worked week (110, 99, 108.90, 119.79).
AAA = {"2025-06-02": 80.0, **dict.fromkeys(sessions("2025-06-03", "2025-07-01"), 100.0),
       "2025-07-02": 110.0, "2025-07-03": 99.0, "2025-07-07": 108.90, "2025-07-08": 119.79}
# The benchmark: 4000 on 2 June, 4500 until 6 June, 5000 from 9 June, 5250 today; no close on 2 July (its
# exchange shut that day, say): the line keeps 1 July's.
BMK = {"2025-06-02": 4000.0, **dict.fromkeys(sessions("2025-06-03", "2025-06-06"), 4500.0),
       **{d: 5000.0 for d in sessions("2025-06-09", "2025-07-07") if d != "2025-07-02"}, "2025-07-08": 5250.0}
LEDGER = ["2025-06-02,AAA,BUY,10,80,0",  # value 10 x 80 = 800, the MAX range's base
          "2025-07-03,AAA,BUY,10,110,0",  # in 1,100; value 20 x 99 = 1,980
          "2025-07-07,AAA,SELL,5,108.90,0"]  # out 5 x 108.90 = 544.50; value 15 x 108.90 = 1,633.50


def test_the_twr_line_is_the_chained_daily_formula_and_the_benchmark_its_price_ratio(world):
    world.put("AAA", AAA)
    world.put("BMK", BMK)
    pid = world.portfolio(LEDGER)
    entry = world.charts.generate(pid)
    assert world.provider.call_count == 0  # every number below comes from the stated prices

    # 1M starts on Monday 9 June (8 June is a Sunday). Until 1 July the value is 1,000 every day: 0. Then
    # r(2 Jul) = 1,100 / 1,000 - 1 = +10 %; r(3 Jul) = 1,980 / (1,100 + 1,100) - 1 = -10 %;
    # r(7 Jul) = (1,633.50 + 544.50) / 1,980 - 1 = +10 %; r(8 Jul) = 15 x 119.79 / 1,633.50 - 1 = +10 %.
    # Chained: 1.1 = 0.1; 1.1 x 0.9 = 0.99 -> -0.01; x 1.1 = 1.089 -> 0.089; x 1.1 = 1.1979 -> 0.1979.
    month = entry.ranges["1M"]
    assert month["dates"][0] == "2025-06-09" and month["dates"][-4:] == [
        "2025-07-02", "2025-07-03", "2025-07-07", "2025-07-08"]
    flat = len(month["dates"]) - 4
    assert month["twr"][:flat] == [0.0] * flat
    assert month["twr"][flat:] == pytest.approx([0.1, -0.01, 0.089, 0.1979], abs=1e-6)
    # The benchmark's own ratio from 9 June's 5,000: 0 until 7 July (2 July keeps 1 July's close), 5,250 / 5,000 - 1.
    assert month["benchmark"] == [0.0] * (len(month["dates"]) - 1) + [0.05]

    # MAX starts on 2 June at 800: 3 June is 1,000 / 800 - 1 = +25 %, then the same week: 1.25 x 1.1979 = 1.497375.
    full = entry.ranges["MAX"]
    assert full["dates"][0] == "2025-06-02"
    assert full["twr"][:2] == [0.0, 0.25]
    assert full["twr"][-1] == pytest.approx(0.497375, abs=1e-6)
    # Against 2 June's 4,000: 4,500 / 4,000 - 1 = 0.125 on 3 June; 5,250 / 4,000 - 1 = 0.3125 today.
    assert full["benchmark"][:2] == [0.0, 0.125] and full["benchmark"][-1] == 0.3125

    returns = entry.returns["1M"]
    assert set(returns) == RETURN_KEYS
    assert returns["twr"] == pytest.approx(0.1979, abs=1e-9)
    # Money made in the month: 1,796.85 - 1,000 (9 June's value, the base) + 544.50 out - 1,100 in = 241.35.
    assert returns["total_return"] == 241.35
    assert returns["benchmark_twr"] == pytest.approx(0.05, abs=1e-12) and returns["benchmark"] == "BMK"
    # A month is not annualized, and says so.
    assert (returns["twr_annualized"], returns["annualized_note"]) == (None, NOT_ANNUALIZED)
    # XIRR flows of the month: the value at its start put in (-1,000 on 9 June), -1,100 (3 July), +544.50
    # (7 July), the value at its end taken out (+1,796.85 on 8 July). The rate puts their NPV at 0.
    flows = [(dt.date(2025, 6, 9), -1000.0), (dt.date(2025, 7, 3), -1100.0), (dt.date(2025, 7, 7), 544.5),
             (dt.date(2025, 7, 8), 1796.85)]
    assert returns["xirr"] is not None and returns["xirr_note"] is None
    npv = sum(a / (1 + returns["xirr"]) ** ((d - flows[0][0]).days / 365) for d, a in flows)
    assert abs(npv) < 1e-6
    # Over the 29 days themselves: (1 + xirr) ^ (29 / 365) - 1.
    assert returns["mwr"] == pytest.approx((1 + returns["xirr"]) ** (29 / 365) - 1, rel=1e-12)
    assert entry.returns["MAX"]["twr"] == pytest.approx(0.497375, abs=1e-9)
    assert entry.returns["MAX"]["benchmark_twr"] == pytest.approx(0.3125, abs=1e-12)


def test_the_twr_does_not_depend_on_the_size_of_the_flows(world):
    # Buying 100 more on 3 July instead of 10 moves the value line, not a single day's return.
    world.put("AAA", AAA)
    world.put("BMK", BMK)
    small = world.charts.generate(world.portfolio(LEDGER))
    big = world.charts.generate(world.portfolio([LEDGER[0], "2025-07-03,AAA,BUY,100,110,0", LEDGER[2]]))
    assert big.ranges["1M"]["market_value"][-1] != small.ranges["1M"]["market_value"][-1]
    assert big.ranges["1M"]["twr"] == small.ranges["1M"]["twr"]


def test_without_benchmark_prices_the_line_and_its_return_are_null_and_the_chart_is_ready(world):
    world.put("AAA", AAA)
    # NOPE has no prices and the source knows no such symbol: nothing may be made up for it.
    world.provider.not_found = frozenset({"NOPE"})
    pid = world.portfolio(LEDGER, benchmark="NOPE")
    entry = world.charts.generate(pid)
    assert entry is not None and world.charts.store.get(pid) == entry
    month = entry.ranges["1M"]
    assert month["benchmark"] == [None] * len(month["dates"])
    assert month["twr"][-1] == pytest.approx(0.1979, abs=1e-6)  # the portfolio's own line is there
    assert entry.returns["1M"]["benchmark_twr"] is None and entry.returns["1M"]["benchmark"] == "NOPE"


def test_a_benchmark_younger_than_the_range_is_null_not_measured_from_a_later_day(world):
    world.put("AAA", AAA)
    world.put("BMK", {d: c for d, c in BMK.items() if d >= "2025-06-09"})  # no close before 9 June
    world.provider.not_found = frozenset({"BMK"})  # and the source has no earlier ones (it is asked for them)
    entry = world.charts.generate(world.portfolio(LEDGER))
    assert set(entry.ranges["MAX"]["benchmark"]) == {None} and entry.returns["MAX"]["benchmark_twr"] is None
    assert entry.ranges["1M"]["benchmark"][-1] == 0.05  # 1M starts on 9 June: its base is there


# EURUSD=X: 1 EUR in USD, so USD -> EUR is 1 / close: 1.25 -> 0.8 on 30 June, 1.0 -> 1.0 on 1-2 July,
# 1.6 -> 0.625 from 3 July.
EURUSD = {"2025-06-30": 1.25, "2025-07-01": 1.0, "2025-07-02": 1.0, "2025-07-03": 1.6, "2025-07-07": 1.6,
          "2025-07-08": 1.6}
USD_STOCK = {"2025-06-30": 100.0, "2025-07-01": 100.0, "2025-07-02": 110.0, "2025-07-03": 110.0,
             "2025-07-07": 110.0, "2025-07-08": 110.0}


def test_a_eur_portfolio_counts_each_flow_at_its_own_dates_rate(world):
    world.put("USDS", USD_STOCK)
    world.put("EURUSD=X", EURUSD)
    world.put("BMK", BMK)
    pid = world.portfolio(["2025-06-30,USDS,BUY,10,100,0",  # 1,000 USD x 0.8 = 800 EUR: the base
                           "2025-07-02,USDS,BUY,10,110,0",  # in 1,100 USD x 1.0 = 1,100 EUR
                           "2025-07-03,USDS,SELL,10,110,0"], base="EUR")  # out 1,100 USD x 0.625 = 687.50 EUR
    entry = world.charts.generate(pid)
    assert world.provider.call_count == 0
    full = entry.ranges["MAX"]
    # Values in EUR: 10 x 100 x 0.8 = 800; 10 x 100 x 1.0 = 1,000; 20 x 110 x 1.0 = 2,200; 10 x 110 x 0.625 = 687.50.
    assert full["dates"][:4] == ["2025-06-30", "2025-07-01", "2025-07-02", "2025-07-03"]
    assert full["market_value"][:4] == [800.0, 1000.0, 2200.0, 687.5]
    # r(1 Jul) = 1,000 / 800 - 1 = 0.25 (the dollar's rise alone); r(2 Jul) = 2,200 / (1,000 + 1,100) - 1;
    # r(3 Jul) = (687.50 + 687.50) / 2,200 - 1 = -0.375; then flat. Chained: 1.25 = 0.25;
    # 1.25 x 2,200 / 2,100 = 2,750 / 2,100 = 1.3095238095 -> 0.3095238095; x 0.625 = 0.8184523810 -> -0.1815476190.
    assert full["twr"] == pytest.approx([0.0, 0.25, 0.309524, -0.181548, -0.181548, -0.181548], abs=1e-6)
    assert entry.returns["MAX"]["twr"] == pytest.approx(1718.75 / 2100 - 1, abs=1e-12)
    # Had the 1,100 USD bought on 2 July been converted at today's 0.625 (687.50 EUR), 2 July would read
    # 2,200 / 1,687.50 - 1 = +30 %: the test above tells the two apart.


def test_the_array_path_equals_range_returns_on_every_tail():
    # The chart's per-range arrays (max_range + range_performance) against the reference range_returns on the
    # same value series, flows and closes, for every first day: the same measures, to float precision.
    from decimal import Decimal

    from services.models import Transaction
    from services.returns import ledger_flows, range_returns
    from services.returns_chart import max_range, range_performance

    days = pd.DatetimeIndex(pd.to_datetime(sessions("2025-06-02", "2025-07-08")))
    closes = pd.Series([100.0 + 3 * ((i * 7) % 5) - i * 0.4 for i in range(len(days))], index=days)
    values = pd.Series(closes.to_numpy() * 10, index=days)
    values.iloc[5] = float("nan")  # a day that cannot be valued
    bench = pd.Series([4000.0 + 25 * i for i in range(len(days))], index=days).drop(days[3])
    txns = [Transaction(days[8].date(), "AAA", "BUY", Decimal(2), Decimal("101.5"), Decimal(1)),
            Transaction(days[15].date(), "AAA", "SELL", Decimal(3), Decimal("97.25"), Decimal("0.5")),
            Transaction(days[20].date(), "AAA", "DIVIDEND", Decimal(9), Decimal("0.3"), Decimal("0.1"))]
    arrays = max_range(values, txns, bench)
    flows = ledger_flows(txns, days)
    for first in range(len(days) - 1):
        mine = range_performance(arrays, first, "BMK").returns
        tail = days[first:]
        reference = range_returns(values[tail], flows.inflows[tail], flows.outflows[tail], bench).to_json()
        assert mine.pop("benchmark") == "BMK"
        mine.pop("total_return")  # money, not a measure range_returns has: its own test below
        assert mine.keys() == reference.keys()
        for key, expected in reference.items():
            if isinstance(expected, float):
                assert mine[key] == pytest.approx(expected, rel=1e-12, abs=1e-12), (first, key)
            else:
                assert mine[key] == expected, (first, key)


def test_a_eur_holdings_own_twr_counts_its_flows_at_their_dates_rates(settings, clock):
    # The holding detail's figures.twr (services/returns_holding.py) on the same EUR ledger: the only holding, so
    # its own TWR is the portfolio's, -0.1815476190 (worked out above).
    from services.container import build_services
    from services.holding_detail import HoldingDetails

    services = build_services(settings.with_overrides(warmup_enabled=False), clock=clock,
                              provider=CountingProvider(clock, not_found=("USDS", "EURUSD=X", "BMK")))
    try:
        for ticker, closes in (("USDS", USD_STOCK), ("EURUSD=X", EURUSD), ("BMK", BMK)):
            frame = pd.DataFrame({"close": list(closes.values()), "dividend": 0.0, "split": 1.0},
                                 index=pd.DatetimeIndex(pd.to_datetime(list(closes)), name="date"))
            services.prices.cache.put_bars(ticker, frame, dt.date.fromisoformat(next(iter(closes))))
            last = list(closes.values())
            services.prices.cache.put_quote(Quote(ticker, last[-1], last[-2], "USD", SESSION_MOMENT, SESSION_MOMENT))
        pid = services.ledger.create_portfolio("Euro", "EUR").id
        services.ledger.import_csv(pid, "date,ticker,type,quantity,price\n2025-06-30,USDS,BUY,10,100\n"
                                        "2025-07-02,USDS,BUY,10,110\n2025-07-03,USDS,SELL,10,110\n")
        figures = HoldingDetails(services.dashboard).detail(pid, "USDS").figures
        assert figures.twr == pytest.approx(1718.75 / 2100 - 1, abs=1e-6)
    finally:
        services.close()


def test_a_ranges_total_return_is_the_money_it_made():
    # The README's worked week: bought 10 at 100 on Monday (the range's base: its value 1,000 at the close), 10
    # more for 1,100 on Wednesday, sold 5 for 544.50 on Thursday, 15 x 119.79 = 1,796.85 at Friday's close.
    # Money made = 1,796.85 - 1,000 + 544.50 - 1,100 = 241.35 (paid 2,100 in all, got back 544.50 and holds
    # 1,796.85: 2,341.35). From Wednesday on: 1,796.85 - 1,980 + 544.50 = 361.35 (Wednesday's buy is in its base).
    from services.returns_chart import MaxRange, range_performance

    days = pd.DatetimeIndex(pd.to_datetime(["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]))
    arrays = MaxRange(days, np.array([1000.0, 1100.0, 1980.0, 1633.5, 1796.85]),
                      np.array([0.0, 0.0, 1100.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 544.5, 0.0]),
                      np.full(5, np.nan))
    assert range_performance(arrays, 0, "BMK").returns["total_return"] == 241.35
    assert range_performance(arrays, 2, "BMK").returns["total_return"] == 361.35
    nothing = MaxRange(days[:2], np.array([np.nan, np.nan]), np.zeros(2), np.zeros(2), np.full(2, np.nan))
    assert range_performance(nothing, 0, "BMK").returns["total_return"] is None  # no valued day: unknown
