"""services/ledger.py on a real SQLite file: exact amounts, all-or-nothing imports, no oversells, locking."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event

from services.analytics import oversells
from services.ledger import Ledger
from services.models import NotFoundError, Portfolio, Transaction, ValidationError

HEADER = "date,ticker,type,quantity,price,fees,note"


def csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def buy(day: str, ticker: str, quantity: str, price: str = "10", fees: str = "0") -> dict[str, object]:
    return {"date": day, "ticker": ticker, "type": "BUY", "quantity": quantity, "price": price, "fees": fees}


def sell(day: str, ticker: str, quantity: str, price: str = "12") -> dict[str, object]:
    return {"date": day, "ticker": ticker, "type": "SELL", "quantity": quantity, "price": price}


def shape(transactions: list[Transaction]) -> list[tuple]:
    """The values of a ledger without its ids."""
    return [(t.date, t.ticker, t.type, t.quantity, t.price, t.fees, t.note) for t in transactions]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "ledger.db"


@pytest.fixture
def portfolio(ledger: Ledger) -> Portfolio:
    return ledger.create_portfolio("Main")


def raw(db_path: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql, params).fetchall()


# --- the database -----------------------------------------------------------------------------------------

def test_sqlite_file_is_created_with_wal_and_foreign_keys(ledger: Ledger, db_path: Path) -> None:
    assert db_path.is_file()
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    with ledger.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    assert ledger.ping() is True


def test_ping_is_false_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    broken = Ledger(f"sqlite:///{tmp_path / 'a-directory.db'}")
    assert broken.ping() is False


def test_create_all_is_idempotent_and_keeps_data(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.create_all()
    assert ledger.list_portfolios() == [portfolio]


def test_in_memory_database_works(tmp_path: Path) -> None:
    memory = Ledger("sqlite://")
    memory.create_all()
    created = memory.create_portfolio("Scratch")
    memory.add_transaction(created.id, buy("2024-01-02", "AAPL", "1"))
    assert len(memory.list_transactions(created.id)) == 1


# --- portfolios -------------------------------------------------------------------------------------------

def test_portfolio_crud(ledger: Ledger) -> None:
    first = ledger.create_portfolio("  Retirement  ", "eur")
    second = ledger.create_portfolio("Play money")
    other = ledger.for_owner("alice").create_portfolio("Someone else's")
    assert first == Portfolio(id=first.id, name="Retirement", base_currency="EUR", owner_id="local")
    assert second.base_currency == "USD"
    assert ledger.list_portfolios() == [first, second]
    assert ledger.for_owner("alice").list_portfolios() == [other]
    assert ledger.get_portfolio(second.id) == second
    renamed = ledger.rename_portfolio(second.id, "Serious money")
    assert renamed.name == "Serious money" and ledger.get_portfolio(second.id).name == "Serious money"
    ledger.delete_portfolio(first.id)
    assert ledger.list_portfolios() == [renamed]
    with pytest.raises(NotFoundError):
        ledger.get_portfolio(first.id)


@pytest.mark.parametrize(("name", "currency", "field"), [
    ("", "USD", "name"),
    ("   ", "USD", "name"),
    ("x" * 101, "USD", "name"),
    ("Fine", "US", "base_currency"),
    ("Fine", "USDX", "base_currency"),
    ("Fine", "U$D", "base_currency"),
    ("Fine", "", "base_currency"),
])
def test_a_bad_portfolio_is_refused(ledger: Ledger, name: str, currency: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ledger.create_portfolio(name, currency)
    assert [e.field for e in info.value.errors] == [field]
    assert ledger.list_portfolios() == []


def test_a_100_character_name_is_the_longest_allowed(ledger: Ledger, portfolio: Portfolio) -> None:
    assert ledger.create_portfolio("x" * 100).name == "x" * 100
    with pytest.raises(ValidationError):
        ledger.rename_portfolio(portfolio.id, "y" * 101)
    assert ledger.get_portfolio(portfolio.id).name == "Main"


@pytest.mark.parametrize("call", [
    lambda ledger: ledger.get_portfolio(999),
    lambda ledger: ledger.rename_portfolio(999, "New"),
    lambda ledger: ledger.delete_portfolio(999),
    lambda ledger: ledger.list_transactions(999),
    lambda ledger: ledger.add_transaction(999, buy("2024-01-02", "AAPL", "1")),
    lambda ledger: ledger.delete_transaction(999, 1),
    lambda ledger: ledger.get_transaction(999, 1),
    lambda ledger: ledger.update_transaction(999, 1, {"quantity": 1}),
    lambda ledger: ledger.import_csv(999, csv("2024-01-02,AAPL,BUY,1,10,,")),
    lambda ledger: ledger.import_csv(999, "not even csv"),
    lambda ledger: ledger.export_csv(999),
    lambda ledger: ledger.version(999),
    lambda ledger: ledger.portfolio_tickers(999),
])
def test_an_unknown_portfolio_is_not_found(ledger: Ledger, portfolio: Portfolio, call) -> None:
    with pytest.raises(NotFoundError):
        call(ledger)


@pytest.mark.parametrize("taken", ["Main", "main", "  MAIN ", "mAiN"])
def test_a_portfolio_name_is_taken_whatever_its_case_and_spaces(
        ledger: Ledger, portfolio: Portfolio, taken: str) -> None:
    with pytest.raises(ValidationError) as info:
        ledger.create_portfolio(taken)
    assert [(e.field, e.message) for e in info.value.errors] == [
        ("name", "a portfolio named \u201cMain\u201d exists already")]
    other = ledger.create_portfolio("Other")
    with pytest.raises(ValidationError) as info:
        ledger.rename_portfolio(other.id, taken)
    assert info.value.errors[0].field == "name" and "\u201cMain\u201d exists already" in info.value.errors[0].message
    assert [p.name for p in ledger.list_portfolios()] == ["Main", "Other"]  # nothing half written


def test_a_portfolio_may_be_renamed_to_its_own_name(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.create_portfolio("Other")
    assert ledger.rename_portfolio(portfolio.id, "Main").name == "Main"
    assert ledger.rename_portfolio(portfolio.id, " MAIN ").name == "MAIN"  # only its case changes
    assert ledger.rename_portfolio(portfolio.id, "Main account").name == "Main account"


def test_names_are_unique_per_owner_and_free_again_once_deleted(ledger: Ledger, portfolio: Portfolio) -> None:
    alice = ledger.for_owner("alice")
    alices = alice.create_portfolio("Main")  # another owner's names are not ours
    assert alices.name == "Main" and alice.list_portfolios() == [alices]
    with pytest.raises(ValidationError):
        alice.create_portfolio("main")
    ledger.delete_portfolio(portfolio.id)
    assert ledger.create_portfolio("Main").name == "Main"


def test_a_name_already_shared_by_two_old_portfolios_does_not_block_renaming_either_to_itself(
        ledger: Ledger, portfolio: Portfolio, db_path: Path) -> None:
    # Data from before the check: two portfolios of one name, written behind the ledger's back.
    with sqlite3.connect(db_path) as connection:
        connection.execute("INSERT INTO portfolios (owner_id, name, base_currency, created_at, version) "
                           "VALUES ('local', 'Main', 'USD', '2024-01-01 00:00:00', 1)")
    assert ledger.rename_portfolio(portfolio.id, "main").name == "main"


def test_deleting_a_portfolio_deletes_its_transactions_only(
        ledger: Ledger, portfolio: Portfolio, db_path: Path) -> None:
    other = ledger.create_portfolio("Other")
    ledger.import_csv(portfolio.id, csv("2024-01-02,AAPL,BUY,1,10,,", "2024-01-03,MSFT,BUY,1,10,,"))
    ledger.import_csv(other.id, csv("2024-01-02,KO,BUY,1,10,,"))
    ledger.delete_portfolio(portfolio.id)
    assert raw(db_path, "SELECT portfolio_id, ticker FROM transactions") == [(other.id, "KO")]
    assert ledger.portfolio_tickers(other.id) == {"KO": dt.date(2024, 1, 2)}


# --- exact amounts ----------------------------------------------------------------------------------------

def test_amounts_round_trip_exactly(ledger: Ledger, portfolio: Portfolio, db_path: Path) -> None:
    ledger.import_csv(portfolio.id, csv(
        "2024-01-02,AAPL,BUY,12345678.12345678,0.1,0.0001,",
        "2024-01-03,AAPL,BUY,0.00000001,0.2,1234.5678,",
        "2024-01-04,AAPL,BUY,999999999999.99999999,99999999.99999999,0,",
    ))
    stored = ledger.list_transactions(portfolio.id)
    assert [t.quantity for t in stored] == [
        Decimal("12345678.12345678"), Decimal("0.00000001"), Decimal("999999999999.99999999")]
    assert stored[0].price + stored[1].price == Decimal("0.3")
    assert [t.fees for t in stored] == [Decimal("0.0001"), Decimal("1234.5678"), Decimal(0)]
    assert stored[2].price == Decimal("99999999.99999999")
    # Stored as text, so the driver never turns them into floats.
    assert raw(db_path, "SELECT typeof(quantity), quantity FROM transactions ORDER BY id")[0] == (
        "text", "12345678.12345678")


def test_export_then_import_gives_the_same_ledger(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.import_csv(portfolio.id, csv(
        "2024-01-02,AAPL,BUY,10,150.25,1.5,=1+2",
        "2024-01-02,MSFT,BUY,0.5,300,,-5% day",
        '2024-02-01,AAPL,SELL,4,170,0.99,"@SUM(A1), +cmd"',
        "2024-03-01,AAPL,SPLIT,2,,,",
        "2024-04-01,AAPL,DIVIDEND,12,0.24,,'=already quoted",
    ))
    exported = ledger.export_csv(portfolio.id)
    assert "'=1+2" in exported and "'-5% day" in exported and "'@SUM(A1), +cmd" in exported
    copy = ledger.create_portfolio("Copy")
    assert ledger.import_csv(copy.id, exported) == 5
    assert shape(ledger.list_transactions(copy.id)) == shape(ledger.list_transactions(portfolio.id))
    assert ledger.list_transactions(copy.id)[0].note == "=1+2"
    assert ledger.export_csv(copy.id) == exported


# --- adding and deleting ----------------------------------------------------------------------------------

def test_add_transaction_returns_what_was_stored(ledger: Ledger, portfolio: Portfolio) -> None:
    added = ledger.add_transaction(portfolio.id, {
        "date": "2024-01-02", "ticker": "aapl", "type": "BUY", "quantity": 10, "price": 0.1, "fees": "1",
        "note": " first ",
    })
    assert added.id is not None and added.portfolio_id == portfolio.id
    assert added == Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal(10), Decimal("0.1"), Decimal(1),
                                "first", id=added.id, portfolio_id=portfolio.id)
    assert ledger.list_transactions(portfolio.id) == [added]


def test_add_transaction_reports_every_bad_field_without_a_line(ledger: Ledger, portfolio: Portfolio) -> None:
    with pytest.raises(ValidationError) as info:
        ledger.add_transaction(portfolio.id, {"date": "2024-02-30", "ticker": "A B", "type": "BUY",
                                              "quantity": "-1", "price": ""})
    assert [(e.line, e.field) for e in info.value.errors] == [
        (None, "date"), (None, "ticker"), (None, "quantity"), (None, "price")]
    assert ledger.list_transactions(portfolio.id) == []


def test_add_refuses_an_oversell(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    with pytest.raises(ValidationError) as info:
        ledger.add_transaction(portfolio.id, sell("2024-01-05", "AAPL", "10.00000001"))
    [error] = info.value.errors
    assert (error.field, error.line) == ("quantity", None)
    assert "sells 10.00000001 AAPL on 2024-01-05 but only 10 are held" in error.message
    with pytest.raises(ValidationError):
        ledger.add_transaction(portfolio.id, sell("2024-01-01", "AAPL", "1"))  # before the BUY
    with pytest.raises(ValidationError):
        ledger.add_transaction(portfolio.id, sell("2024-01-05", "MSFT", "1"))  # never bought
    ledger.add_transaction(portfolio.id, sell("2024-01-05", "AAPL", "10"))
    assert [t.type for t in ledger.list_transactions(portfolio.id)] == ["BUY", "SELL"]


def test_add_refuses_an_earlier_sell_that_leaves_a_later_one_short(
        ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    ledger.add_transaction(portfolio.id, sell("2024-03-01", "AAPL", "8"))
    with pytest.raises(ValidationError) as info:
        ledger.add_transaction(portfolio.id, sell("2024-02-01", "AAPL", "3"))
    assert "sells 8 AAPL on 2024-03-01 but only 7 are held" in info.value.errors[0].message
    assert len(ledger.list_transactions(portfolio.id)) == 2


def test_a_split_counts_toward_what_is_held(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    split = ledger.add_transaction(portfolio.id, {"date": "2024-02-01", "ticker": "AAPL", "type": "SPLIT",
                                                  "quantity": 2, "price": None})
    ledger.add_transaction(portfolio.id, sell("2024-03-01", "AAPL", "20"))
    with pytest.raises(ValidationError) as info:
        ledger.delete_transaction(portfolio.id, split.id)
    assert info.value.errors[0].field == "quantity"
    assert "sells 20 AAPL on 2024-03-01 but only 10 are held" in info.value.errors[0].message
    assert len(ledger.list_transactions(portfolio.id)) == 3


def test_delete_transaction(ledger: Ledger, portfolio: Portfolio) -> None:
    first = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    second = ledger.add_transaction(portfolio.id, buy("2024-01-03", "AAPL", "5"))
    sold = ledger.add_transaction(portfolio.id, sell("2024-01-04", "AAPL", "12"))
    with pytest.raises(ValidationError):
        ledger.delete_transaction(portfolio.id, first.id)  # 5 left for a SELL of 12
    ledger.delete_transaction(portfolio.id, sold.id)
    ledger.delete_transaction(portfolio.id, first.id)  # now nothing depends on it
    assert ledger.list_transactions(portfolio.id) == [second]
    with pytest.raises(NotFoundError):
        ledger.delete_transaction(portfolio.id, first.id)
    other = ledger.create_portfolio("Other")
    with pytest.raises(NotFoundError):
        ledger.delete_transaction(other.id, second.id)  # not that portfolio's
    assert ledger.list_transactions(portfolio.id) == [second]


# --- editing ----------------------------------------------------------------------------------------------

def test_update_changes_the_values_and_keeps_the_id_and_place(ledger: Ledger, portfolio: Portfolio) -> None:
    first = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10", "100", "1"))
    second = ledger.add_transaction(portfolio.id, buy("2024-01-02", "MSFT", "5", "300"))
    version = ledger.version(portfolio.id)
    changed = ledger.update_transaction(portfolio.id, first.id, {
        "date": "2024-01-02", "ticker": " aapl ", "type": "buy", "quantity": "12.5", "price": "99.99",
        "fees": "", "note": " fixed ", "id": 12345})  # an "id" in the body is ignored, as when adding
    assert changed == Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal("12.5"), Decimal("99.99"),
                                  Decimal(0), "fixed", id=first.id, portfolio_id=portfolio.id)
    assert ledger.list_transactions(portfolio.id) == [changed, second]  # still before the later-entered row
    assert ledger.get_transaction(portfolio.id, first.id) == changed
    assert ledger.version(portfolio.id) == version + 1


def test_update_keeps_the_values_it_is_not_given(ledger: Ledger, portfolio: Portfolio) -> None:
    added = ledger.add_transaction(portfolio.id, {**buy("2024-01-02", "AAPL", "0.00000001", "0.0001", "1.2345"),
                                                  "note": "exact"})
    changed = ledger.update_transaction(portfolio.id, added.id, {"note": "still exact"})
    assert (changed.quantity, changed.price, changed.fees, changed.note) == (
        Decimal("0.00000001"), Decimal("0.0001"), Decimal("1.2345"), "still exact")


def test_update_reports_every_bad_field_as_adding_does_and_writes_nothing(
        ledger: Ledger, portfolio: Portfolio) -> None:
    added = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    version = ledger.version(portfolio.id)
    bad = {"date": "2024-02-30", "ticker": "A B", "type": "BUY", "quantity": "-1", "price": ""}
    with pytest.raises(ValidationError) as edited:
        ledger.update_transaction(portfolio.id, added.id, bad)
    with pytest.raises(ValidationError) as new:
        ledger.add_transaction(portfolio.id, bad)
    assert [e.to_json() for e in edited.value.errors] == [e.to_json() for e in new.value.errors]
    assert [(e.line, e.field) for e in edited.value.errors] == [
        (None, "date"), (None, "ticker"), (None, "quantity"), (None, "price")]
    assert ledger.list_transactions(portfolio.id) == [added]
    assert ledger.version(portfolio.id) == version


@pytest.mark.parametrize(("change", "why"), [
    ({"quantity": "7"}, "quantity down"),  # 7 bought, 8 sold on 2024-03-01
    ({"date": "2024-03-02"}, "the BUY moved after the SELL"),
    ({"ticker": "MSFT"}, "the BUY became another ticker's"),
    ({"type": "DIVIDEND"}, "the BUY became a dividend"),
])
def test_an_edit_that_leaves_a_later_sell_short_is_refused_naming_it(
        ledger: Ledger, portfolio: Portfolio, change: dict, why: str) -> None:
    bought = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    sold = ledger.add_transaction(portfolio.id, sell("2024-03-01", "AAPL", "8"))
    before = ledger.list_transactions(portfolio.id)
    with pytest.raises(ValidationError) as info:
        ledger.update_transaction(portfolio.id, bought.id, change)
    error, *more = info.value.errors
    # A BUY turned DIVIDEND is also a dividend on a ticker never held (issue 15).
    assert [e.field for e in more] == (["ticker"] if why == "the BUY became a dividend" else [])
    held = "7" if why == "quantity down" else "0"
    assert error.field == "quantity", why
    assert error.message == (f"would leave the SELL (id {sold.id}) short: it sells 8 AAPL on 2024-03-01 "
                             f"but only {held} are held then"), why
    assert ledger.list_transactions(portfolio.id) == before


def test_an_edited_sell_may_not_sell_more_than_is_held(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    sold = ledger.add_transaction(portfolio.id, sell("2024-03-01", "AAPL", "8"))
    with pytest.raises(ValidationError) as info:
        ledger.update_transaction(portfolio.id, sold.id, {"quantity": "10.5"})
    assert [(e.field, e.message) for e in info.value.errors] == [
        ("quantity", "sells 10.5 AAPL on 2024-03-01 but only 10 are held then")]
    assert ledger.update_transaction(portfolio.id, sold.id, {"quantity": "10"}).quantity == Decimal(10)


def test_an_edit_is_replayed_in_the_order_the_ledger_lists_it(ledger: Ledger, portfolio: Portfolio) -> None:
    # Rows of one day are listed in entry order (by id). The SELL, entered after the March BUY, moves onto its day
    # and sells all 10: it comes after that BUY, so 5 + 5 are held. (Replayed at its old place it would be short.)
    first = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "5"))
    march = ledger.add_transaction(portfolio.id, buy("2024-03-01", "AAPL", "5"))
    sold = ledger.add_transaction(portfolio.id, sell("2024-01-03", "AAPL", "5"))
    moved = ledger.update_transaction(portfolio.id, sold.id, {"date": "2024-03-01", "quantity": "10"})
    assert [t.id for t in ledger.list_transactions(portfolio.id)] == [first.id, march.id, moved.id]
    assert oversells(ledger.list_transactions(portfolio.id)) == []


def test_update_of_an_unknown_or_another_portfolios_transaction_is_not_found(
        ledger: Ledger, portfolio: Portfolio) -> None:
    mine = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    other = ledger.create_portfolio("Other")
    theirs = ledger.add_transaction(other.id, buy("2024-01-02", "KO", "1"))
    for call in (lambda: ledger.update_transaction(portfolio.id, theirs.id, {"quantity": "2"}),
                 lambda: ledger.update_transaction(portfolio.id, 10**6, {"quantity": "2"}),
                 lambda: ledger.update_transaction(portfolio.id, 2**70, {"quantity": "2"}),
                 lambda: ledger.get_transaction(portfolio.id, theirs.id),
                 lambda: ledger.get_transaction(other.id, mine.id)):
        with pytest.raises(NotFoundError):
            call()
    assert ledger.list_transactions(other.id) == [theirs]


def test_a_ledger_already_oversold_does_not_block_unrelated_changes(
        ledger: Ledger, portfolio: Portfolio, db_path: Path) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "1"))
    # A row from before these checks existed, written behind the ledger's back.
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            "INSERT INTO transactions (portfolio_id, date, ticker, type, quantity, price, fees, note, "
            "created_at) VALUES (?, '2024-01-03', 'AAPL', 'SELL', '5', '1', '0', '', '2024-01-03 00:00:00')",
            (portfolio.id,))
    ledger.add_transaction(portfolio.id, buy("2024-01-04", "MSFT", "1"))
    assert ledger.import_csv(portfolio.id, csv("2024-01-05,KO,BUY,1,10,,")) == 1
    assert len(oversells(ledger.list_transactions(portfolio.id))) == 1


# --- importing --------------------------------------------------------------------------------------------

def test_import_adds_every_row_in_date_then_same_day_order(ledger: Ledger, portfolio: Portfolio) -> None:
    """On one date a ticker's rows go SPLIT, BUY, DIVIDEND, SELL (issue 15), whatever the file's order."""
    count = ledger.import_csv(portfolio.id, csv(
        "2024-03-01,AAPL,SELL,5,20,,",
        "2024-01-02,AAPL,BUY,10,10,,",
        "2024-03-01,AAPL,DIVIDEND,5,0.5,,",
        "2024-02-01,MSFT,BUY,1,300,,",
    ))
    assert count == 4
    assert [(t.date.isoformat(), t.ticker, t.type) for t in ledger.list_transactions(portfolio.id)] == [
        ("2024-01-02", "AAPL", "BUY"), ("2024-02-01", "MSFT", "BUY"),
        ("2024-03-01", "AAPL", "DIVIDEND"), ("2024-03-01", "AAPL", "SELL")]


def test_one_bad_row_imports_nothing(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.import_csv(portfolio.id, csv("2024-01-02,AAPL,BUY,1,10,,"))
    before = ledger.export_csv(portfolio.id)
    with pytest.raises(ValidationError) as info:
        ledger.import_csv(portfolio.id, csv(*["2024-01-03,MSFT,BUY,1,10,,"] * 50,
                                            "2024-01-03,MSFT,BUY,0,10,,"))
    assert [(e.line, e.field) for e in info.value.errors] == [(52, "quantity")]
    assert ledger.export_csv(portfolio.id) == before


def test_import_reports_oversells_by_line_and_imports_nothing(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    with pytest.raises(ValidationError) as info:
        ledger.import_csv(portfolio.id, csv(
            "2024-01-03,AAPL,SELL,4,10,,",  # 2: fine, 6 left
            "2024-01-04,AAPL,SELL,7,10,,",  # 3: oversell
            "2024-01-04,MSFT,SELL,1,10,,",  # 4: oversell, never held
            "2024-01-05,AAPL,SELL,6,10,,",  # 5: fine (line 3 is not applied)
        ))
    assert info.value.message == "2 rows rejected"
    assert [(e.line, e.field) for e in info.value.errors] == [(3, "quantity"), (4, "quantity")]
    assert "only 6 are held" in info.value.errors[0].message
    assert len(ledger.list_transactions(portfolio.id)) == 1


def test_existing_transactions_come_first_on_the_same_date(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    assert ledger.import_csv(portfolio.id, csv("2024-01-02,AAPL,SELL,10,10,,")) == 1
    # Within one file a SELL listed above its same-day BUY (a broker's newest-first export) is fine: BUYs go first.
    assert ledger.import_csv(portfolio.id, csv("2024-02-02,KO,SELL,5,10,,", "2024-02-02,KO,BUY,5,10,,")) == 2
    assert [t.type for t in ledger.list_transactions(portfolio.id) if t.ticker == "KO"] == ["BUY", "SELL"]


def test_import_refuses_rows_that_leave_an_existing_sell_short(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    existing = ledger.add_transaction(portfolio.id, sell("2024-03-01", "AAPL", "10"))
    with pytest.raises(ValidationError) as info:
        ledger.import_csv(portfolio.id, csv("2024-02-01,AAPL,SELL,1,10,,"))
    [error] = info.value.errors
    assert (error.line, error.field) == (None, "quantity")
    assert f"existing SELL (id {existing.id})" in error.message
    assert len(ledger.list_transactions(portfolio.id)) == 2


def test_a_header_alone_imports_nothing_and_is_fine(ledger: Ledger, portfolio: Portfolio) -> None:
    assert ledger.import_csv(portfolio.id, HEADER + "\n") == 0
    assert ledger.list_transactions(portfolio.id) == []


# --- versions and tickers ---------------------------------------------------------------------------------

def test_version_changes_with_every_change_to_the_transactions(ledger: Ledger, portfolio: Portfolio) -> None:
    other = ledger.create_portfolio("Other")
    versions = [ledger.version(portfolio.id)]
    added = ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    versions.append(ledger.version(portfolio.id))
    ledger.import_csv(portfolio.id, csv("2024-01-03,AAPL,BUY,1,10,,", "2024-01-04,AAPL,BUY,1,10,,"))
    versions.append(ledger.version(portfolio.id))
    ledger.delete_transaction(portfolio.id, added.id)
    versions.append(ledger.version(portfolio.id))
    assert versions == [versions[0] + n for n in range(4)]
    for refused in (lambda: ledger.add_transaction(portfolio.id, sell("2024-01-05", "AAPL", "99")),
                    lambda: ledger.import_csv(portfolio.id, csv("2024-01-05,AAPL,BUY,0,10,,"))):
        with pytest.raises(ValidationError):
            refused()
    ledger.import_csv(portfolio.id, HEADER)
    assert ledger.version(portfolio.id) == versions[-1]  # nothing changed, nothing to invalidate
    assert ledger.version(other.id) == versions[0]


def test_tickers_with_their_earliest_date(ledger: Ledger, portfolio: Portfolio) -> None:
    other = ledger.create_portfolio("Other")
    ledger.import_csv(portfolio.id, csv("2024-02-01,AAPL,BUY,1,10,,", "2023-05-01,AAPL,BUY,1,10,,",
                                        "2024-01-02,MSFT,BUY,1,10,,"))
    ledger.import_csv(other.id, csv("2022-01-03,AAPL,BUY,1,10,,", "2024-06-03,KO,BUY,1,10,,"))
    assert ledger.portfolio_tickers(portfolio.id) == {
        "AAPL": dt.date(2023, 5, 1), "MSFT": dt.date(2024, 1, 2)}
    assert ledger.portfolio_tickers(other.id) == {"AAPL": dt.date(2022, 1, 3), "KO": dt.date(2024, 6, 3)}
    assert ledger.portfolio_tickers(ledger.create_portfolio("Empty").id) == {}


# --- concurrency ------------------------------------------------------------------------------------------

def run_together(count: int, work) -> list[object]:
    """Run `work(i)` in `count` threads released at the same moment; the results or exceptions, by i."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_five_concurrent_imports_all_land(ledger: Ledger, portfolio: Portfolio) -> None:
    files = [csv(*[f"2024-01-{day:02d},T{i},BUY,{day},10,,"for day in range(1, 11)],
                 f"2024-02-01,T{i},SELL,55,12,,") for i in range(5)]
    results = run_together(5, lambda i: ledger.import_csv(portfolio.id, files[i]))
    assert results == [11] * 5
    stored = ledger.list_transactions(portfolio.id)
    assert len(stored) == 55
    assert oversells(stored) == []
    assert ledger.version(portfolio.id) == 1 + 5


def test_concurrent_imports_cannot_all_sell_the_same_shares(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "10"))
    results = run_together(
        5, lambda i: ledger.import_csv(portfolio.id, csv(f"2024-02-0{i + 1},AAPL,SELL,3,12,,")))
    assert sorted(type(r).__name__ for r in results) == ["ValidationError"] * 2 + ["int"] * 3
    stored = ledger.list_transactions(portfolio.id)
    assert [t.type for t in stored].count("SELL") == 3
    assert oversells(stored) == []


def test_checked_writes_take_the_write_lock_first(ledger: Ledger, portfolio: Portfolio) -> None:
    statements: list[str] = []
    # What SQLite itself runs (the IMMEDIATE begin goes to the driver's connection, not through SQLAlchemy), on
    # connections made from now on.
    ledger.engine.dispose()
    event.listen(ledger.engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    ledger.import_csv(portfolio.id, csv("2024-01-02,AAPL,BUY,1,10,,"))
    writes = [s for s in statements if s.startswith(("BEGIN", "SELECT", "INSERT"))]
    # The check reads under the lock: BEGIN IMMEDIATE precedes the SELECT of the ledger and the INSERT.
    assert writes.count("BEGIN IMMEDIATE") == 1
    assert writes.index("BEGIN IMMEDIATE") < max(i for i, s in enumerate(writes) if s.startswith("INSERT"))
    assert writes[writes.index("BEGIN IMMEDIATE") + 1].startswith("SELECT")
    statements.clear()
    ledger.list_transactions(portfolio.id)
    assert "BEGIN IMMEDIATE" not in statements and "BEGIN" in statements  # readers never queue behind writers


# --- currency and fx_rate (issue 14) -----------------------------------------------------------------------------

MONEY_HEADER = HEADER + ",currency,fx_rate"


def money(transactions: list[Transaction]) -> list[tuple]:
    return [(t.ticker, t.price, t.fees, t.currency, t.fx_rate) for t in transactions]


def test_currency_and_rate_are_stored_exactly_and_round_trip(ledger: Ledger, portfolio: Portfolio,
                                                            db_path: Path) -> None:
    ledger.import_csv(portfolio.id, "\n".join([
        MONEY_HEADER,
        "2024-01-02,VOD.L,BUY,1000,72.345,595,,GBp,1.2687",  # pence: 0.72345 and 5.95 pounds
        "2024-01-03,SAP.DE,BUY,3,180.12345678,1.2345,,eur,1.0912345678",
        "2024-01-04,AAPL,BUY,1,185.5,,,,",  # neither: null, null
        "2024-01-05,7203.T,BUY,100,2650,,,,0.0067567568",  # a rate without a currency
        "2024-01-06,NPN.JO,BUY,2,345678.12345678,0.0001,,ZAc,",
    ]) + "\n")
    stored = ledger.list_transactions(portfolio.id)
    expected = [
        ("VOD.L", Decimal("0.72345"), Decimal("5.95"), "GBP", Decimal("1.2687")),
        ("SAP.DE", Decimal("180.12345678"), Decimal("1.2345"), "EUR", Decimal("1.0912345678")),
        ("AAPL", Decimal("185.5"), Decimal(0), None, None),
        ("7203.T", Decimal(2650), Decimal(0), None, Decimal("0.0067567568")),
        ("NPN.JO", Decimal("3456.7812345678"), Decimal("0.000001"), "ZAR", None),
    ]
    assert money(stored) == expected
    # In the file: decimal text and NULLs, never floats.
    assert raw(db_path, "SELECT currency, fx_rate, price FROM transactions ORDER BY id") == [
        ("GBP", "1.2687", "0.72345"), ("EUR", "1.0912345678", "180.12345678"), (None, None, "185.5"),
        (None, "0.0067567568", "2650"), ("ZAR", None, "3456.7812345678")]
    exported = ledger.export_csv(portfolio.id)
    assert exported.splitlines()[0] == "date,ticker,type,quantity,price,fees,note,currency,fx_rate"
    assert exported.splitlines()[1] == "2024-01-02,VOD.L,BUY,1000,0.72345,5.95,,GBP,1.2687"
    assert exported.splitlines()[3] == "2024-01-04,AAPL,BUY,1,185.5,0,,,"
    copy = ledger.create_portfolio("Copy")
    assert ledger.import_csv(copy.id, exported) == 5
    assert money(ledger.list_transactions(copy.id)) == expected
    assert ledger.export_csv(copy.id) == exported
    # A reopened ledger (a new engine on the same file) reads the same.
    again = Ledger(f"sqlite:///{db_path}")
    try:
        assert money(again.list_transactions(portfolio.id)) == expected
        assert again.get_transaction(portfolio.id, stored[0].id) == stored[0]
    finally:
        again.dispose()


def test_add_and_update_carry_currency_and_rate(ledger: Ledger, portfolio: Portfolio) -> None:
    added = ledger.add_transaction(portfolio.id, {**buy("2024-01-02", "VOD.L", "10", "1234.5", "100"),
                                                  "currency": "GBp"})
    assert (added.price, added.fees, added.currency, added.fx_rate) == (
        Decimal("12.345"), Decimal(1), "GBP", None)
    # A rate alone: the stored currency and amounts stay as they are (not divided again).
    rated = ledger.update_transaction(portfolio.id, added.id, {"fx_rate": "1.2687"})
    assert money([rated]) == [("VOD.L", Decimal("12.345"), Decimal(1), "GBP", Decimal("1.2687"))]
    assert ledger.list_transactions(portfolio.id) == [rated]
    # Another field edited: currency and rate are kept.
    noted = ledger.update_transaction(portfolio.id, added.id, {"note": "ISA"})
    assert (noted.note, noted.currency, noted.fx_rate) == ("ISA", "GBP", Decimal("1.2687"))
    # Null or "" unsets them.
    cleared = ledger.update_transaction(portfolio.id, added.id, {"currency": None, "fx_rate": ""})
    assert money([cleared]) == [("VOD.L", Decimal("12.345"), Decimal(1), None, None)]
    # A price typed in pence by mistake, corrected by saying so: 7250 GBp = 72.5 GBP (fees 1 GBp = 0.01 GBP).
    typo = ledger.add_transaction(portfolio.id, buy("2024-01-03", "VOD.L", "5", "7250", "1"))
    fixed = ledger.update_transaction(portfolio.id, typo.id, {"currency": "GBp"})
    assert money([fixed]) == [("VOD.L", Decimal("72.5"), Decimal("0.01"), "GBP", None)]
    assert ledger.get_transaction(portfolio.id, typo.id) == fixed


def test_a_bad_rate_in_an_update_changes_nothing(ledger: Ledger, portfolio: Portfolio) -> None:
    added = ledger.add_transaction(portfolio.id, {**buy("2024-01-02", "SAP.DE", "1", "180"),
                                                  "currency": "EUR", "fx_rate": "1.09"})
    version = ledger.version(portfolio.id)
    for bad, fragment in ((0, "greater than 0"), ("-1", "negative"), ("x", "not a number")):
        with pytest.raises(ValidationError) as refused:
            ledger.update_transaction(portfolio.id, added.id, {"fx_rate": bad})
        assert [e.field for e in refused.value.errors] == ["fx_rate"]
        assert fragment in refused.value.errors[0].message
    with pytest.raises(ValidationError) as refused:
        ledger.update_transaction(portfolio.id, added.id, {"currency": "EURO"})
    assert [e.field for e in refused.value.errors] == ["currency"]
    assert ledger.list_transactions(portfolio.id) == [added] and ledger.version(portfolio.id) == version


# --- the base currency (issue 14) ----------------------------------------------------------------------------------

def test_changing_the_base_currency_bumps_the_version_and_tells_the_caches(ledger: Ledger,
                                                                            portfolio: Portfolio) -> None:
    changes: list[int] = []
    ledger.add_listener(changes.append)
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "1", "185"))  # no fx_rate: nothing refuses
    version = ledger.version(portfolio.id)
    changes.clear()
    changed = ledger.set_base_currency(portfolio.id, " eur ")
    assert changed.base_currency == "EUR" and changed.name == "Main"
    assert ledger.get_portfolio(portfolio.id).base_currency == "EUR"
    assert ledger.version(portfolio.id) == version + 1
    assert changes == [portfolio.id]
    # The same base again: nothing to do, no new version.
    assert ledger.set_base_currency(portfolio.id, "EUR").base_currency == "EUR"
    assert ledger.version(portfolio.id) == version + 1
    with pytest.raises(ValidationError) as refused:
        ledger.set_base_currency(portfolio.id, "EURO")
    assert [e.field for e in refused.value.errors] == ["base_currency"]
    assert ledger.get_portfolio(portfolio.id).base_currency == "EUR"


def test_a_new_base_with_stored_rates_is_refused_unless_they_are_cleared(ledger: Ledger, portfolio: Portfolio,
                                                                          db_path: Path) -> None:
    ledger.add_transaction(portfolio.id, {**buy("2024-01-02", "SAP.DE", "1", "180"), "currency": "EUR",
                                          "fx_rate": "1.09"})
    ledger.add_transaction(portfolio.id, {**buy("2024-01-03", "VOD.L", "10", "0.7"), "currency": "GBP",
                                          "fx_rate": "1.27"})
    ledger.add_transaction(portfolio.id, {**buy("2024-01-04", "7203.T", "100", "2650"), "currency": "JPY"})
    version = ledger.version(portfolio.id)
    with pytest.raises(ValidationError) as refused:
        ledger.set_base_currency(portfolio.id, "GBP")
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("base_currency", "2 transactions carry an fx_rate into USD; send clear_fx_rates: true to drop them")]
    assert ledger.get_portfolio(portfolio.id).base_currency == "USD"
    assert ledger.version(portfolio.id) == version
    assert raw(db_path, "SELECT fx_rate FROM transactions ORDER BY id") == [("1.09",), ("1.27",), (None,)]
    assert ledger.set_base_currency(portfolio.id, "GBP", clear_fx_rates=True).base_currency == "GBP"
    assert raw(db_path, "SELECT fx_rate, currency FROM transactions ORDER BY id") == [
        (None, "EUR"), (None, "GBP"), (None, "JPY")]
    assert ledger.version(portfolio.id) == version + 1


def test_the_base_currency_of_another_owners_portfolio_is_not_found(ledger: Ledger) -> None:
    bobs = ledger.for_owner("bob").create_portfolio("Bob's")
    with pytest.raises(NotFoundError):
        ledger.for_owner("alice").set_base_currency(bobs.id, "EUR", clear_fx_rates=True)
    assert ledger.for_owner("bob").get_portfolio(bobs.id).base_currency == "USD"
    assert ledger.for_owner("bob").set_base_currency(bobs.id, "EUR").base_currency == "EUR"


def test_an_edit_keeps_a_ratio_split_and_a_time_exact(ledger: Ledger, portfolio: Portfolio) -> None:
    ledger.add_transaction(portfolio.id, buy("2024-01-02", "AAPL", "99"))
    split = ledger.add_transaction(portfolio.id, {"date": "2024-02-01", "ticker": "AAPL", "type": "SPLIT",
                                                  "quantity": "1:3", "time": "09:30"})
    edited = ledger.update_transaction(portfolio.id, split.id, {"note": "reverse split"})
    assert (str(edited.ratio), edited.time, edited.note) == ("1:3", dt.time(9, 30), "reverse split")
    # 99 x 1 / 3 = 33 exactly: selling 33 closes the holding, selling 33.00000001 oversells.
    ledger.add_transaction(portfolio.id, sell("2024-03-01", "AAPL", "33"))
    with pytest.raises(ValidationError):
        ledger.add_transaction(portfolio.id, sell("2024-03-02", "AAPL", "0.00000001"))
    unset = ledger.update_transaction(portfolio.id, split.id, {"time": None, "quantity": "2"})
    assert (unset.ratio, unset.time, unset.quantity) == (None, None, Decimal(2))
