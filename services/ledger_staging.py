"""Big imports on SQLite, staged in interruptible transactions and published in one (issue 17, "an add to another
portfolio during a big import not delayed more than 100 ms").

SQLite's write lock covers the whole database, so an import written in one transaction makes every other
portfolio's writes wait for all of its inserts (100k rows: about 0.7 s). A big import is therefore written as a
batch: `open_batch` records an `ImportBatchRow`; `stage` inserts the rows, marked with its id, `STAGE_CHUNK` at a
time, and commits between two chunks whenever another writer waits for the lock (`ledger_engine.WaitingRoom`), so
that writer goes next; the import's final locked transaction `publish`es the batch by deleting that one row. Until
then every read of the ledger leaves the rows out (`ledger_schema.visible`), so the import still appears all at
once or not at all.

An import that does not publish (refused under the lock, an idempotent repeat, the ledger moved, an error, a crash)
`discard`s its batch: the batch is marked discarded first (then it can never be published), its rows are deleted
in chunks, and the batch row last. A batch left behind by an importer that died is discarded by the next import
into the same portfolio once it is `STALE_AFTER` old. Postgres locks only the importing portfolio's row, so there
an import stays one transaction (`ledger_bulk`'s COPY).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from services.ledger_bulk import PreparedRows, write_chunk
from services.ledger_engine import WaitingRoom
from services.ledger_schema import ImportBatchRow, TransactionRow, utcnow

log = logging.getLogger(__name__)

STAGE_CHUNK = 1_000  # rows per staging transaction: about 10 ms of SQLite's write lock (30-40 ms under load)
STAGE_MIN_ROWS = 10_000  # below this the whole insert holds the lock for less than ~70 ms: not worth a batch
STALE_AFTER = dt.timedelta(hours=1)  # an import takes seconds; a batch this old lost its importer

Write = Callable[..., AbstractContextManager[tuple[Session, Any]]]


def stages(dialect: Dialect, rows: int) -> bool:
    """Whether an import of `rows` rows into `dialect`'s database is staged in a batch."""
    return dialect.name == "sqlite" and rows >= STAGE_MIN_ROWS


def open_batch(write: Write, portfolio_id: int) -> int:
    """A new batch for an import into `portfolio_id`; its id."""
    with write(portfolio_id) as (session, _):
        batch = ImportBatchRow(portfolio_id=portfolio_id, created_at=utcnow(), discarded=False)
        session.add(batch)
        session.flush()
        return batch.id


def stage(write: Write, prepared: PreparedRows, room: WaitingRoom | None = None) -> None:
    """Insert the prepared (batch-marked) chunks. One transaction takes chunk after chunk while nobody waits for the
    lock (a commit per chunk cost 10-15 % more: each writes the index pages it touched to the WAL again); when a
    writer waits in `room`, it commits after the current chunk and lets the waiting writers take the lock before the
    next one (else the importer, which never sleeps, would take it again before they retried)."""
    chunks = prepared.chunks
    done = 0
    while done < len(chunks):
        if done and room is not None:
            room.let_in()
        with write() as (session, _):
            while True:
                write_chunk(session, prepared, chunks[done])
                done += 1
                if done == len(chunks) or (room is not None and room.occupied()):
                    break


def publish(session: Session, batch_id: int) -> bool:
    """Make the batch's rows part of the ledger, inside the caller's locked transaction; False (nothing changed) if
    the batch was discarded, or is gone."""
    table = ImportBatchRow.__table__
    gone = session.execute(delete(table).where(table.c.id == batch_id, table.c.discarded.is_(False)))
    return gone.rowcount == 1


def discard(write: Write, portfolio_id: int, batch_id: int) -> None:
    """Delete an unpublished batch and its rows, each step a short transaction (never publishes any of them)."""
    batches, rows = ImportBatchRow.__table__, TransactionRow.__table__
    with write() as (session, _):
        session.execute(update(batches).where(batches.c.id == batch_id).values(discarded=True))
    while True:
        with write() as (session, _):
            chunk = (select(rows.c.id).where(rows.c.portfolio_id == portfolio_id, rows.c.batch_id == batch_id)
                     .limit(STAGE_CHUNK))
            deleted = session.execute(delete(rows).where(rows.c.id.in_(chunk))).rowcount
        if deleted < STAGE_CHUNK:
            break
    with write() as (session, _):
        session.execute(delete(batches).where(batches.c.id == batch_id))


def discard_quietly(write: Write, portfolio_id: int, batch_id: int) -> None:
    """`discard`, logging instead of raising: called on the way out of a failed import, whose own error matters
    more (the rows stay invisible, and a later import discards the batch once it is stale)."""
    try:
        discard(write, portfolio_id, batch_id)
    except Exception:
        log.exception("could not discard import batch %s of portfolio %s", batch_id, portfolio_id)


def stale_batches(session: Session, portfolio_id: int) -> list[int]:
    """The portfolio's batches older than STALE_AFTER: their importer died before it published."""
    table = ImportBatchRow.__table__
    cutoff = utcnow() - STALE_AFTER
    return list(session.scalars(select(table.c.id).where(table.c.portfolio_id == portfolio_id,
                                                         table.c.created_at < cutoff)))


def discard_stale(write: Write, stale: list[int], portfolio_id: int) -> None:
    """Discard the batches `stale_batches` found."""
    for batch_id in stale:
        log.warning("discarding import batch %s of portfolio %s: its import never finished", batch_id, portfolio_id)
        discard_quietly(write, portfolio_id, batch_id)
