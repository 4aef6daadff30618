"""The ledger's tables: portfolios and their transactions, as SQLAlchemy maps them (SQLite or Postgres).

Amounts are exact: `ExactDecimal` is `NUMERIC(28, 10)` on Postgres, but on SQLite, which has no decimal type
and where SQLAlchemy's Numeric goes through float (it warns "Dialect sqlite+pysqlite does *not* support
Decimal objects natively"; 12345678.12345678 comes back as 12345678.1234567799, 999999999999.99999999 as
1000000000000), it stores the plain decimal text. Tests check the round trip on a real file.
Tables are created with `Base.metadata.create_all` (`Ledger.create_all`), and `ledger_migrations` brings an
older database up to date. Ids are never reused (AUTOINCREMENT on SQLite, sequences elsewhere): a cache or a
link that names a deleted portfolio's id can never show a new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from services.models import DEFAULT_BENCHMARK, Portfolio, SplitRatio, Transaction, plain_decimal
from services.replay import in_ledger_order

MAX_NAME_CHARS = 100  # a portfolio name's column width


def utcnow() -> dt.datetime:
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


LOCAL_OWNER = "local"  # the built-in user of a single-user run; owns what existed before accounts


class PortfolioRow(Base):
    __tablename__ = "portfolios"
    # Without AUTOINCREMENT SQLite hands a deleted row's id (the largest) to the next insert.
    __table_args__: ClassVar = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), default=LOCAL_OWNER, index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Bumped by every change to the portfolio's transactions: the key of anything cached from them.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Issue 16: the ticker the returns are compared with; NULL (every portfolio made before) is DEFAULT_BENCHMARK.
    benchmark: Mapped[str | None] = mapped_column(String(20), nullable=True)

    def to_domain(self) -> Portfolio:
        return Portfolio(id=self.id, name=self.name, base_currency=self.base_currency, owner_id=self.owner_id,
                         benchmark=self.benchmark or DEFAULT_BENCHMARK)


class TransactionRow(Base):
    __tablename__ = "transactions"
    # (portfolio_id, ticker): a write loads only the rows of the tickers it touches (issue 17; ledger_migrations
    # adds it to an older table).
    __table_args__ = (Index("ix_transactions_portfolio_date", "portfolio_id", "date"),
                      Index("ix_transactions_portfolio_ticker", "portfolio_id", "ticker"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    ticker: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    fees: Mapped[Decimal] = mapped_column(ExactDecimal())
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Added after the first release (ledger_migrations adds them to an older table): NULL = not given.
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    fx_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    # Issue 15: the time of day that orders a date's rows, and the M of a SPLIT given as a ratio N:M (`quantity`
    # then holds N/M, so a reader that knows nothing of ratios still sees the factor; N is quantity x M rounded).
    trade_time: Mapped[dt.time | None] = mapped_column(Time(), nullable=True)
    ratio_denominator: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Issue 17: the import that added the row (NULL: added one by one). While that import's `ImportBatchRow`
    # exists the row is staged, not part of the ledger: every read goes through `visible`.
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def to_domain(self) -> Transaction:
        return _transaction(self.id, self.portfolio_id, self.date, self.ticker, self.type, self.quantity, self.price,
                            self.fees, self.note, self.currency, self.fx_rate, self.trade_time, self.ratio_denominator)


class ImportBatchRow(Base):
    """An import being staged (`ledger_staging`): its rows are in `transactions` but not in the ledger until this row
    is deleted, which publishes them all at once. A batch left by an importer that died is discarded later."""

    __tablename__ = "import_batches"
    __table_args__: ClassVar = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set before a discard deletes the rows (in several short transactions): a discarded batch is never published.
    discarded: Mapped[bool] = mapped_column(Boolean, default=False)


def visible(table: Any = None) -> ColumnElement[bool]:
    """The rows that are part of the ledger: added one by one, or by an import that was published."""
    table = TransactionRow.__table__ if table is None else table
    return or_(table.c.batch_id.is_(None), table.c.batch_id.not_in(select(ImportBatchRow.__table__.c.id)))


def get_visible(session: Session, transaction_id: int) -> TransactionRow | None:
    """The transaction `transaction_id` if it is part of the ledger (a staged row is not found, as a deleted one)."""
    return session.scalars(select(TransactionRow).where(TransactionRow.id == transaction_id, visible())).one_or_none()


def _transaction(row_id: int, portfolio_id: int, day: dt.date, ticker: str, kind: str, quantity: Decimal,
                 price: Decimal, fees: Decimal, note: str, currency: str | None, fx_rate: Decimal | None,
                 time: dt.time | None, denominator: int | None) -> Transaction:
    ratio = None
    if denominator:  # the stored factor may be rounded (NUMERIC(28, 10)): N is a whole number
        ratio = SplitRatio(int((quantity * denominator).to_integral_value()), denominator)
        quantity = ratio.factor
    return Transaction(date=day, ticker=ticker, type=kind, quantity=quantity, price=price, fees=fees, note=note,
                       id=row_id, portfolio_id=portfolio_id, currency=currency, fx_rate=fx_rate, time=time,
                       ratio=ratio)


def row_values(portfolio_id: int, transaction: Transaction) -> dict[str, Any]:
    """The column values of a new `TransactionRow` holding `transaction`."""
    return {"portfolio_id": portfolio_id, "date": transaction.date, "ticker": transaction.ticker,
            "type": transaction.type, "quantity": transaction.quantity, "price": transaction.price,
            "fees": transaction.fees, "note": transaction.note, "currency": transaction.currency,
            "fx_rate": transaction.fx_rate, "trade_time": transaction.time,
            "ratio_denominator": None if transaction.ratio is None else transaction.ratio.old, "created_at": utcnow()}


TICKERS_PER_QUERY = 500  # an IN list this long stays far below SQLite's bound-parameter limit


def load_transactions(session: Session, portfolio_id: int,
                      tickers: Collection[str] | None = None) -> list[Transaction]:
    """A portfolio's transactions in the order they apply (`replay.ledger_order`: date, time, SPLIT/BUY/DIVIDEND/
    SELL), then in the order they were entered in. With `tickers`, only the rows of those tickers (what a write
    that touches them needs to judge itself: each ticker replays on its own)."""
    # Plain column rows, not ORM objects: 20,000 transactions load about 10x faster.
    table = TransactionRow.__table__
    query = (select(table.c.id, table.c.portfolio_id, table.c.date, table.c.ticker, table.c.type, table.c.quantity,
                    table.c.price, table.c.fees, table.c.note, table.c.currency, table.c.fx_rate, table.c.trade_time,
                    table.c.ratio_denominator)
             .where(table.c.portfolio_id == portfolio_id, visible(table)))
    if tickers is None:
        ordered = query.order_by(table.c.date, table.c.id)
        return in_ledger_order([_transaction(*row) for row in session.execute(ordered)])
    # No ORDER BY here: SQLite would then walk the (portfolio_id, date) index through every row of the portfolio
    # (400k rows: 55 ms) instead of the (portfolio_id, ticker) one; the few rows read are sorted here instead.
    wanted = sorted(set(tickers))
    loaded = [_transaction(*row)
              for start in range(0, len(wanted), TICKERS_PER_QUERY)
              for row in session.execute(query.where(table.c.ticker.in_(wanted[start:start + TICKERS_PER_QUERY])))]
    loaded.sort(key=lambda t: (t.date, t.id))
    return in_ledger_order(loaded)


def count_transactions(session: Session, portfolio_id: int) -> int:
    """How many transactions the portfolio has (the quota's count: no row is loaded)."""
    table = TransactionRow.__table__
    return session.scalar(select(func.count()).select_from(table)
                          .where(table.c.portfolio_id == portfolio_id, visible(table))) or 0
