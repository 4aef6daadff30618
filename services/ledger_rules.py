"""What the ledger refuses, and how it says so: portfolio names and currencies, ids, oversells, and dividends on a
ticker never held (issue 15: no share held on or before the dividend's date; an error on `ticker`).

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
    is_valid_ticker,
    plain_decimal,
)
from services.replay import Oversell, UnheldDividend, problems
from services.transaction_input import text_problem

# A transaction's values (what PATCH may change; `currency` or `fx_rate` given as null or "" unsets it).
EDITABLE_FIELDS = ("date", "ticker", "type", "quantity", "price", "fees", "note", "currency", "fx_rate", "time")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Ids are 64-bit integers in every database we run on. A larger one (any number fits in a URL) is no id at all:
# sqlite3 raises OverflowError binding it ("Python int too large to convert to SQLite INTEGER"), a 500.
_ID_RANGE = range(-(2**63), 2**63)
_NO_LINE = 2**63  # an error without a line (an existing SELL) sorts after every line


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


def check_benchmark(benchmark: object) -> str | None:
    """The benchmark ticker trimmed and in upper case (None: back to the default, DEFAULT_BENCHMARK), or
    ValidationError on `benchmark` for anything that is not a symbol the price providers can look up."""
    if benchmark is None:
        return None
    symbol = benchmark.strip().upper() if isinstance(benchmark, str) else ""
    if not is_valid_ticker(symbol):
        shown = repr(benchmark)[:40] if isinstance(benchmark, str) else type(benchmark).__name__
        raise ValidationError("invalid portfolio", [FieldError(
            "benchmark", f"{shown} is not a ticker symbol (like ^GSPC, SPY or VWRL.L)")])
    return symbol


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


def unheld_message(u: UnheldDividend) -> str:
    return (f"a DIVIDEND of {u.ticker} on {u.date.isoformat()}, but no {u.ticker} share is held on or before "
            "that date")


def new_unheld(before: Sequence[Transaction], after: Sequence[Transaction]) -> list[tuple[int, UnheldDividend]]:
    """Never-held dividends in `after` that were not already in `before` (matched by identity, as oversells)."""
    return new_problems(before, after)[1]


def new_problems(before: Sequence[Transaction], after: Sequence[Transaction]
                 ) -> tuple[list[tuple[int, Oversell]], list[tuple[int, UnheldDividend]]]:
    """(`new_oversells`, `new_unheld`) with one walk of each ledger instead of two."""
    return new_of(before, problems(before), after, problems(after))


def new_of(before: Sequence[Transaction], found_before: tuple[list[Oversell], list[UnheldDividend]],
           after: Sequence[Transaction], found_after: tuple[list[Oversell], list[UnheldDividend]]
           ) -> tuple[list[tuple[int, Oversell]], list[tuple[int, UnheldDividend]]]:
    """`new_problems` of ledgers already walked (`replay.problems` of each): an import walks `after` once for
    these and its dividend warnings."""
    sold_before, unheld_before = found_before
    sold_after, unheld_after = found_after
    sold = {id(before[o.index]) for o in sold_before}
    unheld = {id(before[u.index]) for u in unheld_before}
    return ([(o.index, o) for o in sold_after if id(after[o.index]) not in sold],
            [(u.index, u) for u in unheld_after if id(after[u.index]) not in unheld])


def _dividend_errors(found: list[tuple[int, UnheldDividend]], after: Sequence[Transaction],
                     changed: Transaction | None, prefix: str = "") -> list[FieldError]:
    return [FieldError("ticker", prefix + unheld_message(u) if changed is None or after[index] is changed
                       else f"would leave the DIVIDEND (id {after[index].id}) without shares: " + unheld_message(u))
            for index, u in found]


def editable_values(transaction: Transaction) -> dict[str, object]:
    """A stored transaction as the input `validate_transaction` takes (exact decimal text, not floats).

    `currency` and `fx_rate` only when set (absent is "not given", as a NULL is). The stored currency is a major
    unit, so the stored amounts are read back as they are; an edit that gives a minor unit (GBp) says that the
    amounts, stored or given with it, are in that unit: they are divided by 100.
    """
    values: dict[str, object] = {
        "date": transaction.date.isoformat(), "ticker": transaction.ticker, "type": transaction.type,
        "quantity": transaction.quantity_text, "price": plain_decimal(transaction.price),
        "fees": plain_decimal(transaction.fees), "note": transaction.note}
    if transaction.time is not None:
        values["time"] = transaction.time_text
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
    return new_problems(before, after)[0]


def refuse_added_oversells(existing: Sequence[Transaction], added: Transaction) -> None:
    """ValidationError when adding `added` after `existing` sells more than is held, or is a dividend on a ticker
    never held."""
    after = [*existing, added]
    sold, unheld = new_problems(existing, after)
    errors = [FieldError("quantity", _message(o)) for _, o in sold]
    errors += _dividend_errors(unheld, after, None)
    if errors:
        raise ValidationError("transaction rejected", errors)


def refuse_edited_oversells(existing: Sequence[Transaction], after: Sequence[Transaction],
                            changed: Transaction) -> None:
    """ValidationError when the ledger `after` an edit of `changed` oversells, naming any other SELL left short."""
    errors = [FieldError("quantity", _message(o) if after[index] is changed else
                         f"would leave the SELL (id {after[index].id}) short: it " + _message(o))
              for index, o in new_oversells(existing, after)]
    errors += _dividend_errors(new_unheld(existing, after), after, changed)
    if errors:
        raise ValidationError("transaction rejected", errors)


def refuse_deleted_oversells(existing: Sequence[Transaction], remaining: Sequence[Transaction]) -> None:
    """ValidationError when deleting a transaction leaves a later SELL short."""
    errors = [FieldError("quantity", "deleting it would leave a later SELL short: " + _message(o))
              for _, o in new_oversells(existing, remaining)]
    errors += _dividend_errors(new_unheld(existing, remaining), remaining, None,
                               "deleting it would leave a dividend without shares: ")
    if errors:
        raise ValidationError("transaction not deleted", errors)


def imported_row_errors(existing: Sequence[Transaction], parsed: Sequence[tuple[int, Transaction]],
                        skip_tickers: frozenset[str] | set[str] = frozenset()) -> list[FieldError]:
    """Every imported row (by its CSV line) or existing SELL that an import leaves short, and every imported
    DIVIDEND on a ticker never held, in line order (an existing SELL, which has no line, last). Tickers in
    `skip_tickers` (those of the file's bad rows, which may hold the missing shares) are not judged."""
    return row_errors(existing, parsed, new_problems(existing, [*existing, *(t for _, t in parsed)]), skip_tickers)


def row_errors(existing: Sequence[Transaction], parsed: Sequence[tuple[int, Transaction]],
               found: tuple[list[tuple[int, Oversell]], list[tuple[int, UnheldDividend]]],
               skip_tickers: frozenset[str] | set[str] = frozenset()) -> list[FieldError]:
    """`imported_row_errors` of the `new_problems` (or `new_of`) of `existing` then `parsed` already found."""

    def line(index: int) -> int | None:
        return None if index < len(existing) else parsed[index - len(existing)][0]

    sold, unheld = found
    errors: list[tuple[int, FieldError]] = []
    for index, o in sold:
        if o.ticker in skip_tickers:
            continue
        if index < len(existing):  # an earlier new row took shares an existing SELL needs
            errors.append((_NO_LINE, FieldError("quantity", f"the existing SELL (id {existing[index].id}) "
                                                f"would be short: {_message(o)}")))
        else:
            errors.append((line(index) or _NO_LINE, FieldError("quantity", _message(o), line(index))))
    for index, u in unheld:
        if u.ticker not in skip_tickers and index >= len(existing):
            errors.append((line(index) or _NO_LINE, FieldError("ticker", unheld_message(u), line(index))))
    errors.sort(key=lambda item: item[0])
    return [error for _, error in errors]


def refuse_imported_oversells(existing: Sequence[Transaction], parsed: Sequence[tuple[int, Transaction]]) -> None:
    """ValidationError naming each imported row (by its CSV line) or existing SELL that an import leaves short, and
    each imported dividend on a ticker never held."""
    errors = imported_row_errors(existing, parsed)
    if errors:
        raise rows_rejected(errors[:MAX_REPORTED_ERRORS], rows=len({e.line for e in errors}), total=len(errors))
