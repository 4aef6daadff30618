"""Portfolios and their transactions, stored with SQLAlchemy (SQLite by default, Postgres when configured).

Amounts are exact: `ExactDecimal` is `NUMERIC(28, 10)` on Postgres, but on SQLite, which has no decimal type
and where SQLAlchemy's Numeric goes through float (it warns "Dialect sqlite+pysqlite does *not* support
Decimal objects natively"; 12345678.12345678 comes back as 12345678.1234567799, 999999999999.99999999 as
1000000000000), it stores the plain decimal text. Tests check the round trip on a real file.

Every write that checks the ledger before changing it (add, edit, delete, import) runs as one database transaction
that first locks the portfolio: `BEGIN IMMEDIATE` on SQLite (the write lock is taken before the read, so two
imports cannot both pass the oversell check on the same snapshot) and `SELECT ... FOR UPDATE` on the
portfolio row elsewhere. Each such write bumps `PortfolioRow.version`, which caches use as their key.
Creating or renaming a portfolio checks that its owner has no other of the same name under the same lock (on
Postgres, a transaction-scoped advisory lock per owner, since there is no row to lock for a new name).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from services.analytics import oversells
from services.csv_io import (
    DEFAULT_MAX_ROWS,
    parse_transactions_csv_lines,
    plain_decimal,
    text_problem,
    validate_transaction,
    write_transactions_csv,
)
from services.forksafe import reset_in_child
from services.models import FieldError, NotFoundError, Portfolio, Transaction, ValidationError

log = logging.getLogger(__name__)
MAX_NAME_CHARS = 100
SQLITE_BUSY_TIMEOUT_S = 30.0
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_IMMEDIATE = "stocktracker_begin_immediate"  # execution option read by the SQLite "begin" hook
# Ids are 64-bit integers in every database we run on. A larger one (any number fits in a URL) is no id at all:
# sqlite3 raises OverflowError binding it ("Python int too large to convert to SQLite INTEGER"), a 500.
_ID_RANGE = range(-(2**63), 2**63)
_FIELDS = ("date", "ticker", "type", "quantity", "price", "fees", "note")  # a transaction's editable values


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC(28, 10) where the database has it; decimal text on SQLite. Always read back as Decimal."""

    impl = Numeric(28, 10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 10, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return plain_decimal(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(plain_decimal(Decimal(value)))  # 10.0000000000 from NUMERIC reads as 10


class Base(DeclarativeBase):
    pass


class PortfolioRow(Base):
    __tablename__ = "portfolios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), default="local", index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    # Bumped by every change to the portfolio's transactions: the key of anything cached from them.
    version: Mapped[int] = mapped_column(Integer, default=1)

    def to_domain(self) -> Portfolio:
        return Portfolio(id=self.id, name=self.name, base_currency=self.base_currency, owner_id=self.owner_id)


class TransactionRow(Base):
    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_portfolio_date", "portfolio_id", "date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    ticker: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    fees: Mapped[Decimal] = mapped_column(ExactDecimal())
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)

    def to_domain(self) -> Transaction:
        return Transaction(date=self.date, ticker=self.ticker, type=self.type, quantity=self.quantity,
                           price=self.price, fees=self.fees, note=self.note, id=self.id,
                           portfolio_id=self.portfolio_id)


def _row_values(portfolio_id: int, transaction: Transaction) -> dict[str, Any]:
    return {"portfolio_id": portfolio_id, "date": transaction.date, "ticker": transaction.ticker,
            "type": transaction.type, "quantity": transaction.quantity, "price": transaction.price,
            "fees": transaction.fees, "note": transaction.note, "created_at": _utcnow()}


def _make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # Postgres and friends: check connections before use (servers drop idle ones) and recycle them.
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800)

    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every checkout would see a different empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, pool_size=5,
                               max_overflow=10)

    # pysqlite opens transactions on its own terms and never with IMMEDIATE; take that over, as the
    # SQLAlchemy docs recommend: https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # per connection; ON DELETE CASCADE needs it
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, much faster
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _check_name(name: object) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise ValidationError("invalid portfolio", [FieldError("name", "is required")])
    if len(cleaned) > MAX_NAME_CHARS:
        raise ValidationError("invalid portfolio",
                              [FieldError("name", f"is longer than {MAX_NAME_CHARS} characters")])
    problem = text_problem(cleaned)
    if problem:
        raise ValidationError("invalid portfolio", [FieldError("name", problem)])
    return cleaned


def _name_key(name: str) -> str:
    """What two portfolio names must not share: trimmed and case-folded ("Retirement " and "retirement" clash)."""
    return name.strip().casefold()


def _check_id(kind: str, value: int) -> None:
    if value not in _ID_RANGE:
        raise NotFoundError(f"{kind} {value} not found")


def _oversell_message(ticker: str, day: dt.date, quantity: Decimal, held: Decimal) -> str:
    return (f"sells {plain_decimal(quantity)} {ticker} on {day.isoformat()} "
            f"but only {plain_decimal(held)} are held then")


def _editable_values(transaction: Transaction) -> dict[str, object]:
    """A stored transaction as the input `validate_transaction` takes (exact decimal text, not floats)."""
    return {"date": transaction.date.isoformat(), "ticker": transaction.ticker, "type": transaction.type,
            "quantity": plain_decimal(transaction.quantity), "price": plain_decimal(transaction.price),
            "fees": plain_decimal(transaction.fees), "note": transaction.note}


def _new_oversells(before: Sequence[Transaction], after: Sequence[Transaction]) -> list[tuple[int, Any]]:
    """Oversells in `after` that were not already in `before`, as (index in `after`, Oversell).

    Transactions are matched by identity, so a ledger that was already inconsistent (data older than these
    checks) does not block unrelated changes.
    """
    already = {id(before[o.index]) for o in oversells(before)}
    return [(o.index, o) for o in oversells(after) if id(after[o.index]) not in already]


class Ledger:
    """The portfolios and transactions of one database. One Engine per Ledger; sessions are short-lived."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine = _make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._listeners: list[Callable[[int], None]] = []
        reset_in_child(self._reset_after_fork)

    def _reset_after_fork(self) -> None:
        # The parent's pooled connections stay the parent's; the child opens its own (SQLAlchemy's fork recipe).
        self.engine.dispose(close=False)

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """Call `listener(portfolio_id)` after every committed change to a portfolio's transactions."""
        self._listeners.append(listener)

    def _changed(self, portfolio_id: int) -> None:
        for listener in self._listeners:
            try:
                listener(portfolio_id)
            except Exception:  # a cache that failed to clear must not undo a committed write
                log.exception("ledger change listener failed for portfolio %s", portfolio_id)

    # -- plumbing ---------------------------------------------------------------------------------------

    def create_all(self) -> None:
        """Create the tables that do not exist yet."""
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close the pooled connections (tests, shutdown)."""
        self.engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _write(self, portfolio_id: int | None = None) -> Iterator[tuple[Session, PortfolioRow | None]]:
        """A write transaction holding the database's (SQLite) or the portfolio's (others) write lock."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={_IMMEDIATE: True})
            row = None
            if portfolio_id is not None:
                _check_id("portfolio", portfolio_id)
                row = session.scalars(
                    select(PortfolioRow).where(PortfolioRow.id == portfolio_id).with_for_update()
                ).one_or_none()
                if row is None:
                    raise NotFoundError(f"portfolio {portfolio_id} not found")
            yield session, row

    @staticmethod
    def _portfolio(session: Session, portfolio_id: int) -> PortfolioRow:
        _check_id("portfolio", portfolio_id)
        row = session.get(PortfolioRow, portfolio_id)
        if row is None:
            raise NotFoundError(f"portfolio {portfolio_id} not found")
        return row

    @staticmethod
    def _transactions(session: Session, portfolio_id: int) -> list[Transaction]:
        # Plain column rows, not ORM objects: 20,000 transactions load about 10x faster.
        table = TransactionRow.__table__
        rows = session.execute(
            select(table.c.id, table.c.date, table.c.ticker, table.c.type, table.c.quantity, table.c.price,
                   table.c.fees, table.c.note)
            .where(table.c.portfolio_id == portfolio_id).order_by(table.c.date, table.c.id)
        )
        return [Transaction(date=day, ticker=ticker, type=kind, quantity=quantity, price=price, fees=fees,
                            note=note, id=row_id, portfolio_id=portfolio_id)
                for row_id, day, ticker, kind, quantity, price, fees, note in rows]

    @staticmethod
    def _bump(session: Session, portfolio_id: int) -> None:
        bump = update(PortfolioRow).where(PortfolioRow.id == portfolio_id)
        session.execute(bump.values(version=PortfolioRow.version + 1))

    @staticmethod
    def _refuse_duplicate_name(session: Session, owner_id: str, name: str, except_id: int | None = None) -> None:
        """ValidationError on `name` when another portfolio of `owner_id` has the same trimmed, case-folded name."""
        if session.get_bind().dialect.name == "postgresql":
            # Two creates of one new name would both find nothing to lock: serialize them per owner.
            key = zlib.crc32(f"portfolio-names:{owner_id}".encode())
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        wanted = _name_key(name)
        rows = session.execute(select(PortfolioRow.id, PortfolioRow.name).where(PortfolioRow.owner_id == owner_id))
        for row_id, existing in rows:
            if row_id != except_id and _name_key(existing) == wanted:
                raise ValidationError("invalid portfolio", [
                    FieldError("name", f"a portfolio named \u201c{existing}\u201d exists already")])

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    # -- portfolios -------------------------------------------------------------------------------------

    def list_portfolios(self, owner_id: str = "local") -> list[Portfolio]:
        with self._read() as session:
            rows = session.scalars(select(PortfolioRow).where(PortfolioRow.owner_id == owner_id)
                                   .order_by(PortfolioRow.id))
            return [row.to_domain() for row in rows]

    def get_portfolio(self, portfolio_id: int) -> Portfolio:
        with self._read() as session:
            return self._portfolio(session, portfolio_id).to_domain()

    def create_portfolio(self, name: str, base_currency: str = "USD", owner_id: str = "local") -> Portfolio:
        """A new empty portfolio; ValidationError for an empty or long name, a name the owner already has
        (compared trimmed and case-insensitively) or a non-ISO currency."""
        cleaned = _check_name(name)
        currency = base_currency.strip().upper() if isinstance(base_currency, str) else ""
        if not _CURRENCY.match(currency):
            raise ValidationError("invalid portfolio",
                                  [FieldError("base_currency", "must be a 3-letter currency code like USD")])
        with self._write() as (session, _):
            self._refuse_duplicate_name(session, owner_id, cleaned)
            row = PortfolioRow(name=cleaned, base_currency=currency, owner_id=owner_id)
            session.add(row)
            session.flush()
            return row.to_domain()

    def rename_portfolio(self, portfolio_id: int, name: str) -> Portfolio:
        """Rename a portfolio; ValidationError as for `create_portfolio` (its own name again is fine)."""
        cleaned = _check_name(name)
        with self._write(portfolio_id) as (session, row):
            assert row is not None
            if _name_key(cleaned) != _name_key(row.name):  # a change of case or spacing only clashes with no one
                self._refuse_duplicate_name(session, row.owner_id, cleaned, except_id=row.id)
            row.name = cleaned
            session.flush()
            return row.to_domain()

    def delete_portfolio(self, portfolio_id: int) -> None:
        """Delete a portfolio; the database cascades to its transactions."""
        with self._write(portfolio_id) as (session, _):
            session.execute(delete(PortfolioRow).where(PortfolioRow.id == portfolio_id))
        self._changed(portfolio_id)

    def version(self, portfolio_id: int) -> int:
        """A number that changes whenever the portfolio's transactions do."""
        with self._read() as session:
            return self._portfolio(session, portfolio_id).version

    # -- transactions -----------------------------------------------------------------------------------

    def list_transactions(self, portfolio_id: int) -> list[Transaction]:
        """The ledger ordered by date, then by the order it was entered in."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)
            return self._transactions(session, portfolio_id)

    def add_transaction(self, portfolio_id: int, data: Mapping[str, object]) -> Transaction:
        """Validate one transaction (JSON values: numbers or strings) and add it unless it oversells."""
        transaction, errors = validate_transaction(data)
        if transaction is None:
            raise ValidationError("transaction rejected", errors)
        with self._write(portfolio_id) as (session, _):
            existing = self._transactions(session, portfolio_id)
            found = _new_oversells(existing, [*existing, transaction])
            if found:
                raise ValidationError("transaction rejected", [
                    FieldError("quantity", _oversell_message(o.ticker, o.date, o.quantity, o.held))
                    for _, o in found
                ])
            row = TransactionRow(**_row_values(portfolio_id, transaction))
            session.add(row)
            session.flush()
            self._bump(session, portfolio_id)
            added = row.to_domain()
        self._changed(portfolio_id)
        return added

    def get_transaction(self, portfolio_id: int, transaction_id: int) -> Transaction:
        """One transaction of the portfolio (NotFoundError for another portfolio's, as for one that never was)."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)
            _check_id("transaction", transaction_id)
            row = session.get(TransactionRow, transaction_id)
            if row is None or row.portfolio_id != portfolio_id:
                raise NotFoundError(f"transaction {transaction_id} not found in portfolio {portfolio_id}")
            return row.to_domain()

    def update_transaction(self, portfolio_id: int, transaction_id: int, data: Mapping[str, object]) -> Transaction:
        """Change one transaction, validated exactly as `add_transaction` validates a new one.

        Keys of `data` that are absent keep their stored values (so a full object and a partial one both work).
        Refused with a ValidationError, changing nothing, when a value is invalid, when the changed transaction
        would sell more than is held, or when it would leave another SELL (named by id) short.
        """
        with self._write(portfolio_id) as (session, _):
            existing = self._transactions(session, portfolio_id)
            _check_id("transaction", transaction_id)
            position = next((i for i, t in enumerate(existing) if t.id == transaction_id), None)
            if position is None:
                raise NotFoundError(f"transaction {transaction_id} not found in portfolio {portfolio_id}")
            merged = {**_editable_values(existing[position]),
                      **{field: data[field] for field in _FIELDS if field in data}}
            changed, errors = validate_transaction(merged)
            if changed is None:
                raise ValidationError("transaction rejected", errors)
            changed = Transaction(date=changed.date, ticker=changed.ticker, type=changed.type,
                                  quantity=changed.quantity, price=changed.price, fees=changed.fees,
                                  note=changed.note, id=transaction_id, portfolio_id=portfolio_id)
            # Replayed in the order the ledger will list it: by (date, id), and the id does not change.
            after = sorted([*existing[:position], changed, *existing[position + 1:]], key=lambda t: (t.date, t.id))
            found = _new_oversells(existing, after)
            if found:
                raise ValidationError("transaction rejected", [
                    FieldError("quantity", _oversell_message(o.ticker, o.date, o.quantity, o.held)
                               if after[index] is changed else
                               f"would leave the SELL (id {after[index].id}) short: it "
                               + _oversell_message(o.ticker, o.date, o.quantity, o.held))
                    for index, o in found
                ])
            values = _row_values(portfolio_id, changed)
            del values["created_at"], values["portfolio_id"]  # the entry order (and owner) stay as they were
            session.execute(update(TransactionRow).where(TransactionRow.id == transaction_id).values(**values))
            self._bump(session, portfolio_id)
        self._changed(portfolio_id)
        return changed

    def delete_transaction(self, portfolio_id: int, transaction_id: int) -> None:
        """Delete one transaction, unless a later SELL would then sell more than is held."""
        with self._write(portfolio_id) as (session, _):
            existing = self._transactions(session, portfolio_id)
            remaining = [t for t in existing if t.id != transaction_id]
            if len(remaining) == len(existing):
                raise NotFoundError(f"transaction {transaction_id} not found in portfolio {portfolio_id}")
            found = _new_oversells(existing, remaining)
            if found:
                raise ValidationError("transaction not deleted", [
                    FieldError("quantity", "deleting it would leave a later SELL short: "
                               + _oversell_message(o.ticker, o.date, o.quantity, o.held))
                    for _, o in found
                ])
            session.execute(delete(TransactionRow).where(TransactionRow.id == transaction_id))
            self._bump(session, portfolio_id)
        self._changed(portfolio_id)

    def import_csv(self, portfolio_id: int, text: str, max_rows: int = DEFAULT_MAX_ROWS) -> int:
        """Add every row of a CSV ledger in one database transaction, or none (ValidationError)."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)  # 404 before 422, and before parsing a big file
        parsed = parse_transactions_csv_lines(text, max_rows)
        if not parsed:
            return 0  # a header alone is a valid, empty ledger
        with self._write(portfolio_id) as (session, _):
            existing = self._transactions(session, portfolio_id)
            new = [transaction for _, transaction in parsed]
            found = _new_oversells(existing, [*existing, *new])  # existing first on the same date
            if found:
                errors = []
                for index, o in found:
                    message = _oversell_message(o.ticker, o.date, o.quantity, o.held)
                    if index < len(existing):  # an earlier new row took shares an existing SELL needs
                        errors.append(FieldError("quantity", f"the existing SELL (id {existing[index].id}) "
                                                 f"would be short: {message}"))
                    else:
                        errors.append(FieldError("quantity", message, parsed[index - len(existing)][0]))
                rows = len({e.line for e in errors})
                raise ValidationError(f"{rows} row{'s' if rows != 1 else ''} rejected", errors)
            session.execute(insert(TransactionRow), [_row_values(portfolio_id, t) for t in new])
            self._bump(session, portfolio_id)
        self._changed(portfolio_id)
        return len(new)

    def export_csv(self, portfolio_id: int) -> str:
        """The ledger as CSV, which `import_csv` reads back to the same transactions."""
        return write_transactions_csv(self.list_transactions(portfolio_id))

    # -- tickers (the price warm-up) --------------------------------------------------------------------

    def all_tickers(self) -> dict[str, dt.date]:
        """Every ticker of every portfolio, with its earliest transaction date."""
        with self._read() as session:
            rows = session.execute(select(TransactionRow.ticker, func.min(TransactionRow.date))
                                   .group_by(TransactionRow.ticker).order_by(TransactionRow.ticker))
            return {ticker: first for ticker, first in rows}

    def portfolio_ids(self) -> list[int]:
        """Every portfolio of every owner (the warm-up covers them all)."""
        with self._read() as session:
            return list(session.scalars(select(PortfolioRow.id).order_by(PortfolioRow.id)))

    def portfolio_tickers(self, portfolio_id: int) -> dict[str, dt.date]:
        """The portfolio's tickers, with their earliest transaction date."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)
            rows = session.execute(select(TransactionRow.ticker, func.min(TransactionRow.date))
                                   .where(TransactionRow.portfolio_id == portfolio_id)
                                   .group_by(TransactionRow.ticker).order_by(TransactionRow.ticker))
            return {ticker: first for ticker, first in rows}
