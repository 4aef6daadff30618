"""An import's rows, made ready to insert before the write lock and written under it (issue 17, item 4).

SQLite's write lock is database-wide: every moment an import holds it, every other portfolio's writes wait. So
the work that needs no lock (each row's column values, bound as the database stores them) is done first by
`prepare_rows`, and `write_rows` only hands the prepared chunks to the database inside the caller's transaction
(all or nothing still):
- SQLite: sqlite3's executemany with the columns' own bind processors (the values are stored exactly as
  SQLAlchemy stores them); SQLAlchemy's per-row parameter handling cost twice the insert itself.
- Postgres (psycopg2): COPY ... FROM STDIN in CSV (multi-row INSERTs of 100k rows took ~9 s there). Every value
  is quoted (a quoted empty cell is an empty string), NULL is an unquoted empty cell: Python's csv module writes
  None as "" under QUOTE_NONNUMERIC before 3.12, so the cells are made here.
- Anything else: SQLAlchemy's executemany of the column values.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from services.ledger_schema import TransactionRow, row_values
from services.models import Transaction, plain_decimal

INSERT_CHUNK = 5_000  # rows per statement (a COPY buffer of 5,000 rows is ~1 MB)


@dataclass(frozen=True)
class PreparedRows:
    """Chunks ready for one database: tuples (sqlite), CSV text (copy) or column dicts (core)."""

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


def prepare_rows(dialect: Dialect, portfolio_id: int, rows: Iterable[tuple[int, Transaction]], *,
                 batch_id: int | None = None, chunk_rows: int = INSERT_CHUNK) -> PreparedRows:
    """The (line, transaction) rows as `write_rows` inserts them into `dialect`'s database, in chunks of
    `chunk_rows`; with `batch_id`, staged in that import batch (`ledger_staging`)."""
    names, processors = _bound(dialect)
    batch_at = names.index("batch_id")
    kind = "sqlite" if dialect.name == "sqlite" else "copy" if dialect.driver == "psycopg2" else "core"
    # One entry moment for the whole import, bound once (formatting a timestamp per row cost ~0.2 s per 100k).
    created = row_values(portfolio_id, Transaction(dt.date.min, "", "BUY", Decimal(1), Decimal(0)))["created_at"]
    created_at = names.index("created_at")
    created_bound = processors[created_at](created) if processors[created_at] else created
    active = [(i, name, process) for i, (name, process) in enumerate(zip(names, processors, strict=True))
              if process is not None and name != "created_at"]

    def bound(transaction: Transaction) -> list[Any]:
        values = row_values(portfolio_id, transaction)
        out = [values.get(name) for name in names]
        out[created_at] = created_bound
        out[batch_at] = batch_id
        for i, _, process in active:
            if out[i] is not None:
                out[i] = process(out[i])
        return out

    chunks: list[Any] = []
    chunk: list[Any] = []
    count = 0

    def close() -> None:
        if kind == "copy":
            chunks.append("".join(",".join(map(_cell, values)) + "\n" for values in chunk))
        else:
            chunks.append(chunk)

    for _, transaction in rows:
        chunk.append(tuple(bound(transaction)) if kind != "core"
                     else {**row_values(portfolio_id, transaction), "batch_id": batch_id})
        count += 1
        if len(chunk) == chunk_rows:
            close()
            chunk = []
    if chunk:
        close()
    sql = (f"INSERT INTO transactions ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
           if kind == "sqlite" else f"COPY transactions ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)")
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
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.copy_expert(prepared.sql, io.StringIO(chunk))
    else:
        connection.execute(insert(TransactionRow.__table__), chunk)


def insert_rows(session: Session, portfolio_id: int, rows: Iterable[tuple[int, Transaction]]) -> None:
    """Prepare and write at once (a caller already holding the lock, or one with few rows)."""
    write_rows(session, prepare_rows(session.connection().dialect, portfolio_id, rows))
