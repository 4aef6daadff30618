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

from services import analytics
from services.analytics import (
    RANGES,
    Oversell,
    OversellError,
    Position,
    oversells,
    range_start,
    replay,
    value_series,
)
from services.models import PriceInfo, Transaction
from services.payloads import AllocationSlice

D = Decimal
UTC = dt.UTC


def tx(day: str, ticker: str, kind: str, quantity, price="0", fees="0") -> Transaction:
    when = dt.date.fromisoformat(day)
    return Transaction(when, ticker, kind, D(str(quantity)), D(str(price)), D(str(fees)))


AS_OF = dt.datetime(2024, 5, 1, 20, 0, tzinfo=UTC)


def quote(ticker: str, price, previous_close, status="fresh", as_of=AS_OF) -> PriceInfo:
    return PriceInfo(ticker, price, previous_close, as_of, as_of, status)


# The builders return payloads (services/payloads.py); these tests hold their JSON, as the API answers it.
def holdings_rows(positions, prices) -> list[dict]:
    return [row.to_json() for row in analytics.holdings_rows(positions, prices)]


def summary(positions, prices) -> dict:
    return analytics.summary(positions, prices).to_json()


def allocation(positions, prices) -> list[dict]:
    return analytics.allocation(analytics.holdings_rows(positions, prices))


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


def test_same_day_buys_apply_before_sells():
    # DESIGN.md: rows of one ticker on one date apply BUYs before SELLs (a broker's newest-first file lists the
    # SELL first). BUY 10 @ 10 + BUY 10 @ 20 = 20 shares for 300 (avg 15); SELL 10 @ 12 releases 150: 120 - 150.
    ledger = [
        tx("2024-01-02", "AAA", "BUY", 10, 10),
        tx("2024-01-02", "AAA", "SELL", 10, 12),
        tx("2024-01-02", "AAA", "BUY", 10, 20),
    ]
    pos = replay(ledger)["AAA"]
    assert pos.realized_gain == D(-30)
    assert (pos.quantity, pos.cost_basis) == (D(10), D(150))


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


def test_a_sell_listed_before_its_same_day_buy_is_no_oversell():
    ledger = [
        tx("2024-01-02", "AAA", "SELL", 5, 100),  # listed first, applied after the buy of the same day
        tx("2024-01-02", "AAA", "BUY", 5, 100),
    ]
    assert oversells(ledger) == []
    assert oversells(ledger[::-1]) == []
    assert oversells(ledger[:1]) == [Oversell(0, "AAA", dt.date(2024, 1, 2), D(0), D(5))]


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
    "realized_gain", "dividends", "total_return",  # issue 15
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
        # 1200 / (1200 + 1100) = 0.5217391... = 5217.39 steps of 0.0001; AAA's 4782.61 has the larger
        # remainder, so the one step left over (5217 + 4782 = 9999) goes to AAA and BBB keeps 5217.
        "weight": 0.5217,
        "price_as_of": "2024-05-01T20:00:00+00:00",
        "price_status": "market_closed",
        "realized_gain": 0.0,
        "dividends": 12.5,
        "total_return": 212.5,  # 200 unrealized + 0 realized + 12.50 dividends
    }
    aaa = rows[1]
    assert aaa["market_value"] == 1100.0  # 10 * 110
    assert aaa["unrealized_gain"] == 95.0  # 1100 - 1005
    assert aaa["unrealized_gain_pct"] == 0.094527  # 95 / 1005 = 0.0945273...
    assert aaa["day_change"] == 100.0  # 10 * (110 - 100)
    assert aaa["day_change_pct"] == 0.1  # 100 / (10*100)
    assert aaa["weight"] == 0.4783  # 1100 / 2300 = 0.4782608... floored to 0.4782, plus the step left over
    assert rows[2] == {
        "ticker": "CCC", "quantity": 5.0, "avg_cost": 70.0, "cost_basis": 350.0,  # 350 / 5 = 70
        "price": None, "market_value": None, "unrealized_gain": None, "unrealized_gain_pct": None,
        "day_change": None, "day_change_pct": None, "weight": None, "price_as_of": None,
        "price_status": "missing", "realized_gain": 0.0, "dividends": 0.0,
        "total_return": None,  # unpriced: its unrealized gain, so its total, is unknown
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
        "priced_count": 2,  # AAA and BBB
        "priced_cost_basis": 2005.0,  # 1005 + 1000: market_value - this = unrealized_gain (2300 - 2005 = 295)
        "currency": "USD",  # the default: the builder hands in the portfolio's base currency
        "total_return": 408.5,  # issue 16: 295 unrealized + 98 realized + 15.50 dividends
    }


def test_summary_with_nothing_priced_is_unknown_not_zero():
    result = summary(_positions(), {})
    assert result["market_value"] is None and result["unrealized_gain"] is None
    assert result["unrealized_gain_pct"] is None
    assert result["day_change"] is None and result["day_change_pct"] is None
    assert result["cost_basis"] == 2355.0 and result["holdings_count"] == 3
    assert result["priced_count"] == 0 and result["priced_cost_basis"] == 0.0
    assert result["total_return"] is None  # no unrealized gain known: no total either, never 98 + 15.50 alone


def test_summary_of_an_empty_portfolio_is_zero():
    result = summary({}, {})
    assert result["market_value"] == 0.0 and result["cost_basis"] == 0.0
    assert result["unrealized_gain"] == 0.0 and result["unrealized_gain_pct"] is None
    assert result["day_change"] == 0.0 and result["day_change_pct"] is None
    assert result["holdings_count"] == 0 and result["priced_count"] == 0


def test_money_is_rounded_to_cents_half_up():
    positions = {"AAA": Position("AAA", D(3), D("10"), D(0), D(0), dt.date(2024, 1, 2))}
    row = holdings_rows(positions, {"AAA": quote("AAA", 3.335, 3.0)})[0]
    assert row["market_value"] == 10.01  # 3 * 3.335 = 10.005 -> 10.01 half up (3.335 read as printed)
    assert row["avg_cost"] == 3.333333  # 10 / 3


# --- cents that add up (issue 11, item 8) ------------------------------------------------------------------


def _half_cents() -> tuple[dict[str, Position], dict[str, PriceInfo]]:
    """Three holdings whose exact values each end in half a cent, so rounding a total differs from summing."""
    day = dt.date(2024, 1, 2)
    positions = {
        "AAA": Position("AAA", D(3), D("7.334"), D(0), D(0), day),
        "BBB": Position("BBB", D(1), D("15.125"), D(0), D(0), day),
        "CCC": Position("CCC", D(5), D("20.115"), D(0), D(0), day),
    }
    prices = {
        "AAA": quote("AAA", 3.335, 3.0),
        "BBB": quote("BBB", 20.005, 20.0),
        "CCC": quote("CCC", 6.001, 6.0),
    }
    return positions, prices


def test_rows_round_each_amount_once_and_the_gain_is_value_minus_cost_shown():
    rows = {r["ticker"]: r for r in holdings_rows(*_half_cents())}
    # (market value, cost basis, unrealized gain, day change), by hand:
    # AAA 3 x 3.335 = 10.005 -> 10.01; 7.334 -> 7.33; 10.01 - 7.33 = 2.68 (the exact 2.671 would round to 2.67);
    #     day 3 x (3.335 - 3) = 1.005 -> 1.01
    # BBB 1 x 20.005 -> 20.01; 15.125 -> 15.13 (half up); 20.01 - 15.13 = 4.88; day 1 x 0.005 -> 0.01
    # CCC 5 x 6.001 = 30.005 -> 30.01; 20.115 -> 20.12; 30.01 - 20.12 = 9.89; day 5 x 0.001 = 0.005 -> 0.01
    assert {t: (r["market_value"], r["cost_basis"], r["unrealized_gain"], r["day_change"])
            for t, r in rows.items()} == {
        "AAA": (10.01, 7.33, 2.68, 1.01),
        "BBB": (20.01, 15.13, 4.88, 0.01),
        "CCC": (30.01, 20.12, 9.89, 0.01),
    }
    assert rows["AAA"]["unrealized_gain_pct"] == 0.365621  # 2.68 / 7.33 = 0.3656207...
    assert rows["AAA"]["day_change_pct"] == 0.112222  # 1.01 / (3 x 3 = 9) = 0.1122222...
    for row in rows.values():
        assert D(repr(row["unrealized_gain"])) == D(repr(row["market_value"])) - D(repr(row["cost_basis"]))


def test_summary_totals_are_the_sums_of_the_rounded_rows():
    positions, prices = _half_cents()
    rows = holdings_rows(positions, prices)
    result = summary(positions, prices)
    assert result["market_value"] == 60.03  # 10.01 + 20.01 + 30.01; the exact 60.015 would round to 60.02
    assert result["cost_basis"] == 42.58  # 7.33 + 15.13 + 20.12; the exact 42.574 would round to 42.57
    assert result["unrealized_gain"] == 17.45  # 60.03 - 42.58 = 2.68 + 4.88 + 9.89; exact 17.441 -> 17.44
    assert result["day_change"] == 1.03  # 1.01 + 0.01 + 0.01; the exact 1.015 would round to 1.02
    assert result["unrealized_gain_pct"] == 0.409817  # 17.45 / 42.58 = 0.4098168...
    assert result["day_change_pct"] == 0.017458  # 1.03 / (3 x 3 + 1 x 20 + 5 x 6 = 59) = 0.0174576...
    assert (result["priced_count"], result["priced_cost_basis"]) == (3, 42.58)

    def total(field: str) -> Decimal:
        return sum((D(repr(r[field])) for r in rows), D(0))

    for field in ("market_value", "cost_basis", "unrealized_gain", "day_change"):
        assert D(repr(result[field])) == total(field), field


def test_weights_add_up_to_exactly_one_at_the_shown_precision():
    rows = {r["ticker"]: r["weight"] for r in holdings_rows(*_half_cents())}
    # Shares of 60.03 in 0.0001 steps: AAA 10.01 -> 1667.4996, BBB 20.01 -> 3333.3333, CCC 30.01 -> 4999.1671.
    # Rounded one by one they make 0.1667 + 0.3333 + 0.4999 = 0.9999 (99.99 %). Floors 1667 + 3333 + 4999 = 9999
    # steps: the one left goes to the largest remainder, AAA's 0.4996.
    assert rows == {"AAA": 0.1668, "BBB": 0.3333, "CCC": 0.4999}
    assert sum(D(repr(w)) for w in rows.values()) == 1
    assert allocation(*_half_cents()) == [
        {"ticker": "CCC", "weight": 0.4999}, {"ticker": "BBB", "weight": 0.3333}, {"ticker": "AAA", "weight": 0.1668},
    ]


def test_a_tiny_day_change_keeps_its_sign_and_two_significant_digits():
    day = dt.date(2024, 1, 2)
    small = {"AAA": Position("AAA", D(100), D(9000), D(0), D(0), day)}
    row = holdings_rows(small, {"AAA": quote("AAA", 99.9984, 100.0)})[0]
    assert row["day_change"] == -0.16  # 100 x (99.9984 - 100) = -0.16
    assert row["day_change_pct"] == -0.000016  # -0.16 / (100 x 100) = -0.000016, i.e. -0.0016 %
    large = {"AAA": Position("AAA", D(1000), D(300000), D(0), D(0), day)}
    result = summary(large, {"AAA": quote("AAA", 399.99984, 400.0)})
    assert result["day_change"] == -0.16  # 1000 x (399.99984 - 400) = -0.16
    assert result["day_change_pct"] == -0.0000004  # -0.16 / 400000: 0 at 6 dp, so 2 significant digits


cents = st.integers(1, 10**9).map(lambda c: D(c) / 100)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**6).map(lambda n: D(n) / 1000),  # quantity
                          st.integers(0, 10**8).map(lambda n: D(n) / 1000),  # cost basis, to a tenth of a cent
                          st.one_of(st.none(), cents),  # price
                          st.one_of(st.none(), cents)),  # previous close
                min_size=1, max_size=12))
def test_totals_always_add_up_to_the_cent(holdings):
    day = dt.date(2024, 1, 2)
    positions = {f"T{i:02d}": Position(f"T{i:02d}", q, c, D(0), D(0), day) for i, (q, c, _p, _pc) in
                 enumerate(holdings)}
    prices = {f"T{i:02d}": quote(f"T{i:02d}", None if p is None else float(p), None if pc is None else float(pc))
              for i, (_q, _c, p, pc) in enumerate(holdings)}
    rows = holdings_rows(positions, prices)
    result = summary(positions, prices)

    def dec(value) -> Decimal:
        return D(repr(value))

    priced = [r for r in rows if r["market_value"] is not None]
    assert result["cost_basis"] == float(sum((dec(r["cost_basis"]) for r in rows), D(0)))
    assert result["priced_count"] == len(priced)
    assert result["priced_cost_basis"] == float(sum((dec(r["cost_basis"]) for r in priced), D(0)))
    for row in priced:
        assert dec(row["unrealized_gain"]) == dec(row["market_value"]) - dec(row["cost_basis"])
    if priced:
        assert dec(result["market_value"]) == sum((dec(r["market_value"]) for r in priced), D(0))
        assert dec(result["unrealized_gain"]) == dec(result["market_value"]) - dec(result["priced_cost_basis"])
        if sum(dec(r["market_value"]) for r in priced) > 0:
            weights = [dec(r["weight"]) for r in priced]
            assert sum(weights) == 1
            total = sum((dec(r["market_value"]) for r in priced), D(0))
            for row, weight in zip(priced, weights, strict=True):  # each within one step of its exact share
                assert abs(weight - dec(row["market_value"]) / total) < D("0.0001")
            assert sum(dec(a["weight"]) for a in allocation(positions, prices)) == 1
    else:
        assert result["market_value"] is None and result["unrealized_gain"] is None
    moved = [dec(r["day_change"]) for r in rows if r["day_change"] is not None]
    assert result["day_change"] == (float(sum(moved, D(0))) if moved else None)


# --- allocation ---------------------------------------------------------------------------------------------


def test_allocation_from_holdings_rows_skips_unpriced_and_sums_to_one():
    result = allocation(_positions(), PRICES)
    # 1200 / 2300 = 0.52173.. and 1100 / 2300 = 0.47826..: floors 0.5217 + 0.4782 = 0.9999; the last 0.0001
    # goes to the larger remainder (AAA's 0.61 step against BBB's 0.39), the same weights as the rows'.
    assert result == [{"ticker": "BBB", "weight": 0.5217}, {"ticker": "AAA", "weight": 0.4783}]
    assert sum(D(repr(a["weight"])) for a in result) == 1


def test_allocation_gives_the_rounding_residue_to_the_largest_remainder_ties_by_ticker():
    day = dt.date(2024, 1, 2)
    positions = {t: Position(t, D(1), D(90), D(0), D(0), day) for t in ("C", "A", "B", "D")}
    prices = {t: quote(t, 100.0, 100.0) for t in ("C", "A", "B")}  # D is unpriced: no weight, no slice
    assert allocation(positions, prices) == [  # 1/3 each = 0.3333 x 3 = 0.9999; the tied remainders: A gets it
        {"ticker": "A", "weight": 0.3334},
        {"ticker": "B", "weight": 0.3333},
        {"ticker": "C", "weight": 0.3333},
    ]
    assert allocation({"D": positions["D"]}, {}) == []
    assert allocation({}, {}) == []


def test_the_allocation_is_the_rows_own_weights_so_the_donut_and_the_table_agree():
    rows = analytics.holdings_rows(*_half_cents())
    slices = analytics.allocation_slices(rows)
    assert slices == (AllocationSlice("CCC", 0.4999), AllocationSlice("BBB", 0.3333), AllocationSlice("AAA", 0.1668))
    assert {s.ticker: s.weight for s in slices} == {row.ticker: row.weight for row in rows}


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
        1000.0,  # 01-02: 10*100; BBB has no close yet: unpriced, left out
        2020.0,  # 01-03: 10*102 + 50*20
        1545.0,  # 01-04: 10*102 (filled across AAA's holiday) + 25*21
        1590.0,  # 01-05: 20*52 (split and raw close meet) + 25*22
        2165.0,  # 01-08: 30*53 + 25*23
    ]
    assert series["cost_basis"].tolist() == [
        1005.0,  # AAA's 1005 alone: unpriced BBB is left out of the cost line too (issue 15, item 6)
        1955.0,  # 1005 + 950
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
    assert series.loc[pd.Timestamp("2024-01-02")].tolist() == [1000.0, 1005.0]  # BBB unpriced: left out


def test_value_series_of_an_empty_ledger_is_empty():
    series = value_series([], _closes())
    assert series.empty and list(series.columns) == ["market_value", "cost_basis"]


def test_value_series_leaves_a_ticker_absent_from_closes_out_of_both_lines():
    # Issue 15, item 6: it was worth 0 with its 4*25 = 100 cost counted, a false -100 the summary never showed.
    ledger = [tx("2024-01-03", "NEW", "BUY", 4, 25), tx("2024-01-03", "AAA", "BUY", 1, 90)]
    series = value_series(ledger, _closes())
    assert series["market_value"].tolist() == [102.0, 102.0, 52.0, 53.0]  # AAA's 1 share (no split: raw closes)
    assert series["cost_basis"].tolist() == [90.0, 90.0, 90.0, 90.0]  # AAA's cost alone


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

    expected_value = expected_cost = D(0)
    for ticker, pos in positions.items():
        known = [c for c in closes[ticker].tolist() if not np.isnan(c)]
        if known:  # a ticker never priced is left out of both lines
            expected_value += pos.quantity * D(repr(known[-1]))
            expected_cost += pos.cost_basis
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
