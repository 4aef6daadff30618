"""Reading and writing a ledger as CSV (docs/ARCHITECTURE.md, "Ledger semantics"); each row is checked by
`transaction_input`.

Pure: no database, no I/O beyond the strings handed in. Header `date,ticker,type,quantity,price,fees,note,
currency,fx_rate,time` (case-insensitive, any order; `fees`, `note`, `currency`, `fx_rate` and `time` optional,
so a file written before the newer ones existed imports as it always did; a column of any other name is refused,
as it always was: a misspelt `fx rate` must not be dropped in silence); a file at most `max_rows` rows. An empty
cell is a value not given. The export writes the first nine columns always and `time` last when a transaction has
one (a ledger without times exports as it did before); a SPLIT given as a ratio is written `N:M` (1:3), so it
imports back exactly.

`read_transactions_csv` reads every row and collects every format error (the import then adds the oversells and
never-held dividends of the good rows, so one 422 names them all); `parse_transactions_csv_lines` raises at once.

Spreadsheet formula injection (https://owasp.org/www-community/attacks/CSV_Injection): a text cell that
starts with = + - @ is exported with a leading `'`, and one such `'` is stripped on import. The rule also
covers cells that already start with quotes before one of those characters, so every text round-trips.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from services.gc_pause import gc_paused
from services.models import MAX_REPORTED_ERRORS, FieldError, Transaction, ValidationError, plain_decimal
from services.transaction_input import validate_transaction
from services.transaction_rows import PlainRows

# Kept importable from here for callers written before the split (dashapp/pages/transactions.py, tests/faults).
__all__ = ["COLUMNS", "DEFAULT_MAX_ROWS", "REQUIRED_COLUMNS", "CsvRead", "ErrorTally", "escape_cell",
           "parse_transactions_csv_lines", "plain_decimal", "read_transactions_csv", "rows_rejected", "unescape_cell",
           "validate_transaction", "write_transactions_csv"]

COLUMNS: tuple[str, ...] = ("date", "ticker", "type", "quantity", "price", "fees", "note", "currency", "fx_rate",
                             "time")
REQUIRED_COLUMNS: frozenset[str] = frozenset({"date", "ticker", "type", "quantity", "price"})
DEFAULT_MAX_ROWS = 100_000

# A cell a spreadsheet would run as a formula, possibly behind quotes that we added or the user typed.
_FORMULA = re.compile(r"^'*[=+\-@]")


def escape_cell(text: str) -> str:
    """Prefix a text cell a spreadsheet would run as a formula with `'`."""
    return "'" + text if _FORMULA.match(text) else text


def unescape_cell(text: str) -> str:
    """Undo `escape_cell`: drop one leading `'` that stands before (more quotes and) = + - @."""
    if text.startswith("'") and _FORMULA.match(text[1:]):
        return text[1:]
    return text


def rows_rejected(errors: list[FieldError], rows: int | None = None, total: int | None = None) -> ValidationError:
    """The refusal of a ledger file: "N rows rejected", N counting the distinct lines `errors` name (or `rows`, when
    only the first of `total` errors are handed in)."""
    if rows is None:
        rows = len({e.line for e in errors})
    return ValidationError(f"{rows} row{'s' if rows != 1 else ''} rejected", errors, total)


class ErrorTally:
    """A file's errors as they are found: the first MAX_REPORTED_ERRORS kept, the rest only counted, so a file of
    bad rows costs the same memory whatever its size. Rows are counted as the lines change (a file's errors come
    in line order)."""

    def __init__(self) -> None:
        self.kept: list[FieldError] = []
        self.total = 0
        self.rows = 0
        self._line: int | None = 0  # no line has number 0

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, error: FieldError) -> None:
        self.total += 1
        if error.line != self._line:
            self.rows += 1
            self._line = error.line
        if len(self.kept) < MAX_REPORTED_ERRORS:
            self.kept.append(error)

    def rejection(self) -> ValidationError:
        return rows_rejected(self.kept, self.rows, self.total)


def _read_header(cells: list[str], line: int) -> tuple[list[str], list[FieldError]]:
    names = [cell.strip().lower() for cell in cells]
    problems: list[str] = []
    empty = [str(i + 1) for i, name in enumerate(names) if name == ""]
    if empty:
        problems.append(f"empty column name at position {', '.join(empty)}")
    unknown = [name for name in dict.fromkeys(names) if name and name not in COLUMNS]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)} (expected {','.join(COLUMNS)})")
    duplicate = [name for name in dict.fromkeys(names) if name and names.count(name) > 1]
    if duplicate:
        problems.append(f"duplicate column(s): {', '.join(duplicate)}")
    missing = [name for name in COLUMNS if name in REQUIRED_COLUMNS and name not in names]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    return names, [FieldError("header", problem, line) for problem in problems]


@dataclass
class CsvRead:
    """A CSV ledger as read: the good rows with their lines, every bad row's errors, and the ticker cells of the bad
    rows (an oversell of such a ticker may only be the bad row's fault, so it is not reported too)."""

    rows: list[tuple[int, Transaction]] = field(default_factory=list)
    errors: ErrorTally = field(default_factory=ErrorTally)
    bad_tickers: set[str] = field(default_factory=set)

    def tickers(self) -> set[str]:
        """The tickers of the good rows: all of the ledger an import of them needs to read."""
        return {transaction.ticker for _, transaction in self.rows}


def parse_transactions_csv_lines(
    text: str, max_rows: int = DEFAULT_MAX_ROWS
) -> list[tuple[int, Transaction]]:
    """Every transaction of a CSV ledger with the line it starts on (the header is line 1), or ValidationError
    naming the first MAX_REPORTED_ERRORS bad fields by line and field and counting all of them (nothing is
    half-read)."""
    read = read_transactions_csv(text, max_rows, keep_rows_on_error=False)
    if read.errors:
        raise read.errors.rejection()
    return read.rows


def read_transactions_csv(text: str, max_rows: int = DEFAULT_MAX_ROWS, *, keep_rows_on_error: bool = True,
                          only_tickers: Callable[[str], bool] | None = None) -> CsvRead:
    """Every good row and every row error of a CSV ledger. A bad header, an empty file or more than `max_rows` rows
    still raise ValidationError at once (no row can be judged then). With `only_tickers`, only the rows whose
    ticker cell (trimmed, upper case) it accepts are checked and kept (a second look at a few rows of a big file
    costs those rows only)."""
    with gc_paused():  # the rows pile up: the collector's passes over them would find nothing (services/gc_pause.py)
        return _read_rows(text, max_rows, keep_rows_on_error, only_tickers)


def _read_rows(text: str, max_rows: int, keep_rows_on_error: bool,
               only_tickers: Callable[[str], bool] | None) -> CsvRead:
    if text.startswith("\ufeff"):  # Excel writes a UTF-8 BOM
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    plain: PlainRows | None = None
    read = CsvRead()
    parsed, errors = read.rows, read.errors
    rows = 0
    line = 1
    try:
        for cells in reader:
            # A quoted cell can span lines: report the line the record starts on.
            start, line = line, reader.line_num + 1
            if not "".join(cells).strip():  # every cell blank (one C call, not a generator per row)
                continue  # blank lines, and the ",,,," rows spreadsheets leave at the end
            if header is None:
                header, header_errors = _read_header(cells, start)
                if header_errors:
                    raise ValidationError("header rejected", header_errors)
                plain = PlainRows(header)
                ticker_at = header.index("ticker")
                continue
            rows += 1
            if rows > max_rows:
                raise ValidationError(
                    "file rejected", [FieldError("file", f"has more than {max_rows} rows", start)]
                )
            if len(cells) != len(header):
                errors.add(FieldError("file", f"expected {len(header)} cells, found {len(cells)}", start))
                continue
            if only_tickers is not None and not only_tickers(unescape_cell(cells[ticker_at]).strip().upper()):
                continue
            assert plain is not None
            # Most rows of a big file are plain: read straight from the cells; the rest (and every error) the
            # general way, which judges them exactly as before.
            transaction = plain.transaction(cells)
            if transaction is None:
                row = {name: unescape_cell(cell) for name, cell in zip(header, cells, strict=True)}
                transaction, row_errors = validate_transaction(row, start)
                for error in row_errors:
                    errors.add(error)
                if row_errors:
                    read.bad_tickers.add(row.get("ticker", "").strip().upper())
            if transaction is not None and (keep_rows_on_error or not errors):
                parsed.append((start, transaction))
            elif errors and parsed and not keep_rows_on_error:
                parsed.clear()  # the file is refused and only its errors are wanted: its good rows need not be held
    except csv.Error as exc:
        errors.add(FieldError("file", f"is not valid CSV: {exc}", line))
    if header is None and not errors:
        raise ValidationError("empty file", [FieldError("file", "is empty: expected a header row", 1)])
    return read


def write_transactions_csv(transactions: Iterable[Transaction]) -> str:
    """A CSV ledger (canonical header, plain numbers, formula cells escaped) that imports back as is."""
    out = io.StringIO()
    # CRLF as RFC 4180 says; it also makes the writer quote a note containing a lone "\r", which it
    # leaves bare with a "\n" terminator (and the reader would then split the row there).
    writer = csv.writer(out, lineterminator="\r\n")
    transactions = list(transactions)
    timed = any(t.time is not None for t in transactions)
    writer.writerow(COLUMNS if timed else COLUMNS[:-1])
    for t in transactions:
        writer.writerow([
            t.date.isoformat(),
            escape_cell(t.ticker),
            t.type,
            t.quantity_text,
            plain_decimal(t.price),
            plain_decimal(t.fees),
            escape_cell(t.note),
            t.currency or "",
            "" if t.fx_rate is None else plain_decimal(t.fx_rate),
            *([t.time_text or ""] if timed else []),
        ])
    return out.getvalue()
