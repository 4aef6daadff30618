"""services/importing.py and the ledger's import (issue 15) on a real SQLite file: duplicates skipped as a multiset,
Idempotency-Key across ledgers of one database, every bad line in one pass, dividend and pence warnings, ratio
splits and times stored exactly and exported back."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from services import idempotency
from services.importing import import_ledger_csv
from services.ledger import Ledger
from services.models import MAX_REPORTED_ERRORS, ImportResult, ImportWarning, SplitRatio, ValidationError

HEADER = "date,ticker,type,quantity,price,fees,note"


def csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def pid(ledger: Ledger) -> int:
    return ledger.create_portfolio("Main").id


def services_of(ledger: Ledger, closes: dict[str, tuple[list[str], list[float]]] | None = None) -> SimpleNamespace:
    """What import_ledger_csv uses of the container: the ledger and the price cache's closes."""
    def get_closes(ticker: str):
        if not closes or ticker not in closes:
            return None
        days, values = closes[ticker]
        return (np.array([np.datetime64(d, "ns").astype("int64") for d in days]), np.array(values))

    return SimpleNamespace(ledger=ledger, prices=SimpleNamespace(cache=SimpleNamespace(get_closes=get_closes)))


TWO_EQUAL_BUYS = csv("2024-01-02,AAPL,BUY,10,100,1,first", "2024-01-02,AAPL,BUY,10,100,1,second",
                     "2024-02-01,KO,BUY,5,60,0,")


def test_reimporting_a_file_skips_every_row_and_equal_rows_count_one_for_one(ledger: Ledger, pid: int) -> None:
    first = import_ledger_csv(services_of(ledger), pid, TWO_EQUAL_BUYS)
    assert first == ImportResult(3, 0, ())  # two equal buys in one file are two trades
    again = import_ledger_csv(services_of(ledger), pid, TWO_EQUAL_BUYS)
    assert again == ImportResult(0, 3, ())  # each existing row absorbs one equal row: all three skipped
    assert len(ledger.list_transactions(pid)) == 3
    # A third equal buy (its note differs: notes are no part of a trade's identity) is new; the KO one is not.
    third = import_ledger_csv(services_of(ledger), pid, csv(*[ "2024-01-02,AAPL,BUY,10,100,1,x"] * 3,
                                                             "2024-02-01,KO,BUY,5,60.00,0,"))
    assert (third.imported, third.skipped_duplicates) == (1, 3)  # 3 AAPL vs 2 held: 1 new; 60.00 equals 60
    assert third.to_json() == {"imported": 1, "skipped_duplicates": 3, "warnings": []}


def test_a_differing_fee_or_price_is_no_duplicate(ledger: Ledger, pid: int) -> None:
    import_ledger_csv(services_of(ledger), pid, csv("2024-01-02,AAPL,BUY,10,100,1,"))
    result = import_ledger_csv(services_of(ledger), pid, csv("2024-01-02,AAPL,BUY,10,100,1.5,",
                                                             "2024-01-02,AAPL,BUY,10,100.01,1,"))
    assert (result.imported, result.skipped_duplicates) == (2, 0)


def test_an_idempotency_key_returns_the_first_answer_from_another_ledger_of_the_same_database(
        ledger: Ledger, pid: int, db_path: Path) -> None:
    first = import_ledger_csv(services_of(ledger), pid, TWO_EQUAL_BUYS, idempotency_key="retry-1")
    other_worker = Ledger(f"sqlite:///{db_path}")  # another process would open its own engine
    try:
        repeat = import_ledger_csv(services_of(other_worker), pid, TWO_EQUAL_BUYS, idempotency_key="retry-1")
    finally:
        other_worker.dispose()
    assert repeat == first == ImportResult(3, 0, ())  # not (0, 3): the first answer, as it was
    assert len(ledger.list_transactions(pid)) == 3
    with pytest.raises(ValidationError) as info:
        import_ledger_csv(services_of(ledger), pid, csv("2024-03-01,MSFT,BUY,1,300,0,"), idempotency_key="retry-1")
    assert [e.field for e in info.value.errors] == ["Idempotency-Key"]
    assert "different request body" in info.value.errors[0].message
    assert len(ledger.list_transactions(pid)) == 3


def test_an_idempotency_key_is_per_portfolio_and_expires(ledger: Ledger, pid: int, db_path: Path) -> None:
    other = ledger.create_portfolio("Other").id
    assert import_ledger_csv(services_of(ledger), pid, TWO_EQUAL_BUYS, idempotency_key="k").imported == 3
    assert import_ledger_csv(services_of(ledger), other, TWO_EQUAL_BUYS, idempotency_key="k").imported == 3
    # 25 hours later the key is forgotten: the same file now answers as a plain re-import (all duplicates).
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE idempotency_keys SET created_at = ?",
                   ((dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)).strftime("%Y-%m-%d %H:%M:%S.%f"),))
    assert import_ledger_csv(services_of(ledger), pid, TWO_EQUAL_BUYS, idempotency_key="k") == ImportResult(0, 3, ())
    with pytest.raises(ValidationError):
        import_ledger_csv(services_of(ledger), pid, TWO_EQUAL_BUYS, idempotency_key="bad\nkey")
    assert idempotency.check_key("a" * 255) == "a" * 255


def test_format_errors_oversells_and_unheld_dividends_come_in_one_rejection(ledger: Ledger, pid: int) -> None:
    text = csv("2024-01-02,AAPL,BUY,10,100,0,",      # line 2: fine
               "2024-01-03,AAPL,BUY,ten,100,0,",     # line 3: quantity is no number
               "2024-02-01,MSFT,SELL,5,300,0,",      # line 4: sells MSFT never bought
               "2024-02-02,KO,DIVIDEND,10,0.46,0,",  # line 5: KO never held
               "2024-02-03,XOM,BUY,1,,0,")           # line 6: price missing
    with pytest.raises(ValidationError) as info:
        import_ledger_csv(services_of(ledger), pid, text)
    assert [(e.line, e.field) for e in info.value.errors] == [
        (3, "quantity"), (4, "quantity"), (5, "ticker"), (6, "price")]
    assert info.value.message == "4 rows rejected"
    assert ledger.list_transactions(pid) == []


def test_an_oversell_of_a_ticker_with_a_bad_row_is_not_blamed_twice(ledger: Ledger, pid: int) -> None:
    text = csv("2024-01-02,AAPL,BUY,10,oops,0,", "2024-02-01,AAPL,SELL,10,120,0,")
    with pytest.raises(ValidationError) as info:
        import_ledger_csv(services_of(ledger), pid, text)
    assert [(e.line, e.field) for e in info.value.errors] == [(2, "price")]  # the SELL may well be right


def test_many_errors_of_both_kinds_name_a_hundred_and_count_them_all(ledger: Ledger, pid: int) -> None:
    bad = ["2024-01-02,AAPL,BUY,0,100,0,"] * 150          # lines 2-151: quantity 0
    short = ["2024-02-01,KO,SELL,1,60,0,"] * 150           # lines 152-301: KO never bought
    with pytest.raises(ValidationError) as info:
        import_ledger_csv(services_of(ledger), pid, csv(*bad, *short))
    error = info.value
    assert (error.total, len(error.errors), error.message) == (300, MAX_REPORTED_ERRORS, "300 rows rejected")
    assert [e.line for e in error.errors] == list(range(2, 2 + MAX_REPORTED_ERRORS))


def test_a_dividend_on_another_share_count_is_a_warning_and_is_imported(ledger: Ledger, pid: int) -> None:
    text = csv("2024-01-02,KO,BUY,10,60,0,", "2024-03-01,KO,DIVIDEND,1000,0.46,0,",
               "2024-04-01,KO,BUY,5,61,0,", "2024-06-01,KO,DIVIDEND,15,0.46,1.04,")
    result = import_ledger_csv(services_of(ledger), pid, text)
    # Line 3 pays on 1000 but 10 are held; line 5 on 15 = 10 + 5 held: no warning.
    assert result == ImportResult(4, 0, (ImportWarning(3, "quantity", "pays on 1000 shares but 10 KO are held on "
                                                                       "2024-03-01"),))


def test_pence_and_dividend_warnings_come_together_in_line_order(ledger: Ledger, pid: int) -> None:
    closes = {"VOD.L": (["2024-06-03"], [0.70])}  # pounds
    text = csv("2024-06-03,VOD.L,BUY,1000,70,0,",  # 70 / 0.70 = 100: typed in pence
               "2024-06-03,VOD.L,DIVIDEND,10,0.02,0,")  # 10 vs 1000 held
    result = import_ledger_csv(services_of(ledger, closes), pid, text)
    assert [(w.line, w.field) for w in result.warnings] == [(2, "price"), (3, "quantity")]


def test_a_ratio_split_and_a_time_are_stored_exactly_and_export_back(ledger: Ledger, pid: int, db_path: Path) -> None:
    text = csv("2024-01-02,X,BUY,100,3,0,,09:30", "2024-02-01,X,SPLIT,1:3,,0,,",
               "2024-03-01,X,SELL,33.33333333,12,0,,", header=HEADER + ",time")
    assert import_ledger_csv(services_of(ledger), pid, text).imported == 3
    buy, split, sell = ledger.list_transactions(pid)
    assert (split.ratio, buy.time, sell.time) == (SplitRatio(1, 3), dt.time(9, 30), None)
    assert split.to_json()["ratio"] == "1:3"
    with sqlite3.connect(db_path) as db:  # the factor for old readers, the denominator beside it
        assert db.execute("SELECT quantity, ratio_denominator FROM transactions WHERE type = 'SPLIT'").fetchone() == (
            "0.3333333333333333333333333333", 3)
    exported = ledger.export_csv(pid)
    assert "2024-02-01,X,SPLIT,1:3,0,0,,,," in exported and "2024-01-02,X,BUY,100,3,0,,,,09:30:00" in exported
    other = ledger.create_portfolio("Copy").id
    assert ledger.import_csv(other, exported) == 3
    assert [t.to_json() | {"id": None} for t in ledger.list_transactions(other)] == [
        t.to_json() | {"id": None} for t in ledger.list_transactions(pid)]
    assert ledger.import_csv(pid, exported) == 0  # the same ledger again: all duplicates (1:3 equals 1:3)


def test_adding_a_dividend_on_a_ticker_never_held_is_refused(ledger: Ledger, pid: int) -> None:
    with pytest.raises(ValidationError) as info:
        ledger.add_transaction(pid, {"date": "2024-01-02", "ticker": "KO", "type": "DIVIDEND", "quantity": 10,
                                     "price": "0.46"})
    assert [e.field for e in info.value.errors] == ["ticker"]
    ledger.add_transaction(pid, {"date": "2024-01-02", "ticker": "KO", "type": "BUY", "quantity": 10, "price": 60})
    paid = ledger.add_transaction(pid, {"date": "2024-01-02", "ticker": "KO", "type": "DIVIDEND", "quantity": 10,
                                        "price": "0.46", "fees": "0.69"})
    assert paid.fees == Decimal("0.69")
