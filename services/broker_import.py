"""Import a broker's CSV export into a portfolio: convert it (`broker_formats`), import our CSV, and answer in the
lines of the user's file (docs/broker-import.md).

The import itself is `services.importing.import_ledger_csv` (imported, duplicates skipped, warnings); until that
module exists, the ledger's `import_csv` and `import_checks.csv_warnings` give the same answer without duplicate
detection (skipped_duplicates 0). Every error and warning of our CSV is moved back to the user's line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from services.broker_formats import ColumnMapping, ConvertedCsv, convert
from services.models import FieldError, ValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerImportResult:
    """What an import did: rows imported, duplicates skipped, rows that were not trades (by action word), and
    warnings by the user's line."""

    imported: int
    skipped_duplicates: int
    not_trades: int = 0
    not_trade_actions: dict[str, int] = field(default_factory=dict)
    warnings: tuple[FieldError, ...] = ()
    format: str = "mystocktracker"

    def to_json(self) -> dict:
        return {"imported": self.imported, "skipped_duplicates": self.skipped_duplicates,
                "not_trades": self.not_trades, "not_trade_actions": dict(self.not_trade_actions),
                "warnings": [w.to_json() for w in self.warnings], "format": self.format}


def _warning(item: object) -> FieldError:
    """A warning of either import path (FieldError, import_checks.ImportWarning, or its JSON) as a FieldError."""
    if isinstance(item, dict):
        return FieldError(str(item.get("field", "")), str(item.get("message", "")), item.get("line"))
    return FieldError(str(getattr(item, "field", "")), str(getattr(item, "message", "")), getattr(item, "line", None))


def _rows_not_trades(count: int) -> str:
    return f"{count} row was not a trade" if count == 1 else f"{count} rows were not trades"


def import_canonical(services, portfolio_id: int, text: str, *,
                     idempotency_key: str | None = None) -> tuple[int, int, list[FieldError]]:
    """(imported, duplicates skipped, warnings) of our own CSV; ValidationError (lines of `text`) imports none."""
    try:
        from services.importing import import_ledger_csv
    except ImportError:
        import_ledger_csv = None
    if import_ledger_csv is not None:
        result = import_ledger_csv(services, portfolio_id, text, idempotency_key=idempotency_key)
        return (int(result.imported), int(getattr(result, "skipped_duplicates", 0)),
                [_warning(w) for w in getattr(result, "warnings", ())])
    count = services.ledger.import_csv(portfolio_id, text)
    warnings: list = []
    if count:
        try:
            from services.import_checks import csv_warnings

            warnings = csv_warnings(text, services.prices.cache.get_closes)
        except Exception:  # a warning never undoes an import
            log.exception("import warnings failed")
    return count, 0, [_warning(w) for w in warnings]


def import_broker_csv(services, portfolio_id: int, text: str, mapping: ColumnMapping | None, *,
                      format_key: str = "mystocktracker", idempotency_key: str | None = None) -> BrokerImportResult:
    """Import `text` read through `mapping` (None: our own CSV, as is). ValidationError names the user's lines."""
    services.ledger.get_portfolio(portfolio_id)  # NotFoundError (another owner's too) before any work
    if mapping is None:
        imported, duplicates, warnings = import_canonical(services, portfolio_id, text,
                                                          idempotency_key=idempotency_key)
        return BrokerImportResult(imported, duplicates, warnings=tuple(warnings), format=format_key)
    converted: ConvertedCsv = convert(text, mapping, services.ledger.list_transactions(portfolio_id))
    if converted.trades == 0:
        raise ValidationError("no trades", [FieldError(
            "file", f"has no trade rows for {mapping.name} ({_rows_not_trades(converted.not_trades)})", None)])
    try:
        imported, duplicates, warnings = import_canonical(services, portfolio_id, converted.text,
                                                          idempotency_key=idempotency_key)
    except ValidationError as error:
        raise ValidationError(error.message, converted.remap(error.errors), error.total) from None
    return BrokerImportResult(imported, duplicates, converted.not_trades, converted.not_trade_actions,
                              (*converted.warnings, *converted.remap(warnings)), format_key)
