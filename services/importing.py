"""Importing a CSV ledger into a portfolio, as the API's import route and the Transactions page both do it
(DESIGN.md, "Day change, splits and import hygiene").

`import_ledger_csv(services, portfolio_id, text, idempotency_key=None) -> ImportResult`: rows equal to existing
transactions are skipped and counted, a repeated `Idempotency-Key` returns the first answer (the ledger keeps it,
`services/idempotency.py`), and a ValidationError names every bad line of the file in one pass (nothing imported).
The answer's warnings: a dividend paid on a share count other than the shares held (the ledger's), and a `.L`
price that looks typed in pence (`import_checks`, against cached closes: read here, since the ledger never sees a
price). A warning never undoes an import: a check that fails is logged and warns of nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from services.csv_io import DEFAULT_MAX_ROWS, read_transactions_csv
from services.import_checks import _MINOR_UNIT_SUFFIX, close_lookup, minor_unit_warnings
from services.ledger_import import dividend_warnings
from services.models import FieldError, ImportResult, ImportWarning, Transaction, ValidationError

__all__ = ["ImportResult", "ImportWarning", "import_ledger_csv", "transaction_warnings"]

log = logging.getLogger(__name__)


def _price_warnings(services: Any, text: str, max_rows: int) -> tuple[ImportWarning, ...]:
    """The pence-looking prices of the file's good rows (the ledger keeps those of the rows it imports)."""
    if not _MINOR_UNIT_SUFFIX.search(text):
        return ()
    try:
        # Only the rows of minor-unit tickers: a second check of all 100k rows of a file cost as much as the import.
        rows = read_transactions_csv(text, max_rows, only_tickers=_MINOR_UNIT_SUFFIX.search).rows
        return tuple(minor_unit_warnings(rows, close_lookup(services.prices.cache.get_closes)))
    except ValidationError:
        return ()  # the ledger's import names the file's errors
    except Exception:
        log.exception("import price warnings failed")
        return ()


def import_ledger_csv(services: Any, portfolio_id: int, text: str, *, idempotency_key: str | None = None,
                      max_rows: int = DEFAULT_MAX_ROWS) -> ImportResult:
    """Import our CSV ledger `text` into the portfolio (of the owner `services.ledger` is scoped to)."""
    ledger = services.ledger
    ledger.get_portfolio(portfolio_id)  # NotFoundError before any work
    return ledger.import_transactions(portfolio_id, text, max_rows, idempotency_key=idempotency_key,
                                      warnings=_price_warnings(services, text, max_rows))


def transaction_warnings(services: Any, portfolio_id: int, added: Transaction) -> list[FieldError]:
    """What looks wrong in one transaction just added (the single POST's `warnings`): a dividend paid on a share
    count other than the shares held that day. Read after the write, so a check that fails warns of nothing."""
    if added.type != "DIVIDEND":
        return []
    try:
        others = [t for t in services.ledger.list_transactions(portfolio_id) if t.id != added.id]
        return [FieldError(w.field, w.message) for w in dividend_warnings(others, [(0, added)])]
    except Exception:
        log.exception("transaction warnings failed")
        return []
