"""The return measures (services/returns.py, services/returns_flows.py), every expected value worked out by hand.

The ledger used throughout holds one ticker, AAA, over one week of stated closes (Mon 2025-03-03 .. Fri 03-07):

    day   close   ledger                                   value at the close
    Mon   100     BUY 10 @ 100                              10 x 100    = 1000
    Tue   110                                               10 x 110    = 1100
    Wed    99     BUY 10 @ 110 (the previous close: a       20 x 99     = 1980
                  deposit-like buy at the start of the day)
    Thu   108.9   SELL 5 @ 108.9                            15 x 108.9  = 1633.5
    Fri   119.79                                            15 x 119.79 = 1796.85
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.models import Transaction
from services.returns import (
    NOT_ANNUALIZED,
    Returns,
    annualized,
    benchmark_series,
    ledger_flows,
    range_cash_flows,
    range_returns,
    twr_series,
    xirr,
)
from services.value_series import value_series

D = dt.date
WEEK = pd.DatetimeIndex(["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"])
CLOSES = pd.DataFrame({"AAA": [100, 110, 99, 108.9, 119.79]}, index=WEEK)


def txn(day: dt.date, kind: str, quantity: str, price: str, fees: str = "0", ticker: str = "AAA") -> Transaction:
    return Transaction(day, ticker, kind, Decimal(quantity), Decimal(price), Decimal(fees))


def week_ledger(second_buy: str = "10") -> list[Transaction]:
    return [txn(D(2025, 3, 3), "BUY", "10", "100"), txn(D(2025, 3, 5), "BUY", second_buy, "110"),
            txn(D(2025, 3, 6), "SELL", "5", "108.9")]


def week_twr(ledger: list[Transaction], closes: pd.DataFrame = CLOSES) -> pd.Series:
    values = value_series(ledger, closes)["market_value"]
    flows = ledger_flows(ledger, values.index)
    return twr_series(values, flows.inflows, flows.outflows)


# --- flows ------------------------------------------------------------------------------------------------------


def test_ledger_flows_are_buys_with_fees_in_and_proceeds_after_fees_plus_net_dividends_out():
    ledger = [txn(D(2025, 3, 3), "BUY", "10", "100", fees="2"),        # in  10 x 100 + 2 = 1002
              txn(D(2025, 3, 4), "DIVIDEND", "10", "1.5", fees="2.25"),  # out 10 x 1.5 - 2.25 = 12.75
              txn(D(2025, 3, 5), "SPLIT", "2", "0"),                    # no money
              txn(D(2025, 3, 6), "SELL", "4", "60", fees="1"),          # out 4 x 60 - 1 = 239
              txn(D(2025, 3, 6), "BUY", "1", "50")]                     # in  1 x 50 = 50, same day
    flows = ledger_flows(ledger, WEEK)
    assert flows.inflows.tolist() == [1002.0, 0.0, 0.0, 50.0, 0.0]
    assert flows.outflows.tolist() == [0.0, 12.75, 0.0, 239.0, 0.0]
    assert list(flows.inflows.index) == list(WEEK)


def test_a_trade_on_a_day_off_the_grid_counts_on_the_next_grid_day_and_outside_the_grid_not_at_all():
    grid = pd.DatetimeIndex(["2025-03-07", "2025-03-10", "2025-03-11"])  # Fri, Mon, Tue
    ledger = [txn(D(2025, 3, 6), "BUY", "1", "5"),     # before the first day: already in its value
              txn(D(2025, 3, 8), "BUY", "2", "10"),    # Saturday -> Monday: 20
              txn(D(2025, 3, 9), "SELL", "1", "10"),   # Sunday -> Monday: 10
              txn(D(2025, 3, 12), "SELL", "1", "10")]  # after the last day
    flows = ledger_flows(ledger, grid)
    assert flows.inflows.tolist() == [0.0, 20.0, 0.0]
    assert flows.outflows.tolist() == [0.0, 10.0, 0.0]


def test_ledger_flows_refuse_an_unordered_grid_and_an_unknown_type():
    with pytest.raises(ValueError, match="not strictly increasing at 2025-03-04"):
        ledger_flows([], pd.DatetimeIndex(["2025-03-05", "2025-03-04"]))
    with pytest.raises(ValueError, match="'GIFT'"):
        ledger_flows([txn(D(2025, 3, 3), "GIFT", "1", "1")], WEEK)


# --- TWR --------------------------------------------------------------------------------------------------------


def test_twr_chains_the_daily_formula_over_a_mid_range_buy_and_a_sale():
    # r_t = (V_t + out_t) / (V_{t-1} + in_t) - 1:
    #   Tue: 1100 / 1000 - 1 = 0.10
    #   Wed: 1980 / (1100 + 1100) - 1 = -0.10                (in = 10 x 110)
    #   Thu: (1633.5 + 544.5) / 1980 - 1 = 2178 / 1980 - 1 = 0.10   (out = 5 x 108.9)
    #   Fri: 1796.85 / 1633.5 - 1 = 0.10
    # cumulative: 0; 1.1 - 1 = 0.1; 1.1 x 0.9 - 1 = -0.01; 0.99 x 1.1 - 1 = 0.089; 1.089 x 1.1 - 1 = 0.1979
    twr = week_twr(week_ledger())
    assert twr.to_numpy() == pytest.approx([0.0, 0.1, -0.01, 0.089, 0.1979], abs=1e-12)
    # Every trade was at a close, so the TWR is AAA's own price return: 119.79 / 100 - 1 = 0.1979.
    assert twr.iloc[-1] == pytest.approx(119.79 / 100 - 1, abs=1e-12)


def test_twr_is_the_product_of_its_sub_period_returns():
    # Mon..Wed: 1.1 x 0.9 - 1 = -0.01; Wed..Fri (Wed is the base, its buy inside its value): 1.1 x 1.1 - 1 = 0.21.
    # (1 - 0.01) x (1 + 0.21) - 1 = 0.99 x 1.21 - 1 = 0.1979, the whole week's.
    ledger = week_ledger()
    values = value_series(ledger, CLOSES)["market_value"]
    first, second = values.iloc[:3], values.iloc[2:]
    flows_first, flows_second = ledger_flows(ledger, first.index), ledger_flows(ledger, second.index)
    a = twr_series(first, flows_first.inflows, flows_first.outflows).iloc[-1]
    b = twr_series(second, flows_second.inflows, flows_second.outflows).iloc[-1]
    assert a == pytest.approx(-0.01, abs=1e-12)
    assert b == pytest.approx(0.21, abs=1e-12)
    assert (1 + a) * (1 + b) - 1 == pytest.approx(week_twr(ledger).iloc[-1], abs=1e-12)


def test_twr_does_not_depend_on_the_size_of_the_flows():
    # The Wednesday buy x10 (100 shares, in = 11,000): Wed 110 x 99 = 10890 / (1100 + 11000) - 1 = -0.10;
    # Thu (105 x 108.9 + 544.5) / 10890 - 1 = (11434.5 + 544.5) / 10890 - 1 = 0.10; Fri 0.10: still 0.1979.
    small, large = week_twr(week_ledger("10")), week_twr(week_ledger("100"))
    assert large.to_numpy() == pytest.approx(small.to_numpy(), abs=1e-12)
    assert large.iloc[-1] == pytest.approx(0.1979, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 1000), st.integers(0, 50), st.integers(0, 50)), min_size=2, max_size=30))
def test_trades_at_the_prices_of_their_moment_leave_the_twr_at_the_price_ratio(days):
    # One stock, at least 1 share always held: buying b_t at the previous close (the start of the day) and selling
    # q_t at the close makes each day (s_t P_t + q_t P_t) / (s_{t-1} P_{t-1} + b_t P_{t-1}) - 1 = P_t / P_{t-1} - 1
    # (s_t + q_t = s_{t-1} + b_t), so the TWR is P_last / P_first - 1 whatever was bought and sold.
    prices = [price for price, _, _ in days]
    held, values, inflows, outflows = 1, [prices[0]], [0.0], [0.0]
    for t in range(1, len(days)):
        _, bought, sold = days[t]
        sold = min(sold, held + bought - 1)
        held += bought - sold
        values.append(held * prices[t])
        inflows.append(bought * prices[t - 1])
        outflows.append(sold * prices[t])
    index = pd.bdate_range("2025-01-01", periods=len(days))
    twr = twr_series(pd.Series(values, index=index), pd.Series(inflows, index=index), pd.Series(outflows, index=index))
    assert twr.iloc[-1] == pytest.approx(prices[-1] / prices[0] - 1, rel=1e-9, abs=1e-9)
    assert (twr >= -1).all()


def test_a_dividend_after_withholding_is_return_and_a_weekend_buy_enters_mondays_return():
    grid = pd.DatetimeIndex(["2025-03-07", "2025-03-10"])  # Fri, Mon
    closes = pd.DataFrame({"AAA": [100.0, 100.0]}, index=grid)
    ledger = [txn(D(2025, 3, 7), "BUY", "10", "100"),
              txn(D(2025, 3, 8), "BUY", "10", "100"),                  # Saturday: in on Monday, 1000
              txn(D(2025, 3, 10), "DIVIDEND", "20", "1", fees="0.3")]  # out 20 x 1 - 0.3 = 19.7
    # Mon: (20 x 100 + 19.7) / (1000 + 1000) - 1 = 2019.7 / 2000 - 1 = 0.00985
    assert week_twr(ledger, closes).tolist() == pytest.approx([0.0, 0.00985], abs=1e-12)


def test_nothing_held_is_a_flat_line_and_the_chain_carries_on():
    days = WEEK[:4]
    # Nothing until Wed's 1000 in; Thu 1100: Tue 0 (0 / 0), Wed 1000 / (0 + 1000) - 1 = 0, Thu 0.10.
    values = pd.Series([0.0, 0.0, 1000.0, 1100.0], index=days)
    inflows = pd.Series([1000.0], index=days[2:3])
    assert twr_series(values, inflows).tolist() == pytest.approx([0.0, 0.0, 0.0, 0.1], abs=1e-12)
    # All sold on Tue for 1050 (1050 / 1000 - 1 = 0.05), then nothing held: flat at 0.05; a late dividend of 3
    # on Thu has no base (0 + 0) and is left out.
    values = pd.Series([1000.0, 0.0, 0.0, 0.0], index=days)
    outflows = pd.Series([1050.0, 3.0], index=days[[1, 3]])
    assert twr_series(values, outflows=outflows).tolist() == pytest.approx([0.0, 0.05, 0.05, 0.05], abs=1e-12)


def test_a_gap_is_nan_and_the_next_valued_day_chains_from_the_last_one_with_the_gaps_flows():
    days = WEEK[:3]
    # Tue not valued; Wed from Mon: 1210 / 1000 - 1 = 0.21.
    values = pd.Series([1000.0, np.nan, 1210.0], index=days)
    twr = twr_series(values)
    assert twr.iloc[0] == 0.0 and np.isnan(twr.iloc[1]) and twr.iloc[2] == pytest.approx(0.21, abs=1e-12)
    # With 1000 in on Tue (in the gap): Wed (2310) / (1000 + 1000) - 1 = 0.155.
    values = pd.Series([1000.0, np.nan, 2310.0], index=days)
    inflows = pd.Series([1000.0], index=days[1:2])
    assert twr_series(values, inflows).iloc[2] == pytest.approx(0.155, abs=1e-12)
    # A two-day gap with 500 and 300 in, then 100 out on Thu: Thu (2000 + 100) / (1000 + 500 + 300) = 7/6;
    # Fri 2200 / 2000 = 1.1; cumulative 7/6 x 1.1 - 1 = 7.7/6 - 1 = 1.7/6.
    values = pd.Series([1000.0, np.nan, np.nan, 2000.0, 2200.0], index=WEEK)
    inflows = pd.Series([500.0, 300.0], index=WEEK[1:3])
    outflows = pd.Series([100.0], index=WEEK[3:4])
    twr = twr_series(values, inflows, outflows)
    assert twr.iloc[3:].tolist() == pytest.approx([7 / 6 - 1, 1.7 / 6], abs=1e-12)


def test_twr_never_goes_below_minus_100_percent():
    # Everything sold for less than its fees (out = -5): (0 - 5) / 1000 - 1 = -1.005, held at -1; stays -1.
    values = pd.Series([1000.0, 0.0, 500.0], index=WEEK[:3])
    inflows = pd.Series([500.0], index=WEEK[2:3])
    outflows = pd.Series([-5.0], index=WEEK[1:2])
    assert twr_series(values, inflows, outflows).tolist() == [0.0, -1.0, -1.0]


def test_twr_refuses_flows_off_the_value_days_and_negative_values():
    values = pd.Series([1000.0, 1100.0], index=WEEK[:2])
    with pytest.raises(ValueError, match="inflows: 2025-03-08 is not a day of the values"):
        twr_series(values, pd.Series([5.0], index=pd.DatetimeIndex(["2025-03-08"])))
    with pytest.raises(ValueError, match=r"values: -1.0 on 2025-03-04"):
        twr_series(pd.Series([1000.0, -1.0], index=WEEK[:2]))
    with pytest.raises(ValueError, match="outflows: not a finite number on 2025-03-04"):
        twr_series(values, outflows=pd.Series([np.nan], index=WEEK[1:2]))


# --- XIRR -------------------------------------------------------------------------------------------------------


def test_xirr_closed_form_one_buy_one_value_a_year_later():
    # 2021 is no leap year: 365 days, so -1000 + 1100 / (1 + r) = 0 -> r = 1100 / 1000 - 1 = 0.10.
    result = xirr([(D(2021, 1, 1), -1000.0), (D(2022, 1, 1), 1100.0)])
    assert result.rate == pytest.approx(0.10, abs=1e-9)
    assert result.reason is None
    # Timestamps (a value series' index) are read as their days: the same answer.
    stamped = xirr([(pd.Timestamp("2021-01-01"), -1000.0), (pd.Timestamp("2022-01-01"), 1100.0)])
    assert stamped.rate == pytest.approx(0.10, abs=1e-9)


def npv(rate: float, flows: list[tuple[dt.date, float]]) -> float:
    """sum(a / (1 + r) ^ (days since the first / 365)), written out here, not pyxirr's."""
    start = flows[0][0]
    return sum(a / (1 + rate) ** ((d - start).days / 365) for d, a in flows)


def test_xirr_of_several_flows_puts_the_npv_at_zero():
    flows = [(D(2021, 1, 1), -1000.0), (D(2021, 4, 1), -500.0), (D(2021, 9, 15), 200.0), (D(2022, 3, 1), 1450.0)]
    rate = xirr(flows).rate
    assert rate is not None
    assert abs(npv(rate, flows)) < 1e-6
    # Put in 1500, got 1650 back (+10 %) over about a year: the rate lies between 0 and 0.2 (npv(0) = +150 > 0).
    assert 0 < rate < 0.2


def test_xirr_without_a_solution_is_none_with_a_reason():
    assert xirr([(D(2021, 1, 1), -1000.0), (D(2022, 1, 1), -100.0)]).rate is None
    assert xirr([(D(2021, 1, 1), -1000.0), (D(2022, 1, 1), -100.0)]).reason == "no sign change"
    assert xirr([(D(2021, 1, 1), 0.0)]).reason == "no flows"
    # A return of almost -100 % (1000 in, a billionth out): no rate the search reaches; None, not -1 or NaN.
    result = xirr([(D(2021, 1, 1), -1000.0), (D(2022, 1, 1), 1e-9)])
    assert (result.rate, result.reason) == (None, "did not converge")
    with pytest.raises(ValueError, match="not a finite number"):
        xirr([(D(2021, 1, 1), float("nan"))])


def test_range_cash_flows_and_their_xirr_for_the_week():
    # Mon's value in (-1000; its buy is inside it), Wed's buy in (-1100), Thu's sale out (+544.5), Fri's value out.
    ledger = week_ledger()
    values = value_series(ledger, CLOSES)["market_value"]
    flows = ledger_flows(ledger, values.index)
    cash = range_cash_flows(values, flows.inflows, flows.outflows)
    assert cash == [(D(2025, 3, 3), -1000.0), (D(2025, 3, 5), -1100.0), (D(2025, 3, 6), 544.5),
                    (D(2025, 3, 7), 1796.85)]
    rate = xirr(cash).rate
    assert rate is not None and abs(npv(rate, cash)) < 1e-6


# --- annualization, benchmark, the range -------------------------------------------------------------------------


def test_annualized_only_for_a_year_or_more():
    # Two years: 1.21 ^ (365 / 730) - 1 = sqrt(1.21) - 1 = 0.10; one year: itself.
    assert annualized(0.21, 730).value == pytest.approx(0.10, abs=1e-12)
    assert annualized(0.10, 365).value == pytest.approx(0.10, abs=1e-12)
    short = annualized(0.10, 364)
    assert (short.value, short.note) == (None, NOT_ANNUALIZED)
    assert short.note == "not annualized: range shorter than a year"
    assert annualized(None, 800).value is None


def test_benchmark_series_is_the_benchmarks_own_price_ratio():
    # 4000 -> 4200: 4200 / 4000 - 1 = 0.05; Wed no close: keeps 0.05; Thu 3800 / 4000 - 1 = -0.05.
    closes = pd.Series([4000.0, 4200.0, np.nan, 3800.0], index=WEEK[:4])
    line = benchmark_series(closes)
    assert line.tolist() == pytest.approx([0.0, 0.05, 0.05, -0.05], abs=1e-12)
    known = closes.dropna()
    assert line[known.index].to_numpy() == pytest.approx((known / known.iloc[0] - 1).to_numpy(), abs=1e-12)
    with pytest.raises(ValueError, match="not positive"):
        benchmark_series(pd.Series([4000.0, 0.0], index=WEEK[:2]))


def test_range_returns_of_the_week_with_a_benchmark():
    ledger = week_ledger()
    values = value_series(ledger, CLOSES)["market_value"]
    flows = ledger_flows(ledger, values.index)
    # Benchmark closes from the Friday before (3900) and without Monday's: Mon keeps 3900 as the base; Fri
    # 4095 / 3900 - 1 = 0.05.
    bench = pd.Series([3900.0, 3950.0, 4095.0], index=pd.DatetimeIndex(["2025-02-28", "2025-03-04", "2025-03-07"]))
    result = range_returns(values, flows.inflows, flows.outflows, bench)
    assert isinstance(result, Returns)
    assert result.twr == pytest.approx(0.1979, abs=1e-12)
    assert (result.twr_annualized, result.annualized_note) == (None, NOT_ANNUALIZED)  # 4 days
    assert result.xirr is not None and result.xirr_note is None
    # Over 4 days the annual rate is a wild extrapolation (> 1000 x); the range's own money-weighted return is
    # (1 + xirr) ^ (4 / 365) - 1, and it is the rate m at which the flows balance over the range's 4 days:
    # -1000 (1 + m) ^ (4/4) - 1100 (1 + m) ^ (2/4) + 544.5 (1 + m) ^ (1/4) + 1796.85 = 0 (valued at Friday).
    assert result.xirr > 1000
    m = result.mwr
    assert abs(-1000 * (1 + m) - 1100 * (1 + m) ** 0.5 + 544.5 * (1 + m) ** 0.25 + 1796.85) < 1e-6
    assert result.benchmark_twr == pytest.approx(0.05, abs=1e-12)
    assert set(result.to_json()) == {"twr", "twr_annualized", "annualized_note", "xirr", "xirr_note", "mwr",
                                     "benchmark_twr"}


def test_range_returns_over_two_years_are_annualized():
    # 1000 on 2021-01-01 grows to 1210 on 2023-01-01 (730 days, no flows between): TWR 0.21, annualized
    # sqrt(1.21) - 1 = 0.10; XIRR: -1000 + 1210 / (1 + r) ^ 2 = 0 -> r = 0.10; over the range 0.21 again.
    values = pd.Series([1000.0, 1100.0, 1210.0], index=pd.DatetimeIndex(["2021-01-01", "2022-01-03", "2023-01-01"]))
    result = range_returns(values)
    assert result.twr == pytest.approx(0.21, abs=1e-12)
    assert (result.twr_annualized, result.annualized_note) == (pytest.approx(0.10, abs=1e-12), None)
    assert result.xirr == pytest.approx(0.10, abs=1e-9)
    assert result.mwr == pytest.approx(0.21, abs=1e-9)


def test_range_returns_of_nothing_are_all_none_with_reasons():
    empty = pd.Series([], index=pd.DatetimeIndex([]), dtype=float)
    result = range_returns(empty)
    assert result == Returns(None, None, "no return for the range", None, "no flows", None, None)
