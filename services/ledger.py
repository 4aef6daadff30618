"""Portfolios and their transactions, stored with SQLAlchemy (SQLite by default, Postgres when configured).

Every write that checks the ledger before changing it (add, edit, delete, import) runs as one database transaction
that first locks the portfolio: `BEGIN IMMEDIATE` on SQLite (the write lock is taken before the read, so two
imports cannot both pass the oversell check on the same snapshot) and `SELECT ... FOR UPDATE` on the
portfolio row elsewhere. Each such write bumps `PortfolioRow.version`, which caches use as their key.
Creating or renaming a portfolio checks that its owner has no other of the same name under the same lock (on
Postgres, a transaction-scoped advisory lock per owner, since there is no row to lock for a new name).
The tables are in `ledger_schema`, the connections in `ledger_engine`, what is refused in `ledger_rules`, the
portfolio-level methods (list, create, rename, base currency, delete, version) in `ledger_portfolios`. An import
(`import_transactions`) is planned by `ledger_import` (duplicates of existing rows skipped, every bad line named in
one pass, dividend share-count warnings) and may carry an `Idempotency-Key` (`idempotency`: the first answer is
kept in the database, per portfolio, read and written under the same lock as the import).

Writes stay fast at scale (issue 17): every ticker replays on its own, so a write reads only the rows of the
tickers it touches (`load_transactions(..., tickers)`, on the (portfolio_id, ticker) index) and the quota counts
with a COUNT. An import is parsed and planned before the write lock, against the ledger's version; under the lock
the plan stands if the version has not moved (else it is judged again there), and the rows go in by chunks
(`ledger_bulk`: bound before the lock; sqlite3's executemany, or COPY on Postgres) inside the one transaction,
all or nothing.

Owner scoping happens here and nowhere else: `ledger.for_owner(owner_id)` is a view of the same database in which
every lookup of a portfolio (and so of its transactions, version and tickers) also matches its owner, so another
owner's portfolio is a NotFoundError exactly like one that never existed. The web layer only ever holds such a
view; the unscoped ledger is for the warm-up and the background chart generator, which serve every owner.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services import idempotency
from services import ledger_guards as guards
from services import ledger_rules as rules
from services.forksafe import reset_in_child
from services.ledger_engine import IMMEDIATE, make_engine
from services.ledger_imports import ImportMethods
from services.ledger_migrations import upgrade
from services.ledger_portfolios import PortfolioMethods
from services.ledger_schema import (
    LOCAL_OWNER,
    PortfolioRow,
    TransactionRow,
    count_transactions,
    get_visible,
    load_transactions,
    row_values,
    visible,
)
from services.models import NotFoundError, Transaction, ValidationError
from services.transaction_input import validate_transaction

log = logging.getLogger(__name__)


class Ledger(PortfolioMethods, ImportMethods):
    """The portfolios and transactions of one database. One Engine per Ledger; sessions are short-lived.

    `max_portfolios` and `max_transactions` are the per-owner quotas (MAX_PORTFOLIOS_PER_OWNER,
    MAX_TRANSACTIONS_PER_PORTFOLIO): one account cannot fill the database.
    """

    def __init__(self, database_url: str, *, max_portfolios: int | None = None,
                 max_transactions: int | None = None):
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._listeners: list[Callable[[int], None]] = []
        self.max_portfolios, self.max_transactions = max_portfolios, max_transactions
        self.owner_id: str | None = None  # None: every owner (see `for_owner`)
        reset_in_child(self._reset_after_fork)

    def for_owner(self, owner_id: str) -> Ledger:
        """This ledger as `owner_id` sees it: only their portfolios exist (same engine, sessions and listeners)."""
        if not owner_id:
            raise ValueError("an owner is required")
        scoped = copy.copy(self)
        scoped.owner_id = owner_id
        return scoped

    @property
    def _creator(self) -> str:
        """Who owns what this ledger creates: its owner, or the local user for the unscoped ledger."""
        return self.owner_id or LOCAL_OWNER

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
        """Create the tables that do not exist yet and bring older ones up to date (`ledger_migrations`)."""
        # Their tables join the metadata: accounts, and the broker import's saved column mappings.
        from services import accounts_schema, import_mappings  # noqa: F401

        upgrade(self.engine)

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
            session.connection(execution_options={IMMEDIATE: True})
            row = None
            if portfolio_id is not None:
                rules.check_id("portfolio", portfolio_id)
                row = session.scalars(
                    self._owned(select(PortfolioRow).where(PortfolioRow.id == portfolio_id)).with_for_update()
                ).one_or_none()
                if row is None:
                    raise NotFoundError(f"portfolio {portfolio_id} not found")
            yield session, row

    def _owned(self, query):
        """`query` on portfolios narrowed to this ledger's owner (unchanged for the unscoped ledger)."""
        return query if self.owner_id is None else query.where(PortfolioRow.owner_id == self.owner_id)

    def _portfolio(self, session: Session, portfolio_id: int) -> PortfolioRow:
        rules.check_id("portfolio", portfolio_id)
        row = session.get(PortfolioRow, portfolio_id)
        if row is None or (self.owner_id is not None and row.owner_id != self.owner_id):
            raise NotFoundError(f"portfolio {portfolio_id} not found")
        return row

    @staticmethod
    def _bump(session: Session, portfolio_id: int) -> None:
        bump = update(PortfolioRow).where(PortfolioRow.id == portfolio_id)
        session.execute(bump.values(version=PortfolioRow.version + 1))

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    # -- transactions -----------------------------------------------------------------------------------

    def list_transactions(self, portfolio_id: int) -> list[Transaction]:
        """The ledger ordered by date, then by the order it was entered in."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)
            return load_transactions(session, portfolio_id)

    def add_transaction(self, portfolio_id: int, data: Mapping[str, object], *,
                        idempotency_key: str | None = None) -> Transaction:
        """Validate one transaction (JSON values: numbers or strings) and add it unless it oversells (or is a
        dividend on a ticker never held). A repeated `idempotency_key` returns the transaction it first added."""
        transaction, errors = validate_transaction(data)
        if transaction is None:
            raise ValidationError("transaction rejected", errors)
        key = None if idempotency_key is None else idempotency.check_key(idempotency_key)
        print_ = idempotency.json_fingerprint("transaction", dict(data)) if key is not None else ""
        with self._write(portfolio_id) as (session, _):
            if key is not None and (first := idempotency.recall_json(session, portfolio_id, key, print_)):
                row = get_visible(session, first["transaction_id"])
                if row is None or row.portfolio_id != portfolio_id:
                    raise NotFoundError(f"the transaction first added with this {idempotency.HEADER} was deleted")
                return row.to_domain()
            guards.refuse_transactions_over_quota(self.max_transactions, self._count(session, portfolio_id),
                                                  1, "quantity")
            # Each ticker replays on its own: the added row's ticker is all the check needs (issue 17).
            rules.refuse_added_oversells(load_transactions(session, portfolio_id, {transaction.ticker}), transaction)
            row = TransactionRow(**row_values(portfolio_id, transaction))
            session.add(row)
            session.flush()
            self._bump(session, portfolio_id)
            added = row.to_domain()
            if key is not None:
                idempotency.remember_json(session, portfolio_id, key, print_, {"transaction_id": added.id})
        self._changed(portfolio_id)
        return added

    def get_transaction(self, portfolio_id: int, transaction_id: int) -> Transaction:
        """One transaction of the portfolio (NotFoundError for another portfolio's, as for one that never was)."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)
            rules.check_id("transaction", transaction_id)
            row = get_visible(session, transaction_id)
            if row is None or row.portfolio_id != portfolio_id:
                raise NotFoundError(f"transaction {transaction_id} not found in portfolio {portfolio_id}")
            return row.to_domain()

    def update_transaction(self, portfolio_id: int, transaction_id: int, data: Mapping[str, object]) -> Transaction:
        """Change one transaction, validated exactly as `add_transaction` validates a new one.

        Keys of `data` that are absent keep their stored values (so a full object and a partial one both work);
        `currency` and `fx_rate` are editable like the rest (null or "" unsets one; see `rules.editable_values`
        for a minor unit such as GBp).
        Refused with a ValidationError, changing nothing, when a value is invalid, when the changed transaction
        would sell more than is held, or when it would leave another SELL (named by id) short.
        """
        with self._write(portfolio_id) as (session, _):
            stored = self._stored(session, portfolio_id, transaction_id)
            merged = {**rules.editable_values(stored),
                      **{field: data[field] for field in rules.EDITABLE_FIELDS if field in data}}
            changed, errors = validate_transaction(merged)
            if changed is None:
                raise ValidationError("transaction rejected", errors)
            changed = replace(changed, id=transaction_id, portfolio_id=portfolio_id)
            # Only the tickers the edit touches (the old one, and a new one if it moves): each replays on its own.
            existing = load_transactions(session, portfolio_id, {stored.ticker, changed.ticker})
            position = next(i for i, t in enumerate(existing) if t.id == transaction_id)
            # Replayed in the order the ledger will list it: by (date, id), and the id does not change.
            after = sorted([*existing[:position], changed, *existing[position + 1:]], key=lambda t: (t.date, t.id))
            rules.refuse_edited_oversells(existing, after, changed)
            values = row_values(portfolio_id, changed)
            del values["created_at"], values["portfolio_id"]  # the entry order (and owner) stay as they were
            session.execute(update(TransactionRow).where(TransactionRow.id == transaction_id).values(**values))
            self._bump(session, portfolio_id)
        self._changed(portfolio_id)
        return changed

    def delete_transaction(self, portfolio_id: int, transaction_id: int) -> None:
        """Delete one transaction, unless a later SELL would then sell more than is held."""
        with self._write(portfolio_id) as (session, _):
            stored = self._stored(session, portfolio_id, transaction_id)
            existing = load_transactions(session, portfolio_id, {stored.ticker})  # the only ticker it touches
            remaining = [t for t in existing if t.id != transaction_id]
            rules.refuse_deleted_oversells(existing, remaining)
            session.execute(delete(TransactionRow).where(TransactionRow.id == transaction_id))
            self._bump(session, portfolio_id)
        self._changed(portfolio_id)

    def _count(self, session: Session, portfolio_id: int) -> int:
        """The portfolio's row count for the quota: a COUNT (18 ms at 400k rows), skipped when there is no quota."""
        return 0 if self.max_transactions is None else count_transactions(session, portfolio_id)

    @staticmethod
    def _stored(session: Session, portfolio_id: int, transaction_id: int) -> Transaction:
        """One stored transaction of the portfolio, or NotFoundError (another portfolio's is not found either)."""
        rules.check_id("transaction", transaction_id)
        row = get_visible(session, transaction_id)
        if row is None or row.portfolio_id != portfolio_id:
            raise NotFoundError(f"transaction {transaction_id} not found in portfolio {portfolio_id}")
        return row.to_domain()

    # -- tickers (the price warm-up) --------------------------------------------------------------------

    def portfolio_ids(self) -> list[int]:
        """Every portfolio of every owner for the unscoped ledger (the warm-up covers them all), else the owner's."""
        with self._read() as session:
            return list(session.scalars(self._owned(select(PortfolioRow.id)).order_by(PortfolioRow.id)))

    def portfolio_tickers(self, portfolio_id: int) -> dict[str, dt.date]:
        """The portfolio's tickers, with their earliest transaction date."""
        with self._read() as session:
            self._portfolio(session, portfolio_id)
            rows = session.execute(select(TransactionRow.ticker, func.min(TransactionRow.date))
                                   .where(TransactionRow.portfolio_id == portfolio_id, visible())
                                   .group_by(TransactionRow.ticker).order_by(TransactionRow.ticker))
            return {ticker: first for ticker, first in rows}
