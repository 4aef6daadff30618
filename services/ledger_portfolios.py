"""The portfolio-level half of `Ledger` (list, get, create, rename, change the base currency or the benchmark,
delete, version).

A mixin: it relies on `Ledger`'s plumbing (`_read`, `_write`, `_portfolio`, `_creator`, `_changed`), so owner
scoping stays exactly where `services/ledger.py` describes it.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from services import ledger_guards as guards
from services import ledger_rules as rules
from services.ledger_schema import PortfolioRow, TransactionRow, visible
from services.models import DEFAULT_BENCHMARK, FieldError, Portfolio, ValidationError


class PortfolioMethods:
    """List, read, create, rename, re-base and delete the owner's portfolios (mixed into `Ledger`)."""

    def list_portfolios(self) -> list[Portfolio]:
        """The owner's portfolios (the local user's for the unscoped ledger), oldest first."""
        with self._read() as session:
            rows = session.scalars(select(PortfolioRow).where(PortfolioRow.owner_id == self._creator)
                                   .order_by(PortfolioRow.id))
            return [row.to_domain() for row in rows]

    def get_portfolio(self, portfolio_id: int) -> Portfolio:
        with self._read() as session:
            return self._portfolio(session, portfolio_id).to_domain()

    def create_portfolio(self, name: str, base_currency: str = "USD") -> Portfolio:
        """A new empty portfolio of the ledger's owner; ValidationError for an empty or long name, a name the owner
        already has (compared trimmed and case-insensitively), a non-ISO currency or one portfolio over the quota."""
        cleaned = rules.check_name(name)
        currency = rules.check_currency(base_currency)
        owner_id = self._creator
        with self._write() as (session, _):
            guards.refuse_duplicate_name(session, owner_id, cleaned)  # takes the per-owner lock on Postgres
            guards.refuse_portfolio_over_quota(session, owner_id, self.max_portfolios)
            row = PortfolioRow(name=cleaned, base_currency=currency, owner_id=owner_id)
            session.add(row)
            session.flush()
            return row.to_domain()

    def rename_portfolio(self, portfolio_id: int, name: str) -> Portfolio:
        """Rename a portfolio; ValidationError as for `create_portfolio` (its own name again is fine)."""
        cleaned = rules.check_name(name)
        with self._write(portfolio_id) as (session, row):
            assert row is not None
            # A change of case or spacing only clashes with no one.
            if rules.name_key(cleaned) != rules.name_key(row.name):
                guards.refuse_duplicate_name(session, row.owner_id, cleaned, except_id=row.id)
            row.name = cleaned
            session.flush()
            return row.to_domain()

    def set_base_currency(self, portfolio_id: int, base_currency: str, *, clear_fx_rates: bool = False) -> Portfolio:
        """Change the currency the portfolio is valued in, and bump its version (caches and charts regenerate).

        A stored `fx_rate` converts its transaction's currency into the base at entry, so a new base would misread
        it: refused (ValidationError on `base_currency`) while any transaction carries one, unless `clear_fx_rates`,
        which drops them in the same database transaction. The same base again changes nothing.
        """
        currency = rules.check_currency(base_currency)
        with self._write(portfolio_id) as (session, row):
            assert row is not None
            if currency == row.base_currency:
                return row.to_domain()
            with_rate = (TransactionRow.portfolio_id == portfolio_id, TransactionRow.fx_rate.is_not(None), visible())
            count = session.scalar(select(func.count()).select_from(TransactionRow).where(*with_rate)) or 0
            if count and not clear_fx_rates:
                raise ValidationError("base currency not changed", [FieldError(
                    "base_currency", f"{count} transaction{' carries' if count == 1 else 's carry'} an fx_rate into "
                                     f"{row.base_currency}; send clear_fx_rates: true to drop them")])
            if count:
                session.execute(update(TransactionRow).where(*with_rate).values(fx_rate=None))
            row.base_currency = currency
            changed = self._bumped(session, row)
        self._changed(portfolio_id)
        return changed

    def set_benchmark(self, portfolio_id: int, benchmark: str | None) -> Portfolio:
        """Change the ticker the portfolio's returns are compared with (None: the default, ^GSPC), and bump its
        version so its charts are made again with the new line. ValidationError on `benchmark` for a string that
        is no ticker symbol; the same benchmark again changes nothing."""
        symbol = rules.check_benchmark(benchmark)
        with self._write(portfolio_id) as (session, row):
            assert row is not None
            if (symbol or DEFAULT_BENCHMARK) == (row.benchmark or DEFAULT_BENCHMARK):  # the line would not change
                return row.to_domain()
            row.benchmark = symbol
            changed = self._bumped(session, row)
        self._changed(portfolio_id)
        return changed

    @staticmethod
    def _bumped(session: Session, row: PortfolioRow) -> Portfolio:
        """The portfolio as changed in this transaction, its version bumped: what its caches are keyed by."""
        row.version = row.version + 1
        session.flush()
        return row.to_domain()

    def delete_portfolio(self, portfolio_id: int) -> None:
        """Delete a portfolio; the database cascades to its transactions."""
        with self._write(portfolio_id) as (session, _):
            session.execute(delete(PortfolioRow).where(PortfolioRow.id == portfolio_id))
        self._changed(portfolio_id)

    def version(self, portfolio_id: int) -> int:
        """A number that changes whenever the portfolio's transactions (or its base currency) do."""
        with self._read() as session:
            return self._portfolio(session, portfolio_id).version

    def portfolio_and_version(self, portfolio_id: int) -> tuple[Portfolio, int]:
        """`get_portfolio` and `version` in one read (one session, one statement): a warm page asks for both."""
        with self._read() as session:
            row = self._portfolio(session, portfolio_id)
            return row.to_domain(), row.version
