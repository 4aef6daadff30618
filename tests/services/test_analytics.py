"""Tests for services/analytics.py. Expected numbers are worked out by hand in the comments beside them."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.analytics import (
    RANGES,
    Oversell,
    OversellError,
    Position,
    allocation,
    holdings_rows,
    oversells,
    range_start,
    replay,
    summary,
    value_series,
)
from services.models import PriceInfo, Transaction

D = Decimal
UTC = dt.UTC


def tx(day: str, ticker: str, kind: str, quantity, price="0", fees="0") -> Transaction:
    when = dt.date.fromisoformat(day)
    return Transaction(when, ticker, kind, D(str(quantity)), D(str(price)), D(str(fees)))


AS_OF = dt.datetime(2024, 5, 1, 20, 0, tzinfo=UTC)


def quote(ticker: str, price, previous_close, status="fresh", as_of=AS_OF) -> PriceInfo:
    return PriceInfo(ticker, price, previous_close, as_of, as_of, status)


# --- replay -------------------------------------------------------------------------------------------------


def test_buy_fees_add_to_cost_basis():
    pos = replay([tx("2024-01-02", "AAA", "BUY", 10, 100, 5)])["AAA"]
    assert pos.quantity == D(10)
    assert pos.cost_basis == D("1005")  # 10*100 + 5 fee = 1005
    assert pos.avg_cost == D("100.5")  # 1005 / 10
    assert pos.realized_gain == 0 and pos.dividends == 0
    assert pos.first_date == dt.date(2024, 1, 2) and pos.is_open


def test_partial_sell_uses_average_cost_of_several_buys_and_sell_fees_reduce_proceeds():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 10, 100),  # cost 1000
        tx("2024-01-03", "AAA", "BUY", 30, 120, 4),  # cost 3600 + 4 = 3604; total 4604 for 40 -> avg 115.1
        tx("2024-01-04", "AAA", "SELL", 10, 130, 2),  # proceeds 1300 - 2 = 1298; released 10*115.1 = 1151
    ]
    pos = replay(ledger)["AAA"]
    assert pos.realized_gain == D("147")  # 1298 - 1151
    assert pos.quantity == D(30)  # 40 - 10
    assert pos.cost_basis == D("3453")  # 4604 - 1151
    assert pos.avg_cost == D("115.1")  # unchanged by a sell: 3453 / 30


def test_dividends_add_cash_and_leave_cost_and_quantity_alone():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 30, 10),  # cost 300
        tx("2024-02-01", "AAA", "DIVIDEND", 30, "0.25"),  # 30 shares * 0.25 = 7.50
        tx("2024-05-01", "AAA", "DIVIDEND", 30, "0.3"),  # 30 * 0.3 = 9.00 -> total 16.50
    ]
    pos = replay(ledger)["AAA"]
    assert pos.dividends == D("16.5")
    assert (pos.quantity, pos.cost_basis) == (D(30), D(300))


@pytest.mark.parametrize(
    ("ratio", "quantity", "avg_cost"),
    [
        ("2", D(20), D(50)),  # 2-for-1: 10 -> 20 shares, 1000 / 20 = 50 (halves)
        ("0.5", D(5), D(200)),  # 1-for-2: 10 -> 5 shares, 1000 / 5 = 200 (doubles)
    ],
)
def test_split_multiplies_quantity_and_keeps_cost_basis(ratio, quantity, avg_cost):
    ledger = [tx("2024-01-02", "AAA", "BUY", 10, 100), tx("2024-06-03", "AAA", "SPLIT", ratio)]
    pos = replay(ledger)["AAA"]
    assert pos.quantity == quantity
    assert pos.cost_basis == D(1000)  # 10*100, untouched by the split
    assert pos.avg_cost == avg_cost


def test_closed_position_keeps_realized_gain_and_reopens_fresh():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 10, 50, 1),  # cost 10*50 + 1 = 501
        tx("2024-02-01", "AAA", "SELL", 10, 60, 1),  # proceeds 600 - 1 = 599; gain 599 - 501 = 98
    ]
    closed = replay(ledger)["AAA"]
    assert closed.quantity == 0 and closed.cost_basis == 0 and not closed.is_open
    assert closed.avg_cost is None
    assert closed.realized_gain == D(98)

    reopened = replay([*ledger, tx("2024-03-01", "AAA", "BUY", 5, 70)])["AAA"]  # 5*70 = 350
    assert (reopened.quantity, reopened.cost_basis, reopened.avg_cost) == (D(5), D(350), D(70))
    assert reopened.realized_gain == D(98)  # kept from the first round
    assert reopened.first_date == dt.date(2024, 1, 2)  # first transaction ever


def test_same_day_transactions_keep_input_order():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 10, 10),  # cost 100
        tx("2024-01-02", "AAA", "SELL", 10, 12),  # 120 - 100 = 20 gain, closes
        tx("2024-01-02", "AAA", "BUY", 10, 20),  # fresh: cost 200
    ]
    pos = replay(ledger)["AAA"]
    assert pos.realized_gain == D(20)
    assert (pos.quantity, pos.cost_basis) == (D(10), D(200))  # had the buys come first: avg 15, gain -30


def test_transactions_are_applied_in_date_order_not_input_order():
    ledger = [
        tx("2024-01-05", "AAA", "SELL", 5, 30),  # applied second: 5*30 - 5*20 = 50 gain
        tx("2024-01-02", "AAA", "BUY", 10, 20),  # applied first: cost 200
    ]
    pos = replay(ledger)["AAA"]
    assert pos.realized_gain == D(50)
    assert (pos.quantity, pos.cost_basis) == (D(5), D(100))  # 200 - 100 released
    assert pos.first_date == dt.date(2024, 1, 2)


def test_replay_returns_every_ticker_ever_traded():
    ledger = [
        tx("2024-01-02", "BBB", "BUY", 1, 10),
        tx("2024-01-02", "AAA", "BUY", 1, 10),
        tx("2024-01-03", "AAA", "SELL", 1, 10),
    ]
    assert sorted(replay(ledger)) == ["AAA", "BBB"]


def test_unknown_transaction_type_is_an_error():
    with pytest.raises(ValueError, match="FOO"):
        replay([tx("2024-01-02", "AAA", "FOO", 1, 1)])


# --- oversells ----------------------------------------------------------------------------------------------


def test_oversells_names_each_offending_sell_by_input_index():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 10, 100),
        tx("2024-01-03", "AAA", "SELL", 15, 100),  # holds 10
        tx("2024-01-04", "AAA", "SELL", 10, 100),  # fine: the oversell above is not applied
        tx("2024-01-05", "BBB", "SELL", 1, 100),  # never held
    ]
    assert oversells(ledger) == [
        Oversell(1, "AAA", dt.date(2024, 1, 3), D(10), D(15)),
        Oversell(3, "BBB", dt.date(2024, 1, 5), D(0), D(1)),
    ]


def test_oversell_from_same_date_ordering():
    ledger = [
        tx("2024-01-02", "AAA", "SELL", 5, 100),  # listed first, so applied before the buy of the same day
        tx("2024-01-02", "AAA", "BUY", 5, 100),
    ]
    assert oversells(ledger) == [Oversell(0, "AAA", dt.date(2024, 1, 2), D(0), D(5))]
    assert oversells(ledger[::-1]) == []


def test_oversell_index_is_input_position_when_dates_are_unsorted():
    ledger = [
        tx("2024-03-01", "AAA", "BUY", 10, 100),
        tx("2024-02-01", "AAA", "SELL", 1, 100),  # earlier than the buy
    ]
    assert oversells(ledger) == [Oversell(1, "AAA", dt.date(2024, 2, 1), D(0), D(1))]


def test_selling_everything_held_after_a_split_is_not_an_oversell():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 3, 90),
        tx("2024-01-03", "AAA", "SPLIT", "0.5"),  # 1.5 shares
        tx("2024-01-04", "AAA", "SELL", "1.5", 200),  # 300 - 270 = 30 gain
    ]
    assert oversells(ledger) == []
    assert replay(ledger)["AAA"].realized_gain == D(30)


def test_replay_skips_an_oversold_sell_unless_strict():
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 10, 100),  # cost 1000
        tx("2024-01-03", "AAA", "SELL", 11, 120),  # oversold: skipped
        tx("2024-01-04", "AAA", "SELL", 4, 110),  # 440 - 4*100 = 40 gain
        tx("2024-01-05", "BBB", "SELL", 2, 100),  # oversold, never held: no position
    ]
    positions = replay(ledger)
    assert positions == replay([ledger[0], ledger[2]])
    assert positions["AAA"].realized_gain == D(40) and positions["AAA"].quantity == D(6)
    with pytest.raises(OversellError) as caught:
        replay(ledger, strict=True)
    assert [o.index for o in caught.value.oversells] == [1, 3]
    with pytest.raises(OversellError):
        value_series(ledger, pd.DataFrame(), strict=True)
    closes = pd.DataFrame({"AAA": [100.0]}, index=[dt.date(2024, 1, 5)])  # date labels are accepted too
    assert value_series(ledger, closes)["market_value"].tolist() == [600.0]  # 6 * 100


# --- holdings table and summary -----------------------------------------------------------------------------


def _positions() -> dict[str, Position]:
    day = dt.date(2024, 1, 2)
    return {
        "AAA": Position("AAA", D(10), D(1005), D(0), D(0), day),
        "BBB": Position("BBB", D(20), D(1000), D(0), D("12.5"), day),
        "CCC": Position("CCC", D(5), D(350), D(0), D(0), day),
        "ZZZ": Position("ZZZ", D(0), D(0), D(98), D(3), day),  # closed
    }


PRICES = {
    "AAA": quote("AAA", 110.0, 100.0, "fresh"),
    "BBB": quote("BBB", 60.0, 62.0, "market_closed"),
    # CCC: no quote at all
}

HOLDINGS_KEYS = {
    "ticker", "quantity", "avg_cost", "cost_basis", "price", "market_value", "unrealized_gain",
    "unrealized_gain_pct", "day_change", "day_change_pct", "weight", "price_as_of", "price_status",
}


def test_holdings_rows_with_a_missing_price():
    rows = holdings_rows(_positions(), PRICES)
    assert [r["ticker"] for r in rows] == ["BBB", "AAA", "CCC"]  # MV 1200, 1100, unpriced last; ZZZ closed
    assert all(set(r) == HOLDINGS_KEYS for r in rows)
    assert rows[0] == {
        "ticker": "BBB",
        "quantity": 20.0,
        "avg_cost": 50.0,  # 1000 / 20
        "cost_basis": 1000.0,
        "price": 60.0,
        "market_value": 1200.0,  # 20 * 60
        "unrealized_gain": 200.0,  # 1200 - 1000
        "unrealized_gain_pct": 0.2,  # 200 / 1000
        "day_change": -40.0,  # 20 * (60 - 62)
        "day_change_pct": -0.032258,  # -40 / (20*62 = 1240) = -0.0322580...
        "weight": 0.521739,  # 1200 / (1200 + 1100) = 0.5217391...
        "price_as_of": "2024-05-01T20:00:00+00:00",
        "price_status": "market_closed",
    }
    aaa = rows[1]
    assert aaa["market_value"] == 1100.0  # 10 * 110
    assert aaa["unrealized_gain"] == 95.0  # 1100 - 1005
    assert aaa["unrealized_gain_pct"] == 0.094527  # 95 / 1005 = 0.0945273...
    assert aaa["day_change"] == 100.0  # 10 * (110 - 100)
    assert aaa["day_change_pct"] == 0.1  # 100 / (10*100)
    assert aaa["weight"] == 0.478261  # 1100 / 2300 = 0.4782608...
    assert rows[2] == {
        "ticker": "CCC", "quantity": 5.0, "avg_cost": 70.0, "cost_basis": 350.0,  # 350 / 5 = 70
        "price": None, "market_value": None, "unrealized_gain": None, "unrealized_gain_pct": None,
        "day_change": None, "day_change_pct": None, "weight": None, "price_as_of": None,
        "price_status": "missing",
    }


def test_holdings_row_with_a_quote_that_has_no_price_or_no_previous_close():
    prices = {
        "AAA": quote("AAA", None, 100.0, "missing", as_of=None),
        "BBB": quote("BBB", 60.0, None, "stale"),
    }
    rows = {r["ticker"]: r for r in holdings_rows(_positions(), prices)}
    assert rows["AAA"]["market_value"] is None and rows["AAA"]["price_status"] == "missing"
    assert rows["AAA"]["day_change"] is None
    assert rows["BBB"]["market_value"] == 1200.0 and rows["BBB"]["weight"] == 1.0  # the only priced one
    assert rows["BBB"]["day_change"] is None and rows["BBB"]["day_change_pct"] is None
    assert rows["BBB"]["price_status"] == "stale"


def test_summary_counts_missing_prices_honestly():
    assert summary(_positions(), PRICES) == {
        "market_value": 2300.0,  # 1200 + 1100; CCC unpriced
        "cost_basis": 2355.0,  # 1005 + 1000 + 350: every open holding
        "unrealized_gain": 295.0,  # 2300 - (1005 + 1000): priced holdings only
        "unrealized_gain_pct": 0.147132,  # 295 / 2005 = 0.1471321...
        "day_change": 60.0,  # 100 - 40
        "day_change_pct": 0.026786,  # 60 / (1000 + 1240) = 0.0267857...
        "realized_gain": 98.0,  # closed ZZZ counts
        "dividends": 15.5,  # 12.5 + 3
        "holdings_count": 3,
    }


def test_summary_with_nothing_priced_is_unknown_not_zero():
    result = summary(_positions(), {})
    assert result["market_value"] is None and result["unrealized_gain"] is None
    assert result["unrealized_gain_pct"] is None
    assert result["day_change"] is None and result["day_change_pct"] is None
    assert result["cost_basis"] == 2355.0 and result["holdings_count"] == 3


def test_summary_of_an_empty_portfolio_is_zero():
    result = summary({}, {})
    assert result["market_value"] == 0.0 and result["cost_basis"] == 0.0
    assert result["unrealized_gain"] == 0.0 and result["unrealized_gain_pct"] is None
    assert result["day_change"] == 0.0 and result["day_change_pct"] is None
    assert result["holdings_count"] == 0


def test_money_is_rounded_to_cents_half_up():
    positions = {"AAA": Position("AAA", D(3), D("10"), D(0), D(0), dt.date(2024, 1, 2))}
    row = holdings_rows(positions, {"AAA": quote("AAA", 3.335, 3.0)})[0]
    assert row["market_value"] == 10.01  # 3 * 3.335 = 10.005 -> 10.01 half up (3.335 read as printed)
    assert row["avg_cost"] == 3.333333  # 10 / 3


# --- allocation ---------------------------------------------------------------------------------------------


def test_allocation_from_holdings_rows_skips_unpriced_and_sums_to_one():
    result = allocation(holdings_rows(_positions(), PRICES))
    assert result == [{"ticker": "BBB", "weight": 0.521739}, {"ticker": "AAA", "weight": 0.478261}]
    assert sum(a["weight"] for a in result) == pytest.approx(1.0, abs=1e-12)


def test_allocation_gives_the_rounding_residue_to_the_largest():
    rows = [{"ticker": t, "market_value": 100.0} for t in ("C", "A", "B")] + [
        {"ticker": "D", "market_value": None}
    ]
    assert allocation(rows) == [  # 1/3 each = 0.333333 x 3 = 0.999999; the residue 0.000001 goes to A
        {"ticker": "A", "weight": 0.333334},
        {"ticker": "B", "weight": 0.333333},
        {"ticker": "C", "weight": 0.333333},
    ]
    assert allocation([{"ticker": "D", "market_value": None}]) == []
    assert allocation([]) == []


# --- value over time ----------------------------------------------------------------------------------------


def _closes() -> pd.DataFrame:
    days = pd.to_datetime(["2023-12-29", *(f"2024-01-0{d}" for d in (2, 3, 4, 5, 8))])
    return pd.DataFrame(
        {
            "AAA": [99.0, 100.0, 102.0, np.nan, 52.0, 53.0],  # 01-04: AAA's exchange closed; 2:1 on 01-05
            "BBB": [np.nan, np.nan, 20.0, 21.0, 22.0, 23.0],  # no close known before 01-03
        },
        index=days,
    )


VALUE_LEDGER = [
    tx("2024-01-02", "AAA", "BUY", 10, 100, 5),  # AAA cost 1005
    tx("2024-01-02", "BBB", "BUY", 50, 19),  # BBB cost 950
    tx("2024-01-04", "BBB", "SELL", 25, 21),  # releases 950/2 = 475 -> BBB cost 475, 25 shares
    tx("2024-01-05", "AAA", "SPLIT", 2),  # 20 shares, cost 1005
    tx("2024-01-06", "AAA", "BUY", 10, 51),  # a Saturday: AAA 30 shares, cost 1005 + 510 = 1515 from 01-08
]


def test_value_series_with_split_holiday_gap_and_late_first_close():
    series = value_series(VALUE_LEDGER, _closes())
    assert list(series.columns) == ["market_value", "cost_basis"]
    assert list(series.index.date) == [  # from the first transaction; 2023-12-29 is before it
        dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8)
    ]
    assert series["market_value"].tolist() == [
        1000.0,  # 01-02: 10*100 + 50*(no close yet -> 0)
        2020.0,  # 01-03: 10*102 + 50*20
        1545.0,  # 01-04: 10*102 (filled across AAA's holiday) + 25*21
        1590.0,  # 01-05: 20*52 (split and raw close meet) + 25*22
        2165.0,  # 01-08: 30*53 + 25*23
    ]
    assert series["cost_basis"].tolist() == [
        1955.0,  # 1005 + 950 (BBB counts though unpriced)
        1955.0,
        1480.0,  # 1005 + 475
        1480.0,
        1990.0,  # 1515 + 475
    ]


def test_value_series_range_fills_from_a_close_before_the_range():
    series = value_series(VALUE_LEDGER, _closes(), start=dt.date(2024, 1, 4), end=dt.date(2024, 1, 5))
    assert list(series.index.date) == [dt.date(2024, 1, 4), dt.date(2024, 1, 5)]
    assert series["market_value"].tolist() == [1545.0, 1590.0]  # 01-04 uses AAA's 01-03 close 102


def test_value_series_before_the_first_transaction_is_zero():
    series = value_series(VALUE_LEDGER, _closes(), start=dt.date(2023, 12, 1), end=dt.date(2024, 1, 2))
    assert series.loc[pd.Timestamp("2023-12-29")].tolist() == [0.0, 0.0]
    assert series.loc[pd.Timestamp("2024-01-02")].tolist() == [1000.0, 1955.0]


def test_value_series_of_an_empty_ledger_is_empty():
    series = value_series([], _closes())
    assert series.empty and list(series.columns) == ["market_value", "cost_basis"]


def test_value_series_ticker_absent_from_closes_counts_cost_only():
    series = value_series([tx("2024-01-03", "NEW", "BUY", 4, 25)], _closes())
    assert series["market_value"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert series["cost_basis"].tolist() == [100.0, 100.0, 100.0, 100.0]  # 4*25


def test_value_series_500_tickers_2500_days_20000_transactions_is_fast():
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2014-01-01", periods=2500)
    tickers = [f"T{i:03d}" for i in range(500)]
    closes = pd.DataFrame(rng.uniform(5, 500, (2500, 500)).round(2), index=days, columns=tickers)
    closes[closes > 490] = np.nan  # ~2 % gaps to fill
    ledger = []
    for ticker in tickers:  # 40 transactions per ticker: one big buy, then buys of 10 and sells of 5
        dates = np.sort(rng.choice(days, 40, replace=False))
        ledger.append(Transaction(pd.Timestamp(dates[0]).date(), ticker, "BUY", D(1000), D("100.25"), D(1)))
        for k, when in enumerate(dates[1:]):
            kind, qty = ("BUY", 10) if k % 2 else ("SELL", 5)
            ledger.append(Transaction(pd.Timestamp(when).date(), ticker, kind, D(qty), D("101.5")))
    assert len(ledger) == 20_000

    began = time.perf_counter()
    series = value_series(ledger, closes)
    elapsed = time.perf_counter() - began
    print(f"value_series 500 tickers x 2500 days x 20000 transactions: {elapsed:.3f} s")
    assert len(series) > 2000
    assert elapsed < 3.0  # typically well under 1 s; generous so it cannot flake on a slow runner


# --- range_start --------------------------------------------------------------------------------------------

FIRST = dt.date(2015, 6, 15)


@pytest.mark.parametrize(
    ("name", "today", "expected"),
    [
        ("1M", dt.date(2024, 5, 15), dt.date(2024, 4, 15)),
        ("1M", dt.date(2024, 1, 15), dt.date(2023, 12, 15)),  # across a year
        ("1M", dt.date(2024, 3, 31), dt.date(2024, 2, 29)),  # clamped to a leap February
        ("1M", dt.date(2023, 3, 31), dt.date(2023, 2, 28)),
        ("3M", dt.date(2024, 5, 31), dt.date(2024, 2, 29)),
        ("6M", dt.date(2024, 8, 15), dt.date(2024, 2, 15)),
        ("6M", dt.date(2024, 3, 1), dt.date(2023, 9, 1)),
        ("YTD", dt.date(2024, 8, 15), dt.date(2024, 1, 1)),
        ("YTD", dt.date(2024, 1, 1), dt.date(2024, 1, 1)),
        ("1Y", dt.date(2024, 8, 15), dt.date(2023, 8, 15)),
        ("1Y", dt.date(2024, 2, 29), dt.date(2023, 2, 28)),
        ("5Y", dt.date(2024, 6, 10), dt.date(2019, 6, 10)),
        ("MAX", dt.date(2024, 6, 10), FIRST),
    ],
)
def test_range_start(name, today, expected):
    assert range_start(name, today, FIRST) == expected


@pytest.mark.parametrize("name", ["", "2W", "1m", "ALL"])
def test_range_start_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="unknown range"):
        range_start(name, dt.date(2024, 1, 1), FIRST)


def test_every_range_has_a_start():
    assert all(range_start(name, dt.date(2024, 6, 10), FIRST) <= dt.date(2024, 6, 10) for name in RANGES)


# --- properties ---------------------------------------------------------------------------------------------

BASE = dt.date(2024, 1, 1)
TICKERS = ("AAA", "BBB", "CCC")

steps = st.lists(
    st.tuples(
        st.integers(0, 29),  # day offset
        st.sampled_from(TICKERS),
        st.sampled_from(["BUY", "BUY", "SELL", "DIVIDEND", "SPLIT"]),
        st.integers(1, 200),  # quantity (a SELL takes at most what is held)
        st.integers(1, 50_000),  # price in cents
        st.integers(0, 999),  # fees in cents
        st.sampled_from(["2", "0.5", "3"]),  # split ratio
    ),
    max_size=40,
)


def _valid_ledger(raw) -> list[Transaction]:
    """Build a ledger that never oversells, from arbitrary steps (applied in date order, as replay does)."""
    held = dict.fromkeys(TICKERS, D(0))
    ledger = []
    for day, ticker, kind, qty, cents, fee_cents, ratio in sorted(raw, key=lambda s: s[0]):
        when = BASE + dt.timedelta(days=day)
        price, fees = D(cents) / 100, D(fee_cents) / 100
        if kind == "SELL":
            if not held[ticker]:
                continue
            qty = min(D(qty), held[ticker])
            held[ticker] -= qty
        elif kind == "BUY":
            held[ticker] += qty
        elif kind == "SPLIT":
            held[ticker] *= D(ratio)
            qty, price, fees = D(ratio), D(0), D(0)
        else:
            fees = D(0)
        ledger.append(Transaction(when, ticker, kind, D(qty), price, fees))
    return ledger


@settings(max_examples=150, deadline=None)
@given(raw=steps, data=st.data())
def test_value_series_ends_at_replayed_positions_times_last_close(raw, data):
    ledger = _valid_ledger(raw)
    assert oversells(ledger) == []
    positions = replay(ledger)
    assert all(p.quantity >= 0 and p.cost_basis >= 0 for p in positions.values())
    for ticker, pos in positions.items():  # money is conserved: bought = still held + sold - realized
        mine = [t for t in ledger if t.ticker == ticker]
        bought = sum((t.quantity * t.price + t.fees for t in mine if t.type == "BUY"), D(0))
        proceeds = sum((t.quantity * t.price - t.fees for t in mine if t.type == "SELL"), D(0))
        assert abs(bought - (pos.cost_basis + proceeds - pos.realized_gain)) < D("1e-9")

    days = [BASE + dt.timedelta(days=k) for k in range(30)]
    kept = [d for d in days[:-1] if data.draw(st.booleans(), label=f"session {d}")] + [days[-1]]
    price = st.one_of(st.none(), st.integers(1, 100_000).map(lambda c: c / 100))
    closes = pd.DataFrame(
        {t: [data.draw(price) for _ in kept] for t in TICKERS}, index=pd.to_datetime(kept), dtype=float
    )
    series = value_series(ledger, closes)
    if not ledger:
        assert series.empty
        return

    expected_value = D(0)
    for ticker, pos in positions.items():
        known = [c for c in closes[ticker].tolist() if not np.isnan(c)]
        if known:
            expected_value += pos.quantity * D(repr(known[-1]))
    expected_cost = sum((p.cost_basis for p in positions.values()), D(0))
    last = series.iloc[-1]
    assert last["market_value"] == pytest.approx(float(expected_value), abs=0.011)
    assert last["cost_basis"] == pytest.approx(float(expected_cost), abs=0.011)
    assert (series["cost_basis"] >= 0).all() and (series["market_value"] >= 0).all()


@settings(max_examples=100, deadline=None)
@given(raw=steps)
def test_replay_ignores_how_same_day_groups_are_interleaved_across_tickers(raw):
    ledger = _valid_ledger(raw)
    by_ticker = sorted(ledger, key=lambda t: t.ticker)  # stable: each ticker's own order is kept
    assert replay(by_ticker) == replay(ledger)
