"""An import's rows, made ready to insert before the write lock and written under it (issue 17, item 4).

SQLite's write lock is database-wide: every moment an import holds it, every other portfolio's writes wait. So
the work that needs no lock (each row's column values, bound as the database stores them) is done first by
`prepare_rows`, and `write_rows` only hands the prepared chunks to the database inside the caller's transaction
(all or nothing still):
- SQLite: sqlite3's executemany with the columns' own bind processors (the values are stored exactly as
  SQLAlchemy stores them); SQLAlchemy's per-row parameter handling cost twice the insert itself.
- Postgres (psycopg2): one COPY ... FROM STDIN in CSV (multi-row INSERTs of 100k rows took ~9 s there). Every
  value is quoted (a quoted empty cell is an empty string), NULL is an unquoted empty cell: Python's csv module
  writes None as "" under QUOTE_NONNUMERIC before 3.12, so the cells are made here. The lines are made as COPY
  reads them (`_CopyStream`), under the lock: Postgres locks only the importing portfolio's row, so nobody else
  waits, and the server stores one block while the next is made (100k rows: ~1.9 s made then copied, ~1.4 s so).
- Anything else: SQLAlchemy's executemany of the column values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from services.gc_pause import gc_paused
from services.ledger_schema import TransactionRow, row_values
from services.models import Transaction, plain_decimal

INSERT_CHUNK = 5_000  # rows per SQLite executemany
COPY_READ = 64 * 1024  # characters per read of a COPY's lines (psycopg2 sends each as it comes)


@dataclass(frozen=True)
class PreparedRows:
    """Chunks ready for one database: bound tuples (sqlite), one `_CopyRows` (copy) or column dicts (core)."""

    kind: str
    sql: str
    chunks: tuple[Any, ...]
    count: int


def _bound(dialect: Dialect) -> tuple[list[str], list[Any]]:
    """The transaction columns an insert names, and each one's bind processor for `dialect` (None: as is)."""
    columns = [column for column in TransactionRow.__table__.columns if column.name != "id"]
    return [c.name for c in columns], [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]


def _cell(value: Any) -> str:
    if value is None:
        return ""  # unquoted: NULL
    text = plain_decimal(value) if isinstance(value, Decimal) else str(value)
    return '"' + text.replace('"', '""') + '"'


# Where each column's value comes from in a Transaction (the rest: portfolio_id, created_at, batch_id, given once,
# and ratio_denominator). `row_values` is the reference; tests check that both bind the same.
_ATTRIBUTES = {"date": "date", "ticker": "ticker", "type": "type", "quantity": "quantity", "price": "price",
               "fees": "fees", "note": "note", "currency": "currency", "fx_rate": "fx_rate", "trade_time": "time"}
_GIVEN = ("portfolio_id", "created_at", "batch_id", "ratio_denominator")


def _memo(convert: Callable[[Any], Any], none: Any) -> Callable[[Any], Any]:
    """`convert`, remembered per value (an import repeats its dates, tickers and amounts), `none` for None. Safe
    for Decimals: equal ones bind to the same text (`plain_decimal` drops trailing zeros)."""
    seen: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        if value is None:
            return none
        found = seen.get(value)
        if found is None:
            found = seen[value] = convert(value)
        return found

    return converted


def row_binder(dialect: Dialect, portfolio_id: int, batch_id: int | None,
               kind: str) -> tuple[list[str], Callable[[Transaction], tuple[Any, ...]]]:
    """The insert's column names, and a function from a transaction to its bound values in that order (`kind`
    "copy": each already a COPY CSV cell). 100k rows: about 0.3 s, where a dict of `row_values` and a bind
    processor per value took about 2 s."""
    names, processors = _bound(dialect)
    if set(names) != set(_ATTRIBUTES) | set(_GIVEN):  # a new column must be added to _ATTRIBUTES or _GIVEN
        raise LookupError(f"columns changed: {sorted(set(names) ^ (set(_ATTRIBUTES) | set(_GIVEN)))}")
    finish: Callable[[Any], Any] = _cell if kind == "copy" else (lambda value: value)
    none = "" if kind == "copy" else None

    def through(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
        return (lambda value: finish(process(value))) if process is not None else finish

    template: list[Any] = [None] * len(names)
    given = {"portfolio_id": portfolio_id, "batch_id": batch_id,
             # One entry moment for the whole import, bound once (a timestamp formatted per row cost ~0.2 s).
             "created_at": row_values(portfolio_id, Transaction(dt.date.min, "", "BUY", Decimal(1),
                                                                Decimal(0)))["created_at"]}
    for name, value in given.items():
        i = names.index(name)
        template[i] = none if value is None else finish(processors[i](value) if processors[i] else value)
    positions = [i for i, name in enumerate(names) if name in _ATTRIBUTES]
    read = attrgetter(*(_ATTRIBUTES[names[i]] for i in positions))
    # None: stored as it is (SQLite's text columns), no call at all; else remembered per value.
    converters = [None if kind != "copy" and processors[i] is None else _memo(through(processors[i]), none)
                  for i in positions]
    slots = list(zip(positions, converters, strict=True))
    ratio_at, ratio = names.index("ratio_denominator"), through(processors[names.index("ratio_denominator")])

    def bind(transaction: Transaction) -> tuple[Any, ...]:
        row = template.copy()
        for (i, convert), value in zip(slots, read(transaction), strict=True):
            row[i] = value if convert is None else convert(value)
        row[ratio_at] = none if transaction.ratio is None else ratio(transaction.ratio.old)
        return tuple(row)

    return names, bind


class _CopyRows:
    """The rows of a COPY, bound into CSV lines only when COPY reads them (`stream`)."""

    def __init__(self, rows: tuple[tuple[int, Transaction], ...], bind: Callable[[Transaction], tuple[Any, ...]]):
        self.rows, self.bind = rows, bind

    def stream(self) -> _CopyStream:
        return _CopyStream(",".join(self.bind(transaction)) + "\n" for _, transaction in self.rows)


class _CopyStream:
    """A file COPY reads from (`read(size)`), made line by line as it asks."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines

    def read(self, size: int = -1) -> str:
        parts, length = [], 0
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if 0 < size <= length:
                break
        return "".join(parts)


def prepare_rows(dialect: Dialect, portfolio_id: int, rows: Iterable[tuple[int, Transaction]], *,
                 batch_id: int | None = None, chunk_rows: int = INSERT_CHUNK) -> PreparedRows:
    """The (line, transaction) rows as `write_rows` inserts them into `dialect`'s database, in chunks of
    `chunk_rows` (one lazy COPY on Postgres); with `batch_id`, staged in that import batch (`ledger_staging`)."""
    kind = "sqlite" if dialect.name == "sqlite" else "copy" if dialect.driver == "psycopg2" else "core"
    names, bind = row_binder(dialect, portfolio_id, batch_id, kind)
    if kind == "copy":
        kept = tuple(rows)
        return PreparedRows(kind, f"COPY transactions ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)",
                            (_CopyRows(kept, bind),), len(kept))
    chunks: list[Any] = []
    chunk: list[Any] = []
    count = 0
    with gc_paused():  # 100k tuples of new objects: the collector's passes over them find nothing
        for _, transaction in rows:
            chunk.append(bind(transaction) if kind == "sqlite"
                         else {**row_values(portfolio_id, transaction), "batch_id": batch_id})
            count += 1
            if len(chunk) == chunk_rows:
                chunks.append(chunk)
                chunk = []
        if chunk:
            chunks.append(chunk)
    sql = f"INSERT INTO transactions ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    return PreparedRows(kind, sql, tuple(chunks), count)


def write_rows(session: Session, prepared: PreparedRows) -> None:
    """Insert the prepared chunks inside the session's transaction."""
    for chunk in prepared.chunks:
        write_chunk(session, prepared, chunk)


def write_chunk(session: Session, prepared: PreparedRows, chunk: Any) -> None:
    """Insert one of `prepared`'s chunks inside the session's transaction."""
    connection = session.connection()
    if prepared.kind == "sqlite":
        connection.exec_driver_sql(prepared.sql, chunk)
    elif prepared.kind == "copy":
        with connection.connection.driver_connection.cursor() as cursor, gc_paused():
            cursor.copy_expert(prepared.sql, chunk.stream(), size=COPY_READ)
    else:
        connection.execute(insert(TransactionRow.__table__), chunk)


def insert_rows(session: Session, portfolio_id: int, rows: Iterable[tuple[int, Transaction]]) -> None:
    """Prepare and write at once (a caller already holding the lock, or one with few rows)."""
    write_rows(session, prepare_rows(session.connection().dialect, portfolio_id, rows))
