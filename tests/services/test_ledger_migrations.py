"""Ids are never reused (SQLite and Postgres), an old SQLite database is upgraded in place keeping every row, and
the per-owner quotas (services/ledger_migrations.py, services/ledger_guards.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from services.ledger import Ledger
from services.models import ValidationError

HEADER = "date,ticker,type,quantity,price,fees,note"

# The tables exactly as the code before AUTOINCREMENT created them (`git show 327896c:services/ledger.py`'s
# PortfolioRow and TransactionRow, as SQLAlchemy 2 emits them for SQLite).
OLD_SCHEMA = [
    """CREATE TABLE portfolios (
\tid INTEGER NOT NULL, 
\towner_id VARCHAR(64) NOT NULL, 
\tname VARCHAR(100) NOT NULL, 
\tbase_currency VARCHAR(3) NOT NULL, 
\tcreated_at DATETIME NOT NULL, 
\tversion INTEGER NOT NULL, 
\tPRIMARY KEY (id)
)""",  # noqa: W291  (SQLAlchemy's trailing spaces, kept)
    "CREATE INDEX ix_portfolios_owner_id ON portfolios (owner_id)",
    """CREATE TABLE transactions (
\tid INTEGER NOT NULL, 
\tportfolio_id INTEGER NOT NULL, 
\tdate DATE NOT NULL, 
\tticker VARCHAR(20) NOT NULL, 
\ttype VARCHAR(10) NOT NULL, 
\tquantity VARCHAR(40) NOT NULL, 
\tprice VARCHAR(40) NOT NULL, 
\tfees VARCHAR(40) NOT NULL, 
\tnote TEXT NOT NULL, 
\tcreated_at DATETIME NOT NULL, 
\tPRIMARY KEY (id), 
\tFOREIGN KEY(portfolio_id) REFERENCES portfolios (id) ON DELETE CASCADE
)""",  # noqa: W291
    "CREATE INDEX ix_transactions_portfolio_date ON transactions (portfolio_id, date)",
]

# Portfolios 1, 2, 4 and 5 are left: 3 was deleted in the middle and 6, the newest, last (so the old code's next
# portfolio would have been 6 again). Transactions likewise: 1-4 and 6 are left, 5 and 7 deleted.
OLD_PORTFOLIOS = [
    (1, "local", "Main", "USD", "2024-01-01 09:00:00.000000", 3),
    (2, "local", "Pension", "EUR", "2024-01-02 10:30:00.123456", 1),
    (4, "local", "Crypto-ish", "GBP", "2024-02-03 11:00:00.000000", 7),
    (5, "local", "Empty", "USD", "2024-03-04 12:00:00.000000", 1),
]
OLD_TRANSACTIONS = [
    (1, 1, "2024-01-02", "AAPL", "BUY", "10", "185.64", "1.5", "first", "2024-01-02 15:00:00.000000"),
    (2, 1, "2024-01-03", "BRK-A", "BUY", "0.12345678", "98765432.87654321", "0.0001", "", "2024-01-03 15:00:00"),
    (3, 2, "2024-01-04", "SAP.DE", "BUY", "999999999999.9999999999", "0.0000000001", "0", "exact",
     "2024-01-04 15:00:00.000000"),
    (4, 4, "2024-02-05", "KO", "BUY", "3", "60.5", "0", "dividends \u2764", "2024-02-05 15:00:00.000000"),
    (6, 1, "2024-02-06", "AAPL", "SELL", "4", "190", "0.25", "part", "2024-02-06 15:00:00.000000"),
]


def build_old_database(path: Path) -> None:
    """A database file as the old code left it, filled by hand."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        for statement in OLD_SCHEMA:
            connection.execute(statement)
        connection.executemany("INSERT INTO portfolios VALUES (?, ?, ?, ?, ?, ?)", OLD_PORTFOLIOS)
        connection.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", OLD_TRANSACTIONS)
        connection.commit()
    finally:
        connection.close()


def raw(path: Path, sql: str, *params: object) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def table_sql(path: Path) -> dict[str, str]:
    return dict(raw(path, "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))


def index_columns(path: Path, index: str) -> list[str]:
    return [name for _, _, name in raw(path, f'PRAGMA index_info("{index}")')]


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "old" / "stocktracker.db"
    build_old_database(path)
    return path


@pytest.fixture
def upgraded(old_db: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{old_db}")
    ledger.create_all()
    yield ledger
    ledger.dispose()


# --- the old database is what the old code made ------------------------------------------------------------------

def test_the_hand_built_database_has_no_autoincrement_to_begin_with(old_db: Path) -> None:
    # Guard of the tests below: what they upgrade really is the old schema.
    assert set(table_sql(old_db)) == {"portfolios", "transactions"}
    assert not any("AUTOINCREMENT" in sql.upper() for sql in table_sql(old_db).values())


# --- the upgrade ------------------------------------------------------------------------------------------------

def test_the_upgrade_keeps_every_row_with_its_id_and_values(upgraded: Ledger, old_db: Path) -> None:
    assert raw(old_db, "SELECT id, owner_id, name, base_currency, created_at, version FROM portfolios ORDER BY id"
               ) == OLD_PORTFOLIOS
    assert raw(old_db, "SELECT id, portfolio_id, date, ticker, type, quantity, price, fees, note, created_at "
                       "FROM transactions ORDER BY id") == OLD_TRANSACTIONS


def test_the_upgraded_ledger_reads_the_old_rows_exactly(upgraded: Ledger) -> None:
    assert [(p.id, p.name, p.base_currency, p.owner_id) for p in upgraded.list_portfolios()] == [
        (1, "Main", "USD", "local"), (2, "Pension", "EUR", "local"), (4, "Crypto-ish", "GBP", "local"),
        (5, "Empty", "USD", "local")]
    assert [(p.id, p.owner_id) for p in upgraded.for_owner("local").list_portfolios()] == [
        (1, "local"), (2, "local"), (4, "local"), (5, "local")]
    assert [upgraded.version(pid) for pid in (1, 2, 4, 5)] == [3, 1, 7, 1]
    main = upgraded.list_transactions(1)
    assert [(t.id, t.date, t.ticker, t.type, t.quantity, t.price, t.fees, t.note) for t in main] == [
        (1, dt.date(2024, 1, 2), "AAPL", "BUY", Decimal("10"), Decimal("185.64"), Decimal("1.5"), "first"),
        (2, dt.date(2024, 1, 3), "BRK-A", "BUY", Decimal("0.12345678"), Decimal("98765432.87654321"),
         Decimal("0.0001"), ""),
        (6, dt.date(2024, 2, 6), "AAPL", "SELL", Decimal("4"), Decimal("190"), Decimal("0.25"), "part"),
    ]
    [exact] = upgraded.list_transactions(2)
    assert (exact.id, exact.quantity, exact.price) == (
        3, Decimal("999999999999.9999999999"), Decimal("0.0000000001"))
    assert [(t.id, t.note) for t in upgraded.list_transactions(4)] == [(4, "dividends \u2764")]
    assert upgraded.list_transactions(5) == []


def test_the_upgrade_adds_the_account_tables_and_autoincrement(upgraded: Ledger, old_db: Path) -> None:
    tables = table_sql(old_db)
    assert {"portfolios", "transactions", "users", "api_tokens"} <= set(tables)
    assert not any(name.startswith("_old_") for name in tables)  # the renamed-aside copies are gone
    for name in ("portfolios", "transactions", "users", "api_tokens"):
        assert "AUTOINCREMENT" in tables[name].upper(), name
    assert raw(old_db, "SELECT COUNT(*) FROM users") == [(0,)]


def test_the_upgrade_recreates_the_indexes(upgraded: Ledger, old_db: Path) -> None:
    indexes = {name for (name,) in raw(old_db, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_portfolios_owner_id", "ix_transactions_portfolio_date"} <= indexes
    assert index_columns(old_db, "ix_portfolios_owner_id") == ["owner_id"]
    assert index_columns(old_db, "ix_transactions_portfolio_date") == ["portfolio_id", "date"]
    for index in ("ix_portfolios_owner_id", "ix_transactions_portfolio_date"):
        [(table,)] = raw(old_db, "SELECT tbl_name FROM sqlite_master WHERE name = ?", index)
        assert table == index.split("_")[1], index


def test_foreign_keys_still_point_at_portfolios_and_cascade(upgraded: Ledger, old_db: Path) -> None:
    # (table, from, to, on_delete) of the transactions' one foreign key: the new `portfolios`, not the copy the
    # rebuild renamed aside (SQLite rewrites references when a table is renamed).
    assert [(row[2], row[3], row[4], row[6]) for row in raw(old_db, "PRAGMA foreign_key_list(transactions)")] == [
        ("portfolios", "portfolio_id", "id", "CASCADE")]
    assert raw(old_db, "PRAGMA foreign_key_check") == []
    upgraded.delete_portfolio(1)
    assert raw(old_db, "SELECT id FROM transactions ORDER BY id") == [(3,), (4,)]
    # And through a plain connection with foreign keys on, as any other client would delete.
    connection = sqlite3.connect(old_db)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("DELETE FROM portfolios WHERE id = 4")
        connection.commit()
    finally:
        connection.close()
    assert raw(old_db, "SELECT id FROM transactions ORDER BY id") == [(3,)]
    # A transaction of a portfolio that does not exist is refused.
    connection = sqlite3.connect(old_db)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute("INSERT INTO transactions VALUES (100, 999, '2024-01-01', 'X', 'BUY', '1', '1', "
                               "'0', '', '2024-01-01 00:00:00', NULL, NULL, NULL, NULL, NULL)")
    finally:
        connection.close()


def test_a_second_create_all_changes_nothing(upgraded: Ledger, old_db: Path) -> None:
    def everything() -> tuple:
        schema = raw(old_db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        rows = {table: raw(old_db, f'SELECT * FROM "{table}" ORDER BY 1')
                for table in ("portfolios", "transactions", "users", "api_tokens", "sqlite_sequence")}
        return schema, rows

    before = everything()
    upgraded.create_all()
    assert everything() == before
    again = Ledger(f"sqlite:///{old_db}")  # as the next start of the app would
    try:
        again.create_all()
    finally:
        again.dispose()
    assert everything() == before


def test_ids_after_the_upgrade_are_above_the_old_maximum_and_never_reused(upgraded: Ledger) -> None:
    # The old maximum ids are 5 (portfolios) and 6 (transactions).
    created = upgraded.create_portfolio("After the upgrade")
    assert created.id == 6
    added = upgraded.add_transaction(created.id, {"date": "2024-05-01", "ticker": "MSFT", "type": "BUY",
                                                  "quantity": "1", "price": "400"})
    assert added.id == 7
    # Now the newest of each is deleted: the next ones still get new ids (the old schema gave 6 and 7 again).
    upgraded.delete_transaction(created.id, added.id)
    upgraded.delete_portfolio(created.id)
    assert upgraded.create_portfolio("Next").id == 7
    assert upgraded.add_transaction(1, {"date": "2024-05-01", "ticker": "MSFT", "type": "BUY", "quantity": "1",
                                        "price": "400"}).id == 8


def test_an_old_database_without_transactions_table_is_upgraded_too(tmp_path: Path) -> None:
    # Only the portfolios table (a file from an interrupted first start, say): the rest is created.
    path = tmp_path / "partial.db"
    connection = sqlite3.connect(path)
    try:
        connection.execute(OLD_SCHEMA[0])
        connection.execute(OLD_SCHEMA[1])
        connection.executemany("INSERT INTO portfolios VALUES (?, ?, ?, ?, ?, ?)", OLD_PORTFOLIOS[:2])
        connection.commit()
    finally:
        connection.close()
    ledger = Ledger(f"sqlite:///{path}")
    try:
        ledger.create_all()
        tables = table_sql(path)
        assert "AUTOINCREMENT" in tables["portfolios"].upper() and "AUTOINCREMENT" in tables["transactions"].upper()
        assert [p.id for p in ledger.list_portfolios()] == [1, 2]
        assert ledger.add_transaction(2, {"date": "2024-05-01", "ticker": "MSFT", "type": "BUY", "quantity": "1",
                                          "price": "400"}).id == 1
        assert ledger.create_portfolio("Third").id == 3
    finally:
        ledger.dispose()


# --- currency and fx_rate (issue 14): columns added to an existing table -----------------------------------------

def columns(path: Path, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, not null) of each column, in order."""
    return [(name, kind, notnull) for _, name, kind, notnull, _, _ in raw(path, f'PRAGMA table_info("{table}")')]


OLD_TRANSACTION_COLUMNS = [
    ("id", "INTEGER", 1), ("portfolio_id", "INTEGER", 1), ("date", "DATE", 1), ("ticker", "VARCHAR(20)", 1),
    ("type", "VARCHAR(10)", 1), ("quantity", "VARCHAR(40)", 1), ("price", "VARCHAR(40)", 1),
    ("fees", "VARCHAR(40)", 1), ("note", "TEXT", 1), ("created_at", "DATETIME", 1)]
NEW_COLUMNS = [("currency", "VARCHAR(3)", 0), ("fx_rate", "VARCHAR(40)", 0), ("trade_time", "TIME", 0),
               ("ratio_denominator", "INTEGER", 0), ("batch_id", "INTEGER", 0)]  # batch_id: issue 17's staged imports

# The tables as the release before issue 14 made them: AUTOINCREMENT already, no currency or fx_rate (the SQL of
# OLD_SCHEMA with SQLAlchemy's "PRIMARY KEY AUTOINCREMENT", as `sqlite_master` held it).
PREVIOUS_SCHEMA = [
    statement.replace("\tid INTEGER NOT NULL, ", "\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, ")
    .replace(", \n\tPRIMARY KEY (id)", "")
    for statement in OLD_SCHEMA
]


@pytest.fixture
def previous_db(tmp_path: Path) -> Path:
    path = tmp_path / "previous.db"
    connection = sqlite3.connect(path)
    try:
        for statement in PREVIOUS_SCHEMA:
            connection.execute(statement)
        connection.executemany("INSERT INTO portfolios VALUES (?, ?, ?, ?, ?, ?)", OLD_PORTFOLIOS)
        connection.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", OLD_TRANSACTIONS)
        connection.execute("UPDATE sqlite_sequence SET seq = 7 WHERE name = 'transactions'")  # 7 was deleted
        connection.commit()
    finally:
        connection.close()
    return path


def test_the_previous_database_has_autoincrement_and_no_currency_to_begin_with(previous_db: Path) -> None:
    assert all("AUTOINCREMENT" in table_sql(previous_db)[t] for t in ("portfolios", "transactions"))
    assert columns(previous_db, "transactions") == OLD_TRANSACTION_COLUMNS


def test_the_previous_database_gets_the_two_columns_and_keeps_every_row(previous_db: Path) -> None:
    ledger = Ledger(f"sqlite:///{previous_db}")
    try:
        ledger.create_all()
        assert columns(previous_db, "transactions") == OLD_TRANSACTION_COLUMNS + NEW_COLUMNS
        assert raw(previous_db, "SELECT * FROM transactions ORDER BY id") == [
            (*row, None, None, None, None, None) for row in OLD_TRANSACTIONS]
        assert [(t.id, t.price, t.currency, t.fx_rate) for t in ledger.list_transactions(1)] == [
            (1, Decimal("185.64"), None, None), (2, Decimal("98765432.87654321"), None, None),
            (6, Decimal("190"), None, None)]
        # Not rebuilt (it had AUTOINCREMENT): the sequence goes on after 7, the deleted newest.
        added = ledger.add_transaction(4, {"date": "2024-05-01", "ticker": "VOD.L", "type": "BUY", "quantity": "10",
                                           "price": "7250.5", "currency": "GBp", "fx_rate": "1.2687"})
        assert (added.id, added.price, added.currency, added.fx_rate) == (
            8, Decimal("72.505"), "GBP", Decimal("1.2687"))
        assert raw(previous_db, "SELECT currency, fx_rate, price FROM transactions WHERE id = 8") == [
            ("GBP", "1.2687", "72.505")]
    finally:
        ledger.dispose()


def test_adding_the_columns_a_second_time_changes_nothing(previous_db: Path) -> None:
    def everything() -> tuple:
        schema = raw(previous_db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        return schema, raw(previous_db, "SELECT * FROM transactions ORDER BY id")

    ledger = Ledger(f"sqlite:///{previous_db}")
    try:
        ledger.create_all()
        after_first = everything()
        ledger.create_all()  # the same engine again
        assert everything() == after_first
    finally:
        ledger.dispose()
    again = Ledger(f"sqlite:///{previous_db}")  # as the next start of the app would
    try:
        again.create_all()
    finally:
        again.dispose()
    assert everything() == after_first
    assert columns(previous_db, "transactions") == OLD_TRANSACTION_COLUMNS + NEW_COLUMNS
    assert "\"currency\" VARCHAR(3)" in table_sql(previous_db)["transactions"]  # added by ALTER TABLE, once
    assert table_sql(previous_db)["transactions"].count("currency") == 1


def test_the_oldest_database_is_rebuilt_with_the_two_columns(upgraded: Ledger, old_db: Path) -> None:
    # Rebuilt from the models (AUTOINCREMENT), which have the columns: the copy by name leaves them NULL.
    assert columns(old_db, "transactions") == OLD_TRANSACTION_COLUMNS + NEW_COLUMNS
    assert "AUTOINCREMENT" in table_sql(old_db)["transactions"].upper()
    assert raw(old_db, "SELECT currency, fx_rate FROM transactions") == [(None, None)] * len(OLD_TRANSACTIONS)
    edited = upgraded.update_transaction(4, 4, {"currency": "eur", "fx_rate": 1.0875})
    assert (edited.quantity, edited.price, edited.note, edited.currency, edited.fx_rate) == (
        Decimal(3), Decimal("60.5"), "dividends \u2764", "EUR", Decimal("1.0875"))
    assert upgraded.list_transactions(4) == [edited]


def test_postgres_gets_the_two_columns_keeping_its_rows(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    try:
        ledger.create_all()
        portfolio = ledger.create_portfolio("Before issue 14")
        kept = ledger.add_transaction(portfolio.id, {"date": "2024-01-02", "ticker": "AAPL", "type": "BUY",
                                                     "quantity": "0.12345678", "price": "185.64", "fees": "1.5"})
        with ledger.engine.begin() as connection:  # the table as the previous release made it
            connection.execute(text("ALTER TABLE transactions DROP COLUMN currency, DROP COLUMN fx_rate"))
        ledger.create_all()
        ledger.create_all()  # the second start: nothing to add
        with ledger.engine.connect() as connection:
            types = dict(connection.execute(text(
                "SELECT column_name, data_type || coalesce('(' || character_maximum_length || ')', '') "
                "|| coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') "
                "FROM information_schema.columns WHERE table_name = 'transactions' "
                "AND column_name IN ('currency', 'fx_rate')")).all())
        assert types == {"currency": "character varying(3)", "fx_rate": "numeric(28,10)"}
        assert ledger.list_transactions(portfolio.id) == [kept]
        edited = ledger.update_transaction(portfolio.id, kept.id, {"currency": "ILA", "fx_rate": "0.2712345678"})
        assert (edited.price, edited.fees, edited.currency, edited.fx_rate) == (
            Decimal("1.8564"), Decimal("0.015"), "ILS", Decimal("0.2712345678"))
        assert ledger.list_transactions(portfolio.id) == [edited]
    finally:
        ledger.dispose()


def test_postgres_gets_the_issue_15_columns_keeping_its_rows(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    try:
        ledger.create_all()
        portfolio = ledger.create_portfolio("Before issue 15")
        kept = ledger.add_transaction(portfolio.id, {"date": "2024-01-02", "ticker": "AAPL", "type": "BUY",
                                                     "quantity": "99", "price": "185.64"})
        with ledger.engine.begin() as connection:  # the table as the previous release made it
            connection.execute(text("ALTER TABLE transactions DROP COLUMN trade_time, DROP COLUMN ratio_denominator"))
        ledger.create_all()
        ledger.create_all()  # the second start: nothing to add
        with ledger.engine.connect() as connection:
            types = dict(connection.execute(text(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'transactions' "
                "AND column_name IN ('trade_time', 'ratio_denominator')")).all())
        assert types == {"trade_time": "time without time zone", "ratio_denominator": "integer"}
        assert ledger.list_transactions(portfolio.id) == [kept]
        split = ledger.add_transaction(portfolio.id, {"date": "2024-02-01", "ticker": "AAPL", "type": "SPLIT",
                                                      "quantity": "1:3", "time": "08:00"})
        assert (str(split.ratio), split.time_text) == ("1:3", "08:00:00")
        assert ledger.list_transactions(portfolio.id) == [kept, split]
    finally:
        ledger.dispose()


# --- ids are never reused ------------------------------------------------------------------------------------------

def _ids_never_reused(ledger: Ledger) -> None:
    first, second, third = (ledger.create_portfolio(name).id for name in ("One", "Two", "Three"))
    assert first < second < third
    ledger.delete_portfolio(third)
    fourth = ledger.create_portfolio("Four").id
    assert fourth > third  # the deleted newest's id is not handed out again
    buy = {"date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": "1", "price": "100"}
    t1, t2, t3 = (ledger.add_transaction(first, buy).id for _ in range(3))
    assert t1 < t2 < t3
    ledger.delete_transaction(first, t3)
    t4 = ledger.add_transaction(first, buy).id
    assert t4 > t3
    # A deleted portfolio takes its transactions along; their ids are not reused either.
    t5 = ledger.add_transaction(fourth, buy).id
    ledger.delete_portfolio(fourth)
    assert ledger.create_portfolio("Five").id > fourth
    assert ledger.add_transaction(second, buy).id > t5


def test_ids_are_never_reused_on_sqlite(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ids.db'}")
    try:
        ledger.create_all()
        _ids_never_reused(ledger)
    finally:
        ledger.dispose()


def test_ids_are_never_reused_on_sqlite_by_hand_computed_values(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ids.db'}")
    try:
        ledger.create_all()
        ids = [ledger.create_portfolio(name).id for name in ("One", "Two", "Three")]
        assert ids == [1, 2, 3]
        ledger.delete_portfolio(3)
        assert ledger.create_portfolio("Four").id == 4
        with ledger.engine.connect() as connection:
            assert dict(connection.execute(text("SELECT name, seq FROM sqlite_sequence")).all())["portfolios"] == 4
    finally:
        ledger.dispose()


def test_ids_are_never_reused_on_postgres(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    try:
        ledger.create_all()
        _ids_never_reused(ledger)
        ledger.create_all()  # a second start changes nothing on Postgres either
        assert [p.name for p in ledger.list_portfolios()] == ["One", "Two", "Five"]
    finally:
        ledger.dispose()


# --- quotas -------------------------------------------------------------------------------------------------------

@pytest.fixture
def small(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'quota.db'}", max_portfolios=3, max_transactions=4)
    ledger.create_all()
    yield ledger
    ledger.dispose()


def test_an_owner_may_have_max_portfolios(small: Ledger) -> None:
    alice, bob = small.for_owner("alice"), small.for_owner("bob")
    for name in ("One", "Two", "Three"):
        alice.create_portfolio(name)
    with pytest.raises(ValidationError) as refused:
        alice.create_portfolio("Four")
    assert [e.field for e in refused.value.errors] == ["name"]
    assert "3" in refused.value.errors[0].message
    assert [p.name for p in alice.list_portfolios()] == ["One", "Two", "Three"]
    # Another owner (and the local user) are not affected by alice's count.
    assert [bob.create_portfolio(name).name for name in ("One", "Two", "Three")] == ["One", "Two", "Three"]
    assert small.create_portfolio("Local").owner_id == "local"
    # Deleting one makes room again.
    small.for_owner("alice").delete_portfolio(alice.list_portfolios()[0].id)
    assert alice.create_portfolio("Four").name == "Four"
    with pytest.raises(ValidationError):
        alice.create_portfolio("Five")


def _buy(day: str) -> dict[str, object]:
    return {"date": day, "ticker": "AAPL", "type": "BUY", "quantity": "1", "price": "100"}


def test_a_portfolio_may_hold_max_transactions_added_one_by_one(small: Ledger) -> None:
    portfolio = small.create_portfolio("Full")
    other = small.create_portfolio("Other")
    for day in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"):
        small.add_transaction(portfolio.id, _buy(day))
    version = small.version(portfolio.id)
    with pytest.raises(ValidationError) as refused:
        small.add_transaction(portfolio.id, _buy("2024-01-05"))
    assert [e.field for e in refused.value.errors] == ["quantity"]
    assert len(small.list_transactions(portfolio.id)) == 4 and small.version(portfolio.id) == version
    # The limit is per portfolio.
    small.add_transaction(other.id, _buy("2024-01-05"))
    # Deleting one makes room for one.
    small.delete_transaction(portfolio.id, small.list_transactions(portfolio.id)[0].id)
    small.add_transaction(portfolio.id, _buy("2024-01-06"))
    with pytest.raises(ValidationError):
        small.add_transaction(portfolio.id, _buy("2024-01-07"))


def test_an_import_over_max_transactions_imports_nothing(small: Ledger) -> None:
    portfolio = small.create_portfolio("Imports")
    small.add_transaction(portfolio.id, _buy("2024-01-01"))
    small.add_transaction(portfolio.id, _buy("2024-01-02"))
    version = small.version(portfolio.id)
    three_rows = f"{HEADER}\n2024-02-01,KO,BUY,1,60,0,\n2024-02-02,KO,BUY,1,60,0,\n2024-02-03,KO,BUY,1,60,0,\n"
    with pytest.raises(ValidationError) as refused:
        small.import_csv(portfolio.id, three_rows)  # 2 held + 3 = 5 > 4
    assert [e.field for e in refused.value.errors] == ["file"]
    assert [t.ticker for t in small.list_transactions(portfolio.id)] == ["AAPL", "AAPL"]
    assert small.version(portfolio.id) == version
    # Exactly up to the limit is fine: 2 + 2 = 4.
    two_rows = f"{HEADER}\n2024-02-01,KO,BUY,1,60,0,\n2024-02-02,KO,BUY,1,60,0,\n"
    assert small.import_csv(portfolio.id, two_rows) == 2
    assert len(small.list_transactions(portfolio.id)) == 4
    with pytest.raises(ValidationError):
        small.import_csv(portfolio.id, f"{HEADER}\n2024-03-01,KO,BUY,1,60,0,\n")
    assert len(small.list_transactions(portfolio.id)) == 4


def test_no_quota_by_default(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'free.db'}")
    try:
        ledger.create_all()
        for number in range(60):  # more than the settings' default of 50
            ledger.create_portfolio(f"P{number}")
        assert len(ledger.list_portfolios()) == 60
    finally:
        ledger.dispose()


# --- the portfolios' benchmark (issue 16): a column added to an existing portfolios table -------------------------

def test_the_previous_database_gets_the_benchmark_column_null_read_as_the_default(previous_db: Path) -> None:
    ledger = Ledger(f"sqlite:///{previous_db}")
    try:
        ledger.create_all()
        assert ("benchmark", "VARCHAR(20)", 0) in columns(previous_db, "portfolios")
        # Every old row keeps its values and gets NULL, which the domain reads as ^GSPC.
        assert raw(previous_db, "SELECT id, name, benchmark FROM portfolios ORDER BY id") == [
            (1, "Main", None), (2, "Pension", None), (4, "Crypto-ish", None), (5, "Empty", None)]
        assert [p.benchmark for p in ledger.list_portfolios()] == ["^GSPC"] * 4
        changed = ledger.set_benchmark(2, "vwrl.l")
        assert changed.benchmark == "VWRL.L"
        assert raw(previous_db, "SELECT benchmark, version FROM portfolios WHERE id = 2") == [("VWRL.L", 2)]
        ledger.create_all()  # a second start adds nothing and keeps the value
        assert raw(previous_db, "SELECT benchmark FROM portfolios WHERE id = 2") == [("VWRL.L",)]
        assert table_sql(previous_db)["portfolios"].count("benchmark") == 1
    finally:
        ledger.dispose()


def test_the_oldest_database_is_rebuilt_with_the_benchmark_column(upgraded: Ledger, old_db: Path) -> None:
    assert ("benchmark", "VARCHAR(20)", 0) in columns(old_db, "portfolios")
    assert {p.benchmark for p in upgraded.list_portfolios()} == {"^GSPC"}


def test_postgres_gets_the_benchmark_column_keeping_its_rows(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    try:
        ledger.create_all()
        portfolio = ledger.create_portfolio("Before issue 16")
        with ledger.engine.begin() as connection:  # the table as the previous release made it
            connection.execute(text("ALTER TABLE portfolios DROP COLUMN benchmark"))
        ledger.create_all()
        ledger.create_all()  # the second start: nothing to add
        with ledger.engine.connect() as connection:
            kinds = connection.execute(text(
                "SELECT data_type, is_nullable FROM information_schema.columns WHERE table_name = 'portfolios' "
                "AND column_name = 'benchmark'")).all()
        assert kinds == [("character varying", "YES")]
        assert ledger.get_portfolio(portfolio.id).benchmark == "^GSPC"
        assert ledger.set_benchmark(portfolio.id, "^STOXX50E").benchmark == "^STOXX50E"
        assert ledger.get_portfolio(portfolio.id).benchmark == "^STOXX50E"
    finally:
        ledger.dispose()
