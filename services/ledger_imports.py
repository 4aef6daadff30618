"""The import half of `Ledger`: a CSV ledger in (`import_transactions`, `import_csv`) and out (`export_csv`).

A mixin, as `ledger_portfolios` is: it relies on `Ledger`'s plumbing (`_read`, `_write`, `_portfolio`, `_bump`,
`_count`, `_changed`, `engine`, `max_transactions`), so owner scoping and locking stay where `services/ledger.py`
describes them. An import is parsed, planned (`ledger_import`, on the rows of the file's tickers only) and bound
for the database (`ledger_bulk`) before the write lock; under it, the plan stands if the portfolio's version has
not moved, else it is judged again there.
"""

from __future__ import annotations

from services import idempotency
from services import ledger_guards as guards
from services import ledger_staging as staging
from services.csv_io import DEFAULT_MAX_ROWS, read_transactions_csv, write_transactions_csv
from services.ledger_bulk import prepare_rows, write_rows
from services.ledger_engine import waiting_room
from services.ledger_import import plan_import
from services.ledger_schema import load_transactions
from services.models import ImportResult, ImportWarning


class ImportMethods:
    def import_csv(self, portfolio_id: int, text: str, max_rows: int = DEFAULT_MAX_ROWS) -> int:
        """Add every new row of a CSV ledger in one database transaction, or none (ValidationError); the count
        added (rows equal to existing transactions are skipped: `import_transactions`)."""
        return self.import_transactions(portfolio_id, text, max_rows).imported

    def import_transactions(self, portfolio_id: int, text: str, max_rows: int = DEFAULT_MAX_ROWS, *,
                            idempotency_key: str | None = None,
                            warnings: tuple[ImportWarning, ...] = ()) -> ImportResult:
        """Import a CSV ledger (`ledger_import`: duplicates skipped, every bad line named in one ValidationError,
        nothing half-written). `warnings` found by the caller (prices, which the ledger never sees) are kept for
        the rows imported. With `idempotency_key`, a repeat returns the first answer and imports nothing."""
        key = None if idempotency_key is None else idempotency.check_key(idempotency_key)
        print_ = idempotency.fingerprint(text) if key is not None else ""
        with self._read() as session:
            self._portfolio(session, portfolio_id)  # 404 before 422, and before parsing a big file
            if key is not None and (answer := idempotency.recall(session, portfolio_id, key, print_)):
                return answer
        read = read_transactions_csv(text, max_rows)
        # Planned before the write lock, against the ledger at a known version: SQLite's lock is database-wide, and
        # judging 100k rows takes a second that every other portfolio's writes would wait. Under the lock the plan
        # is kept only if the version is unchanged (every write bumps it), else judged again there.
        # Only the file's tickers are read: duplicates, oversells and dividends are judged per ticker (issue 17).
        with self._read() as session:
            planned_at = self._portfolio(session, portfolio_id).version
            existing = load_transactions(session, portfolio_id, read.tickers())
            stale = staging.stale_batches(session, portfolio_id)
        plan = plan_import(existing, read)
        del existing
        staging.discard_stale(self._write, stale, portfolio_id)
        dialect = self.engine.dialect
        # A big import on SQLite is staged in short transactions and published under the lock (`ledger_staging`).
        batch = staging.open_batch(self._write, portfolio_id) if staging.stages(dialect, len(plan.rows)) else None
        published = False
        try:
            if batch is None:
                prepared = prepare_rows(dialect, portfolio_id, plan.rows)  # bound values: no lock needed
            else:
                staging.stage(self._write, prepare_rows(dialect, portfolio_id, plan.rows, batch_id=batch,
                                                        chunk_rows=staging.STAGE_CHUNK), waiting_room(self.engine))
            with self._write(portfolio_id) as (session, row):
                if key is not None and (answer := idempotency.recall(session, portfolio_id, key, print_)):
                    return answer  # the same key won the lock first
                moved = row is None or row.version != planned_at
                if moved:
                    plan = plan_import(load_transactions(session, portfolio_id, read.tickers()), read)
                guards.refuse_transactions_over_quota(self.max_transactions, self._count(session, portfolio_id),
                                                      len(plan.rows), "file")
                if plan.rows:
                    published = batch is not None and not moved and staging.publish(session, batch)
                    if not published:  # unstaged, or staged for a ledger that has moved since: written here
                        if batch is not None or moved:
                            prepared = prepare_rows(dialect, portfolio_id, plan.rows)
                        write_rows(session, prepared)
                    self._bump(session, portfolio_id)
                added = {line for line, _ in plan.rows}
                kept = (*plan.warnings, *(w for w in warnings if w.line in added))
                result = ImportResult(len(plan.rows), plan.skipped_duplicates,
                                      tuple(sorted(kept, key=lambda w: w.line)))
                if key is not None:
                    idempotency.remember(session, portfolio_id, key, print_, result)
        except BaseException:
            published = False  # the transaction that published it rolled back
            raise
        finally:
            if batch is not None and not published:
                staging.discard_quietly(self._write, portfolio_id, batch)
        if plan.rows:
            self._changed(portfolio_id)
        return result

    def export_csv(self, portfolio_id: int) -> str:
        """The ledger as CSV, which `import_csv` reads back to the same transactions."""
        return write_transactions_csv(self.list_transactions(portfolio_id))
