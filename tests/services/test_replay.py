"""services/replay.py (issue 15): same-day order, exact split ratios, dividends net of withholding, never-held
dividends. Every expected value is worked out by hand in the comment beside it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.models import SplitRatio, Transaction
from services.replay import ledger_order, oversells, replay, unheld_dividends

D = Decimal


def txn(day: str, kind: str, quantity: str, price: str = "0", fees: str = "0", ticker: str = "X",
        time: dt.time | None = None, ratio: SplitRatio | None = None) -> Transaction:
    return Transaction(dt.date.fromisoformat(day), ticker, kind, ratio.factor if ratio else D(quantity), D(price),
                       D(fees), time=time, ratio=ratio)


def split(day: str, new: int, old: int) -> Transaction:
    return txn(day, "SPLIT", "0", ratio=SplitRatio(new, old))


def test_a_newest_first_file_applies_the_buy_before_its_same_day_sell() -> None:
    ledger = [txn("2024-03-01", "SELL", "10", "12"), txn("2024-03-01", "BUY", "10", "10")]
    assert oversells(ledger) == []
    position = replay(ledger)["X"]
    # bought 10 at 10 = 100, sold 10 at 12 = 120: realized 20, nothing held
    assert (position.quantity, position.realized_gain, position.closed_on) == (0, D(20), dt.date(2024, 3, 1))


def test_same_day_order_is_split_buy_dividend_sell_then_as_given() -> None:
    ledger = [txn("2024-03-01", "SELL", "1", "5"), txn("2024-03-01", "DIVIDEND", "4", "1"),
              txn("2024-03-01", "BUY", "2", "5"), split("2024-03-01", 2, 1), txn("2024-02-01", "BUY", "1", "5")]
    assert ledger_order(ledger) == [4, 3, 2, 1, 0]
    # 1 share, split 2:1 -> 2, buy 2 -> 4, dividend on 4 (held 4: no warning material), sell 1 -> 3
    assert replay(ledger)["X"].quantity == D(3)


def test_a_time_of_day_orders_the_rows_it_is_given_for() -> None:
    at = dt.time
    ledger = [txn("2024-03-01", "BUY", "5", "10"), txn("2024-03-01", "SELL", "5", "11", time=at(10, 0)),
              txn("2024-03-01", "BUY", "5", "12", time=at(15, 30))]
    # No time counts as 00:00: buy 5 at 10, sell 5 at 11 at 10:00 (+5), buy 5 at 12 at 15:30.
    assert ledger_order(ledger) == [0, 1, 2]
    position = replay(ledger)["X"]
    assert (position.quantity, position.cost_basis, position.realized_gain) == (D(5), D(60), D(5))
    # With the SELL timed before the only BUY, it oversells: the time wins over the type order.
    early = [txn("2024-03-01", "BUY", "5", "10", time=at(12, 0)), txn("2024-03-01", "SELL", "5", "11", time=at(9, 0))]
    assert [o.index for o in oversells(early)] == [1]


def test_a_dividend_is_cash_net_of_its_withholding_tax() -> None:
    ledger = [txn("2024-01-02", "BUY", "100", "10"), txn("2024-03-01", "DIVIDEND", "100", "0.5", "7.5")]
    # 100 x 0.50 = 50 gross, 7.50 withheld: 42.50
    assert replay(ledger)["X"].dividends == D("42.5")


def test_a_dividend_on_a_ticker_never_held_is_found() -> None:
    ledger = [txn("2024-01-02", "DIVIDEND", "10", "1"), txn("2024-02-01", "BUY", "10", "5"),
              txn("2024-02-01", "DIVIDEND", "10", "1", ticker="Y"),
              txn("2024-03-01", "SELL", "10", "6"), txn("2024-04-01", "DIVIDEND", "10", "1")]
    # Index 0: before X's first BUY; index 2: Y never bought. Index 4 follows a sale: X was held before, so fine.
    assert [(u.index, u.ticker) for u in unheld_dividends(ledger)] == [(0, "X"), (2, "Y")]
    # A BUY on the dividend's own date counts (BUYs go first).
    assert unheld_dividends([txn("2024-02-01", "DIVIDEND", "1", "1"), txn("2024-02-01", "BUY", "1", "5")]) == []


def test_a_one_for_three_split_of_99_shares_leaves_exactly_33() -> None:
    position = replay([txn("2024-01-02", "BUY", "99", "10"), split("2024-02-01", 1, 3)])["X"]
    assert position.quantity == D(33)  # 99 x 1 / 3; the decimal 0.33333333 gave 32.99999967
    assert position.cost_basis == D(990)  # a split moves no money: 99 x 10
    assert replay([txn("2024-01-02", "BUY", "300", "1"), split("2024-02-01", 1, 3)])["X"].quantity == D(100)


@pytest.mark.parametrize("sold", ["33.33333333", "33.33333334"])
def test_selling_what_the_broker_shows_after_a_one_for_three_closes_the_position(sold: str) -> None:
    """100 shares 1:3 are 33 1/3; a broker prints 33.33333333 (or rounds up): that sells all of them."""
    ledger = [txn("2024-01-02", "BUY", "100", "3"), split("2024-02-01", 1, 3), txn("2024-03-01", "SELL", sold, "12")]
    assert oversells(ledger) == []
    position = replay(ledger)["X"]
    # proceeds sold x 12, minus the whole cost 100 x 3 = 300
    assert (position.quantity, position.cost_basis) == (0, 0)
    assert position.realized_gain == D(sold) * 12 - 300
    assert position.closed_on == dt.date(2024, 3, 1)


def test_a_sell_beyond_the_fraction_is_still_an_oversell() -> None:
    ledger = [txn("2024-01-02", "BUY", "100", "3"), split("2024-02-01", 1, 3), txn("2024-03-01", "SELL", "33.34", "12")]
    [found] = oversells(ledger)
    assert found.index == 2 and found.quantity == D("33.34")


def test_the_decimal_split_quantity_still_works() -> None:
    ledger = [txn("2024-01-02", "BUY", "10", "100"), txn("2024-02-01", "SPLIT", "2"),
              txn("2024-03-01", "SPLIT", "0.5")]
    assert replay(ledger)["X"].quantity == D(10)  # 10 x 2 x 0.5


def test_the_old_decimal_third_leaves_a_fraction_short_and_a_sale_of_100_now_closes_it() -> None:
    """Issue 15's case: 300 shares x 0.33333333 = 99.999999, 1e-6 short of the broker's 100 (far more than the 1e-8
    a split's fraction may be off): still an oversell. Entered as 1:3 the holding is exactly 100 and selling it
    works."""
    old = [txn("2024-01-02", "BUY", "300", "1"), txn("2024-02-01", "SPLIT", "0.33333333"),
           txn("2024-03-01", "SELL", "100", "3")]
    assert [o.held for o in oversells(old)] == [D("99.99999900")]  # 300 x 0.33333333
    exact = [*old[:1], split("2024-02-01", 1, 3), old[2]]
    assert oversells(exact) == [] and replay(exact)["X"].quantity == 0
