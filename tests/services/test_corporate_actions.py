"""Splits checked against the source (issue 15, item 2): the pure comparison, the builder over a real SQLite ledger
and diskcache, the one-click fix, and the value series with no cliff once the ledger agrees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from services.corporate_actions import (
    CorporateActions,
    SourceSplits,
    SplitCheck,
    apply_fix,
    compare_splits,
    corporate_actions,
    find_check,
    fix_values,
    ratio_text,
)
from services.ledger import Ledger
from services.models import Transaction
from services.price_cache import PriceCache
from services.value_series import value_series

D = dt.date
SPLIT_DAY = D(2020, 8, 31)  # a Monday; the sessions around it below are Thu 27, Fri 28, Mon 31, Tue 1 Sep


def bars(closes: dict[str, float], splits: dict[str, float] | None = None) -> pd.DataFrame:
    """Daily bars by hand: closes as traded, a split ratio on the given days (1.0 elsewhere)."""
    index = pd.DatetimeIndex([pd.Timestamp(day) for day in closes], name="date")
    split = [float((splits or {}).get(day, 1.0)) for day in closes]
    return pd.DataFrame({"close": list(closes.values()), "dividend": 0.0, "split": split}, index=index)


# 100 a share before the 4:1 split, 25 from its day on: one old share (100) is four new ones (4 x 25).
AAPL = bars({"2020-08-27": 100.0, "2020-08-28": 100.0, "2020-08-31": 25.0, "2020-09-01": 25.0},
            {"2020-08-31": 4.0})


def txn(day: dt.date, kind: str, quantity: str, price: str = "0", ticker: str = "AAPL", ident: int = 0) -> Transaction:
    return Transaction(day, ticker, kind, Decimal(quantity), Decimal(price), id=ident or None)


BUY = txn(D(2020, 8, 27), "BUY", "10", "100", ident=1)


def test_ratio_text_is_n_new_for_m_old():
    assert ratio_text(4) == "4:1"
    assert ratio_text(0.5) == "1:2"
    assert ratio_text(Decimal("0.33333333")) == "1:3"  # the 8-place decimal of a 1-for-3 reverse split
    assert ratio_text(1.5) == "3:2"


def test_the_sources_splits_are_the_days_whose_ratio_is_not_one():
    frame = bars({"2020-08-27": 1.0, "2020-08-28": 1.0, "2020-08-31": 1.0, "2020-09-01": 1.0},
                 {"2020-08-27": float("nan"), "2020-08-28": 0.0, "2020-08-31": 4.0})  # NaN and 0: no split
    assert SourceSplits.from_bars(frame) == SourceSplits(((SPLIT_DAY, 4),), D(2020, 8, 27), D(2020, 9, 1))
    assert SourceSplits.from_bars(frame.iloc[:0]) == SourceSplits()


def test_a_split_in_the_ledger_on_the_sources_day_is_recorded():
    split = txn(SPLIT_DAY, "SPLIT", "4", ident=2)
    result = compare_splits([BUY, split], {"AAPL": AAPL})
    assert result.splits == (SplitCheck("AAPL", SPLIT_DAY, "4:1", "recorded", 2, SPLIT_DAY, "4:1"),)
    assert result.problems == () and result.unchecked == ()


def test_a_split_never_entered_while_held_is_missing():
    result = compare_splits([BUY], {"AAPL": AAPL})
    assert [c.to_json() for c in result.splits] == [{
        "ticker": "AAPL", "date": "2020-08-31", "ratio": "4:1", "status": "missing",
        "transaction_id": None, "ledger_date": None, "ledger_ratio": None}]
    assert fix_values(result.splits[0]) == {"date": "2020-08-31", "ticker": "AAPL", "type": "SPLIT",
                                            "quantity": "4:1"}


def test_a_split_entered_a_session_early_is_misdated():
    early = txn(D(2020, 8, 28), "SPLIT", "4", ident=7)
    (check,) = compare_splits([BUY, early], {"AAPL": AAPL}).splits
    assert (check.status, check.date, check.ledger_date, check.transaction_id) == (
        "misdated", SPLIT_DAY, D(2020, 8, 28), 7)


def test_a_same_ratio_split_more_than_30_days_off_is_not_the_same_event():
    far = txn(D(2020, 7, 31), "SPLIT", "4", ident=7)  # 31 days before
    statuses = {c.status for c in compare_splits([txn(D(2020, 7, 1), "BUY", "10", "400"), far],
                                                 {"AAPL": AAPL}).splits}
    # The source's split is missing; the ledger's (31 days off, bars cover only 27 Aug - 1 Sep) is not checked.
    assert statuses == {"missing"}


@pytest.mark.parametrize("ledger", [
    [txn(D(2020, 9, 1), "BUY", "10", "25")],  # bought the day after
    [BUY, txn(D(2020, 8, 28), "SELL", "10", "100", ident=3)],  # sold the session before
    [txn(SPLIT_DAY, "BUY", "10", "25")],  # bought on the split day: none held before it
])
def test_a_split_on_a_day_the_ticker_was_not_held_is_not_missing(ledger):
    assert compare_splits(ledger, {"AAPL": AAPL}).splits == ()


def test_a_same_day_split_of_another_ratio_is_missing_and_names_the_wrong_row():
    wrong = txn(SPLIT_DAY, "SPLIT", "2", ident=5)
    (check,) = compare_splits([BUY, wrong], {"AAPL": AAPL}).splits
    assert (check.status, check.ratio, check.transaction_id, check.ledger_ratio) == ("missing", "4:1", 5, "2:1")


def test_a_ledger_split_the_source_does_not_know_is_unconfirmed():
    quiet = bars({"2021-03-01": 50.0, "2021-03-02": 25.0, "2021-03-03": 25.0})  # no split in the source
    invented = txn(D(2021, 3, 2), "SPLIT", "2", ticker="MSFT", ident=9)
    ledger = [txn(D(2021, 3, 1), "BUY", "4", "50", ticker="MSFT"), invented]
    (check,) = compare_splits(ledger, {"MSFT": quiet}).splits
    assert (check.status, check.date, check.ratio, check.transaction_id, check.fixable) == (
        "unconfirmed", D(2021, 3, 2), "2:1", 9, False)
    with pytest.raises(ValueError, match="nothing to fix"):
        fix_values(check)


def test_a_ticker_without_cached_bars_is_unchecked():
    result = compare_splits([BUY, txn(D(2020, 8, 27), "BUY", "1", "10", ticker="NEW")], {"AAPL": AAPL, "NEW": None})
    assert result.unchecked == ("NEW",)
    assert [c.ticker for c in result.splits] == ["AAPL"]


# -- the builder and the fix over a real ledger and cache ---------------------------------------------------------
@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PriceCache]:
    cache = PriceCache(tmp_path / "cache")
    cache.put_bars("AAPL", AAPL, D(2020, 8, 27))
    yield cache
    cache.close()


def _add(ledger: Ledger, pid: int, day: str, kind: str, quantity: object, price: object = None) -> Transaction:
    return ledger.add_transaction(pid, {"date": day, "ticker": "AAPL", "type": kind, "quantity": quantity,
                                        "price": price})


def test_the_fix_adds_a_missing_split_through_the_ledger(ledger, cache):
    pid = ledger.create_portfolio("Main").id
    _add(ledger, pid, "2020-08-27", "BUY", 10, 100)
    before = ledger.version(pid)
    check = find_check(corporate_actions(ledger, cache, pid), "AAPL", "2020-08-31")
    assert check is not None and check.status == "missing"
    added = apply_fix(ledger, pid, check)
    assert (added.type, added.date, added.quantity) == ("SPLIT", SPLIT_DAY, Decimal(4))
    assert ledger.version(pid) > before  # written through the ledger: the caches' version moved
    assert [c.status for c in corporate_actions(ledger, cache, pid).splits] == ["recorded"]


def test_the_fix_moves_a_misdated_split_to_the_sources_day(ledger, cache):
    pid = ledger.create_portfolio("Main").id
    _add(ledger, pid, "2020-08-27", "BUY", 10, 100)
    early = _add(ledger, pid, "2020-08-28", "SPLIT", 4)
    check = corporate_actions(ledger, cache, pid).splits[0]
    assert (check.status, check.transaction_id) == ("misdated", early.id)
    apply_fix(ledger, pid, check)
    splits = [t for t in ledger.list_transactions(pid) if t.type == "SPLIT"]
    assert [(t.id, t.date) for t in splits] == [(early.id, SPLIT_DAY)]  # moved, not added
    assert corporate_actions(ledger, cache, pid).problems == ()


def test_the_builder_reads_only_the_cache(ledger, cache):
    pid = ledger.create_portfolio("Main").id
    ledger.add_transaction(pid, {"date": "2020-08-27", "ticker": "MSFT", "type": "BUY", "quantity": 1, "price": 1})
    assert corporate_actions(ledger, cache, pid) == CorporateActions((), ("MSFT",))


def test_the_value_series_has_no_cliff_once_the_split_is_recorded():
    closes = AAPL[["close"]].rename(columns={"close": "AAPL"})
    without = value_series([BUY], closes)
    # 10 shares x 100, 10 x 100, then 10 x 25 = 250: the -75 % cliff of a split never entered.
    assert without["market_value"].tolist() == [1000.0, 1000.0, 250.0, 250.0]
    check = compare_splits([BUY], {"AAPL": AAPL}).splits[0]
    fixed = [BUY, txn(check.date, "SPLIT", "4", ident=2)]  # what the fix adds: the source's day and ratio
    # 10 x 100, 10 x 100, then 40 x 25 = 1000, 40 x 25 = 1000: flat, as the price path is.
    assert value_series(fixed, closes)["market_value"].tolist() == [1000.0, 1000.0, 1000.0, 1000.0]
    # A split entered a session early: 40 x 100 = 4000 on Friday, the one-day 4x spike the issue describes.
    early = [BUY, txn(D(2020, 8, 28), "SPLIT", "4", ident=2)]
    assert value_series(early, closes)["market_value"].tolist() == [1000.0, 4000.0, 1000.0, 1000.0]


def test_the_fix_of_a_reverse_split_records_it(ledger, tmp_path):
    # A 1-for-3 reverse split: the source's ratio is 1/3 (0.333...), the price triples (30 -> 90).
    reverse = bars({"2021-05-03": 30.0, "2021-05-04": 90.0}, {"2021-05-04": 1 / 3})
    cache = PriceCache(tmp_path / "reverse")
    try:
        cache.put_bars("AAPL", reverse, D(2021, 5, 3))
        pid = ledger.create_portfolio("Main").id
        _add(ledger, pid, "2021-05-03", "BUY", 99, 30)
        check = corporate_actions(ledger, cache, pid).splits[0]
        assert (check.status, check.ratio) == ("missing", "1:3")
        added = apply_fix(ledger, pid, check)  # "1:3" where the ledger takes ratios, else 0.33333333
        assert added.quantity == pytest.approx(Decimal(1) / 3, abs=Decimal("1e-8"))
        assert [c.status for c in corporate_actions(ledger, cache, pid).splits] == ["recorded"]
    finally:
        cache.close()
