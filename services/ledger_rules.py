"""What the ledger refuses, and how it says so: portfolio names and currencies, ids, and oversells.

Pure: the ledger hands in values and the transactions it loaded; nothing here reads the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal

from services.csv_io import rows_rejected
from services.ledger_schema import MAX_NAME_CHARS
from services.models import (
    MAX_REPORTED_ERRORS,
    FieldError,
    NotFoundError,
    Transaction,
    ValidationError,
    plain_decimal,
)
from services.replay import Oversell, oversells
from services.transaction_input import text_problem

# A transaction's values (what PATCH may change; `currency` or `fx_rate` given as null or "" unsets it).
EDITABLE_FIELDS = ("date", "ticker", "type", "quantity", "price", "fees", "note", "currency", "fx_rate")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Ids are 64-bit integers in every database we run on. A larger one (any number fits in a URL) is no id at all:
# sqlite3 raises OverflowError binding it ("Python int too large to convert to SQLite INTEGER"), a 500.
_ID_RANGE = range(-(2**63), 2**63)


def check_name(name: object) -> str:
    """The portfolio name trimmed, or ValidationError on `name` (empty, too long, or not storable text)."""
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


def check_currency(base_currency: object) -> str:
    """The ISO currency code in upper case, or ValidationError on `base_currency`."""
    currency = base_currency.strip().upper() if isinstance(base_currency, str) else ""
    if not _CURRENCY.match(currency):
        raise ValidationError("invalid portfolio",
                              [FieldError("base_currency", "must be a 3-letter currency code like USD")])
    return currency


def name_key(name: str) -> str:
    """What two portfolio names must not share: trimmed and case-folded ("Retirement " and "retirement" clash)."""
    return name.strip().casefold()


def duplicate_name(existing: str) -> ValidationError:
    """The refusal of a name another portfolio of the owner has already (`existing`, as that one spells it)."""
    return ValidationError("invalid portfolio", [
        FieldError("name", f"a portfolio named \u201c{existing}\u201d exists already")])


def check_id(kind: str, value: int) -> None:
    """NotFoundError for an id no database row can have (out of 64-bit range)."""
    if value not in _ID_RANGE:
        raise NotFoundError(f"{kind} {value} not found")


def oversell_message(ticker: str, day: dt.date, quantity: Decimal, held: Decimal) -> str:
    return (f"sells {plain_decimal(quantity)} {ticker} on {day.isoformat()} "
            f"but only {plain_decimal(held)} are held then")


def _message(o: Oversell) -> str:
    return oversell_message(o.ticker, o.date, o.quantity, o.held)


def editable_values(transaction: Transaction) -> dict[str, object]:
    """A stored transaction as the input `validate_transaction` takes (exact decimal text, not floats).

    `currency` and `fx_rate` only when set (absent is "not given", as a NULL is). The stored currency is a major
    unit, so the stored amounts are read back as they are; an edit that gives a minor unit (GBp) says that the
    amounts, stored or given with it, are in that unit: they are divided by 100.
    """
    values: dict[str, object] = {
        "date": transaction.date.isoformat(), "ticker": transaction.ticker, "type": transaction.type,
        "quantity": plain_decimal(transaction.quantity), "price": plain_decimal(transaction.price),
        "fees": plain_decimal(transaction.fees), "note": transaction.note}
    if transaction.currency is not None:
        values["currency"] = transaction.currency
    if transaction.fx_rate is not None:
        values["fx_rate"] = plain_decimal(transaction.fx_rate)
    return values


def new_oversells(before: Sequence[Transaction], after: Sequence[Transaction]) -> list[tuple[int, Oversell]]:
    """Oversells in `after` that were not already in `before`, as (index in `after`, Oversell).

    Transactions are matched by identity, so a ledger that was already inconsistent (data older than these
    checks) does not block unrelated changes.
    """
    already = {id(before[o.index]) for o in oversells(before)}
    return [(o.index, o) for o in oversells(after) if id(after[o.index]) not in already]


def refuse_added_oversells(existing: Sequence[Transaction], added: Transaction) -> None:
    """ValidationError when adding `added` after `existing` sells more than is held."""
    found = new_oversells(existing, [*existing, added])
    if found:
        raise ValidationError("transaction rejected", [FieldError("quantity", _message(o)) for _, o in found])


def refuse_edited_oversells(existing: Sequence[Transaction], after: Sequence[Transaction],
                            changed: Transaction) -> None:
    """ValidationError when the ledger `after` an edit of `changed` oversells, naming any other SELL left short."""
    found = new_oversells(existing, after)
    if found:
        raise ValidationError("transaction rejected", [
            FieldError("quantity", _message(o) if after[index] is changed else
                       f"would leave the SELL (id {after[index].id}) short: it " + _message(o))
            for index, o in found
        ])


def refuse_deleted_oversells(existing: Sequence[Transaction], remaining: Sequence[Transaction]) -> None:
    """ValidationError when deleting a transaction leaves a later SELL short."""
    found = new_oversells(existing, remaining)
    if found:
        raise ValidationError("transaction not deleted", [
            FieldError("quantity", "deleting it would leave a later SELL short: " + _message(o))
            for _, o in found
        ])


def refuse_imported_oversells(existing: Sequence[Transaction], parsed: Sequence[tuple[int, Transaction]]) -> None:
    """ValidationError naming each imported row (by its CSV line) or existing SELL that an import leaves short.

    The new rows go after the existing ones, so on the same date the existing transactions come first.
    """
    found = new_oversells(existing, [*existing, *(transaction for _, transaction in parsed)])
    if not found:
        return

    def line(index: int) -> int | None:
        return None if index < len(existing) else parsed[index - len(existing)][0]

    errors = []
    for index, o in found[:MAX_REPORTED_ERRORS]:  # messages for those named; the rest are counted
        if index < len(existing):  # an earlier new row took shares an existing SELL needs
            errors.append(FieldError("quantity", f"the existing SELL (id {existing[index].id}) "
                                     f"would be short: {_message(o)}"))
        else:
            errors.append(FieldError("quantity", _message(o), line(index)))
    raise rows_rejected(errors, rows=len({line(index) for index, _ in found}), total=len(found))
