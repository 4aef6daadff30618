"""Writes that stay fast at scale (issue 17, item 4): a write reads only the rows of the tickers it touches, an
import is planned outside the write lock and judged again under it when the ledger moved, the quota still counts
every row, imports insert in chunks all or nothing, and the memo of replayed ledgers is bounded in bytes."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, inspect

from services import ledger_bulk, ledger_schema
from services import ledger_imports as ledger_module
from services import ledger_rules as rules
from services.ledger import Ledger
from services.models import FieldError, SplitRatio, Transaction, ValidationError
from services.portfolio_load import MEMO_ROW_BYTES, PortfolioLoader

HEADER = "date,ticker,type,quantity,price,fees,note"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


def raw(db_path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(sql, params)


def raw_row(db_path: Path, portfolio_id: int, day: str, ticker: str, kind: str, quantity: str) -> None:
    """A row written past the checks (data older than them), e.g. an oversell already in the ledger."""
    raw(db_path, "INSERT INTO transactions (portfolio_id, date, ticker, type, quantity, price, fees, note, created_at)"
        " VALUES (?, ?, ?, ?, ?, '10', '0', '', '2024-01-01 00:00:00.000000')", portfolio_id, day, ticker, kind,
        quantity)


def entry(day: str, ticker: str, kind: str, quantity: str) -> dict[str, object]:
    return {"date": day, "ticker": ticker, "type": kind, "quantity": quantity, "price": "10"}


def txn(day: str, ticker: str, kind: str, quantity: str, tid: int) -> Transaction:
    return Transaction(dt.date.fromisoformat(day), ticker, kind, Decimal(quantity), Decimal(10), id=tid)


@pytest.fixture
def loaded_rows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ticker of every transaction row the ledger turns into a Transaction (what a write reads)."""
    seen: list[str] = []
    original = ledger_schema._transaction

    def counting(*values):
        made = original(*values)
        seen.append(made.ticker)
        return made

    monkeypatch.setattr(ledger_schema, "_transaction", counting)
    return seen


# --- the checks on one ticker answer as on the whole ledger --------------------------------------------------

CASES = [
    # (ledger, added, refused message or None). B's older SELL of 7 is an oversell already (B never bought).
    ([txn("2024-01-02", "A", "BUY", "10", 1), txn("2024-01-03", "B", "SELL", "7", 2)],
     txn("2024-01-04", "A", "SELL", "10", None), None),
    ([txn("2024-01-02", "A", "BUY", "10", 1), txn("2024-01-03", "B", "SELL", "7", 2)],
     txn("2024-01-04", "A", "SELL", "11", None), "sells 11 A on 2024-01-04 but only 10 are held then"),
    # A split of 2 on the SELL's own day applies first (SPLIT, BUY, DIVIDEND, SELL): 10 x 2 = 20 held.
    ([txn("2024-01-02", "A", "BUY", "10", 1), txn("2024-01-05", "A", "SPLIT", "2", 2),
      txn("2024-01-05", "B", "BUY", "1", 3)],
     txn("2024-01-05", "A", "SELL", "20", None), None),
    ([txn("2024-01-02", "A", "BUY", "10", 1), txn("2024-01-05", "A", "SPLIT", "2", 2)],
     txn("2024-01-05", "A", "SELL", "21", None), "sells 21 A on 2024-01-05 but only 20 are held then"),
    # A BUY added on the day of a stored SELL comes before it: the SELL entered first is not the BUY's problem.
    ([txn("2024-01-02", "A", "BUY", "5", 1), txn("2024-01-06", "A", "SELL", "5", 2)],
     txn("2024-01-06", "A", "BUY", "3", None), None),
    # B held shares long ago; a DIVIDEND of A (never held) is refused whatever B did.
    ([txn("2024-01-02", "B", "BUY", "5", 1)], txn("2024-01-03", "A", "DIVIDEND", "5", None),
     "a DIVIDEND of A on 2024-01-03, but no A share is held on or before that date"),
]


def _answer(existing: list[Transaction], added: Transaction) -> list[FieldError] | None:
    try:
        rules.refuse_added_oversells(existing, added)
    except ValidationError as error:
        return error.errors
    return None


@pytest.mark.parametrize(("existing", "added", "message"), CASES)
def test_the_added_tickers_rows_judge_an_add_as_the_whole_ledger_does(existing, added, message) -> None:
    only_its_ticker = [t for t in existing if t.ticker == added.ticker]
    whole, partial = _answer(existing, added), _answer(only_its_ticker, added)
    assert whole == partial
    assert (None if whole is None else [e.message for e in whole]) == (None if message is None else [message])


def test_a_sell_of_a_is_accepted_next_to_bs_older_oversell_and_reads_only_a(ledger: Ledger, db_path: Path,
                                                                           loaded_rows: list[str]) -> None:
    portfolio = ledger.create_portfolio("Main")
    ledger.add_transaction(portfolio.id, entry("2024-01-02", "A", "BUY", "10"))
    for day in range(1, 21):  # 20 rows of B, the first one an oversell from before the checks
        raw_row(db_path, portfolio.id, f"2023-02-{day:02d}", "B", "SELL" if day == 1 else "BUY", "1")
    loaded_rows.clear()
    ledger.add_transaction(portfolio.id, entry("2024-01-03", "A", "SELL", "4"))
    assert loaded_rows == ["A", "A"]  # the one stored A row and the new row as stored: none of B's 20
    with pytest.raises(ValidationError) as refused:
        ledger.add_transaction(portfolio.id, entry("2024-01-04", "A", "SELL", "7"))  # 10 - 4 = 6 held
    assert [e.message for e in refused.value.errors] == ["sells 7 A on 2024-01-04 but only 6 are held then"]


@pytest.mark.parametrize("quota", [None, 100])
def test_the_add_reads_one_tickers_rows_and_counts_the_rest(db_path: Path, quota: int | None) -> None:
    ledger = Ledger(f"sqlite:///{db_path}", max_transactions=quota)
    ledger.create_all()
    portfolio = ledger.create_portfolio("Main")
    statements: list[str] = []
    event.listen(ledger.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, params, context, many: statements.append(sql))
    ledger.add_transaction(portfolio.id, entry("2024-01-02", "A", "BUY", "10"))
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM transactions" in s]
    # The quota's COUNT only when there is a quota (without one nothing needs the count).
    assert any("count(" in s.lower() for s in reads) == (quota is not None)
    loads = [s for s in reads if "count(" not in s.lower()]
    assert loads and all("transactions.ticker IN" in s for s in loads)
    ledger.dispose()


def test_the_quota_counts_every_ticker(db_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{db_path}", max_transactions=3)
    ledger.create_all()
    portfolio = ledger.create_portfolio("Main")
    for day in ("02", "03", "04"):
        ledger.add_transaction(portfolio.id, entry(f"2024-01-{day}", "B", "BUY", "1"))
    with pytest.raises(ValidationError) as refused:  # A has no row, the portfolio has 3: 3 + 1 > 3
        ledger.add_transaction(portfolio.id, entry("2024-01-05", "A", "BUY", "1"))
    assert refused.value.errors[0].message.endswith("it holds 3 and this adds 1")
    ledger.dispose()


def test_an_edit_moving_a_row_to_another_ticker_judges_both(ledger: Ledger, loaded_rows: list[str]) -> None:
    portfolio = ledger.create_portfolio("Main")
    bought = ledger.add_transaction(portfolio.id, entry("2024-01-02", "A", "BUY", "10"))
    ledger.add_transaction(portfolio.id, entry("2024-01-03", "A", "SELL", "4"))
    ledger.add_transaction(portfolio.id, entry("2024-01-02", "C", "BUY", "1"))
    loaded_rows.clear()
    with pytest.raises(ValidationError) as refused:  # A's SELL of 4 would then have nothing to sell
        ledger.update_transaction(portfolio.id, bought.id, {"ticker": "B"})
    assert "short: it sells 4 A on 2024-01-03 but only 0 are held then" in refused.value.errors[0].message
    # The stored row, then A's 2 rows (B has none): never C's.
    assert sorted(loaded_rows) == ["A", "A", "A"]


def test_a_delete_reads_only_its_ticker_and_still_guards_a_later_sell(ledger: Ledger, loaded_rows: list[str]) -> None:
    portfolio = ledger.create_portfolio("Main")
    bought = ledger.add_transaction(portfolio.id, entry("2024-01-02", "A", "BUY", "10"))
    ledger.add_transaction(portfolio.id, entry("2024-01-03", "A", "SELL", "4"))
    ledger.add_transaction(portfolio.id, entry("2024-01-02", "C", "BUY", "1"))
    loaded_rows.clear()
    with pytest.raises(ValidationError):
        ledger.delete_transaction(portfolio.id, bought.id)
    assert sorted(loaded_rows) == ["A", "A", "A"]


# --- imports ------------------------------------------------------------------------------------------------

def test_a_repeated_file_is_all_skipped_reading_only_its_tickers(ledger: Ledger, db_path: Path,
                                                                 loaded_rows: list[str]) -> None:
    portfolio = ledger.create_portfolio("Main")
    for day in range(1, 31):
        raw_row(db_path, portfolio.id, f"2023-03-{day:02d}", "B", "BUY", "1")
    text = "\n".join([HEADER, "2024-01-02,A,BUY,10,10,0,", "2024-01-02,A,BUY,10,10,0,", "2024-01-03,A,SELL,5,12,0,"])
    assert ledger.import_csv(portfolio.id, text) == 3
    loaded_rows.clear()
    again = ledger.import_transactions(portfolio.id, text)
    assert (again.imported, again.skipped_duplicates) == (0, 3)
    assert loaded_rows == ["A", "A", "A"]  # A's three rows, read once (the version did not move): none of B's 30


def test_an_import_is_judged_again_when_the_ledger_moved_before_the_lock(ledger: Ledger,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    portfolio = ledger.create_portfolio("Main")
    ledger.add_transaction(portfolio.id, entry("2024-01-02", "A", "BUY", "10"))
    original = ledger_module.plan_import
    calls: list[int] = []

    def plan_then_race(existing, read):
        calls.append(len(existing))
        if len(calls) == 1:  # another request sells all 10 A between the plan and the lock
            ledger.add_transaction(portfolio.id, entry("2024-01-03", "A", "SELL", "10"))
        return original(existing, read)

    monkeypatch.setattr(ledger_module, "plan_import", plan_then_race)
    with pytest.raises(ValidationError) as refused:
        ledger.import_csv(portfolio.id, "\n".join([HEADER, "2024-01-04,A,SELL,6,12,0,"]))
    assert calls == [1, 2]  # planned on the BUY alone, judged again on the BUY and the SELL
    assert [e.message for e in refused.value.errors] == ["sells 6 A on 2024-01-04 but only 0 are held then"]
    assert len(ledger.list_transactions(portfolio.id)) == 2


def test_an_import_inserts_in_chunks_all_or_nothing(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_bulk, "INSERT_CHUNK", 2)
    portfolio = ledger.create_portfolio("Main")
    rows = [f"2024-01-{day:02d},A,BUY,{day},10,0,n{day}" for day in range(2, 7)]  # 5 rows: chunks of 2, 2, 1
    text = "\n".join([HEADER, *rows])

    def fail(session, portfolio_id):
        raise RuntimeError("the database went away after the inserts")

    monkeypatch.setattr(Ledger, "_bump", staticmethod(fail))
    with pytest.raises(RuntimeError):
        ledger.import_csv(portfolio.id, text)
    assert ledger.list_transactions(portfolio.id) == []
    monkeypatch.undo()
    monkeypatch.setattr(ledger_bulk, "INSERT_CHUNK", 2)
    assert ledger.import_csv(portfolio.id, text) == 5
    stored = ledger.list_transactions(portfolio.id)
    assert [(t.date.day, t.quantity, t.note) for t in stored] == [(d, Decimal(d), f"n{d}") for d in range(2, 7)]


def test_an_older_database_gets_the_ticker_index(db_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{db_path}")
    ledger.create_all()
    ledger.dispose()
    raw(db_path, "DROP INDEX ix_transactions_portfolio_ticker")
    ledger = Ledger(f"sqlite:///{db_path}")
    ledger.create_all()
    indexes = {i["name"]: i["column_names"] for i in inspect(ledger.engine).get_indexes("transactions")}
    assert indexes["ix_transactions_portfolio_ticker"] == ["portfolio_id", "ticker"]
    ledger.dispose()


# --- the memo, bounded in bytes -----------------------------------------------------------------------------

def test_the_memo_drops_older_ledgers_over_its_byte_budget(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = ledger.create_portfolio("One"), ledger.create_portfolio("Two")
    for portfolio in (first, second):
        ledger.import_csv(portfolio.id, "\n".join([HEADER, *(f"2024-01-{d:02d},A,BUY,1,10,0," for d in range(2, 12))]))
    reads: list[int] = []
    original = Ledger.list_transactions

    def counting(self, portfolio_id):
        reads.append(portfolio_id)
        return original(self, portfolio_id)

    monkeypatch.setattr(Ledger, "list_transactions", counting)
    # 10 rows each: 10 x 700 = 7,000 bytes; a budget of 15 rows (10,500) holds one ledger, not two (14,000).
    small = PortfolioLoader(ledger, memo_bytes=15 * MEMO_ROW_BYTES)
    for portfolio in (first, second, first):
        small.load(portfolio.id)
    assert reads == [first.id, second.id, first.id]  # the first was dropped for the second
    reads.clear()
    roomy = PortfolioLoader(ledger, memo_bytes=20 * MEMO_ROW_BYTES)  # 14,000 <= 14,000: both kept
    for portfolio in (first, second, first):
        roomy.load(portfolio.id)
    assert reads == [first.id, second.id]


def test_a_ledger_bigger_than_the_budget_is_still_kept_alone(ledger: Ledger) -> None:
    portfolio = ledger.create_portfolio("Big")
    ledger.import_csv(portfolio.id, "\n".join([HEADER, *(f"2024-01-{d:02d},A,BUY,1,10,0," for d in range(2, 12))]))
    loader = PortfolioLoader(ledger, memo_bytes=MEMO_ROW_BYTES)  # room for 1 row, the ledger has 10
    assert loader.load(portfolio.id) is not None
    assert list(loader._memo) == [portfolio.id]


# --- the bulk writers store what the ORM would --------------------------------------------------------------

TRICKY = "\n".join([
    "date,ticker,type,quantity,price,fees,note,currency,fx_rate,time",
    '2024-01-02,VOD.L,BUY,10.5,0.12345678,1,"says ""hi"", then\nleaves",GBP,1.25,09:30',
    "2024-01-03,VOD.L,SPLIT,1:3,0,0,,,,",
    "2024-01-04,VOD.L,SELL,3.5,2,0,'=1+1,,,",
])


def _stored(ledger: Ledger, portfolio_id: int) -> list[tuple]:
    return [(t.date, t.ticker, t.type, t.quantity, t.ratio, t.price, t.fees, t.note, t.currency, t.fx_rate, t.time)
            for t in ledger.list_transactions(portfolio_id)]


def _expected() -> list[tuple]:
    third = Decimal(1) / Decimal(3)  # the 1:3 split's factor, as the ratio gives it back
    return [
        (dt.date(2024, 1, 2), "VOD.L", "BUY", Decimal("10.5"), None, Decimal("0.12345678"), Decimal(1),
         'says "hi", then\nleaves', "GBP", Decimal("1.25"), dt.time(9, 30)),
        (dt.date(2024, 1, 3), "VOD.L", "SPLIT", third, SplitRatio(1, 3), Decimal(0), Decimal(0), "", None, None,
         None),
        (dt.date(2024, 1, 4), "VOD.L", "SELL", Decimal("3.5"), None, Decimal(2), Decimal(0), "=1+1", None, None,
         None),
    ]


def test_the_sqlite_bulk_insert_round_trips_every_column(ledger: Ledger) -> None:
    portfolio = ledger.create_portfolio("Main")
    assert ledger.import_csv(portfolio.id, TRICKY) == 3
    assert _stored(ledger, portfolio.id) == _expected()


def test_the_postgres_copy_round_trips_every_column(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    ledger.create_all()
    portfolio = ledger.create_portfolio("Main")
    assert ledger.import_csv(portfolio.id, TRICKY) == 3
    assert _stored(ledger, portfolio.id) == _expected()
    ledger.dispose()
