"""What an import adds, skips and warns about, judged against the ledger it joins (DESIGN.md, "Day change, splits and
import hygiene"). Pure: the ledger hands in its transactions and the file as read; nothing here touches a database.

- A row equal to an existing transaction on (date, ticker, type, quantity, price, fees) is skipped and counted, as a
  multiset: each existing transaction absorbs one equal row, so a file of two equal buys imports both the first
  time and skips both the second. A split's quantity compares by value (1:2 equals 0.5).
- Every error of the file comes in one rejection: its format errors, then (judged on its good rows) its oversells
  and dividends on a ticker never held, at most MAX_REPORTED_ERRORS named, all counted.
- Warnings (the rows are imported all the same): a DIVIDEND whose share count differs from the shares held that
  day (after the day's SPLITs and BUYs, before its SELLs: `replay.ledger_order`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from services.csv_io import CsvRead, rows_rejected
from services.gc_pause import gc_paused
from services.ledger_rules import new_of, row_errors
from services.models import MAX_REPORTED_ERRORS, ImportWarning, Transaction, plain_decimal
from services.replay import SHARE_DUST, Oversell, UnheldDividend, problems, walk


@dataclass(frozen=True)
class ImportPlan:
    """The rows to add (with their lines), how many were skipped as duplicates, and the warnings on added rows."""

    rows: tuple[tuple[int, Transaction], ...]
    skipped_duplicates: int
    warnings: tuple[ImportWarning, ...]


def duplicate_key(t: Transaction) -> tuple:
    """What makes two transactions the same trade."""
    quantity: Fraction | Decimal = Fraction(t.ratio.new, t.ratio.old) if t.ratio is not None else t.quantity
    return (t.date, t.ticker, t.type, quantity, t.price, t.fees)


def without_duplicates(existing: Sequence[Transaction],
                       rows: Sequence[tuple[int, Transaction]]) -> tuple[list[tuple[int, Transaction]], int]:
    """(the rows not equal to an existing transaction, how many were), matched one for one."""
    unmatched = Counter(duplicate_key(t) for t in existing)
    if not unmatched:
        return list(rows), 0
    # Only a row on a (date, ticker) the ledger has can be a duplicate: the rest skip building a key (100k rows: 1 s).
    days = {(t.date, t.ticker) for t in existing}
    kept: list[tuple[int, Transaction]] = []
    skipped = 0
    for line, transaction in rows:
        if (transaction.date, transaction.ticker) not in days:
            kept.append((line, transaction))
            continue
        key = duplicate_key(transaction)
        if unmatched[key] > 0:
            unmatched[key] -= 1
            skipped += 1
        else:
            kept.append((line, transaction))
    return kept, skipped


def dividend_warnings(existing: Sequence[Transaction], rows: Sequence[tuple[int, Transaction]]) -> list[ImportWarning]:
    """A warning on `quantity` for each imported DIVIDEND paid on a share count other than the shares held then."""
    line_of = _dividend_lines(rows)
    if not line_of:
        return []
    return _walk_import([*existing, *(t for _, t in rows)], line_of)[2]


def _dividend_lines(rows: Sequence[tuple[int, Transaction]]) -> dict[int, int]:
    return {id(t): line for line, t in rows if t.type == "DIVIDEND"}


def _walk_import(after: Sequence[Transaction], line_of: dict[int, int]
                 ) -> tuple[list[Oversell], list[UnheldDividend], list[ImportWarning]]:
    """`replay.problems` of the ledger `after` an import and the warnings on its DIVIDENDs (`line_of`: their lines by
    id), in one walk: 100k rows take ~0.2 s a walk."""
    sold: list[Oversell] = []
    unheld: list[UnheldDividend] = []
    warnings = []
    for transaction, book in walk(after, sold, unheld):
        if transaction.type != "DIVIDEND":
            continue
        line = line_of.get(id(transaction))
        if line is not None and abs(transaction.quantity - book.quantity) >= SHARE_DUST:
            warnings.append(ImportWarning(line, "quantity", (
                f"pays on {plain_decimal(transaction.quantity)} shares but {plain_decimal(book.quantity)} "
                f"{transaction.ticker} are held on {transaction.date.isoformat()}")))
    return sold, unheld, sorted(warnings, key=lambda w: w.line)


def plan_import(existing: Sequence[Transaction], read: CsvRead) -> ImportPlan:
    """What importing `read` into a ledger of `existing` transactions does, or ValidationError naming every bad
    line (nothing is imported then)."""
    with gc_paused():  # lists of 100k rows, no garbage: services/gc_pause.py
        return _plan(existing, read)


def _plan(existing: Sequence[Transaction], read: CsvRead) -> ImportPlan:
    rows, skipped = without_duplicates(existing, read.rows)
    errors = read.errors
    after = [*existing, *(t for _, t in rows)]
    sold, unheld, warnings = _walk_import(after, _dividend_lines(rows))
    found = new_of(existing, problems(existing), after, (sold, unheld))
    del after
    problems_found = row_errors(existing, rows, found, read.bad_tickers if errors else frozenset())
    if errors or problems_found:
        named = sorted([*errors.kept, *problems_found[:MAX_REPORTED_ERRORS]],
                       key=lambda e: e.line if e.line is not None else 2**63)  # no line (an existing SELL): last
        lines = errors.rows + len({e.line for e in problems_found})
        raise rows_rejected(named[:MAX_REPORTED_ERRORS], rows=lines, total=errors.total + len(problems_found))
    return ImportPlan(tuple(rows), skipped, tuple(warnings))
