"""The ledger's database connections: one Engine per database URL, tuned for SQLite or a server database.

A write that checks the ledger before changing it must hold the write lock from its first read. On SQLite the
pysqlite driver would open a plain deferred transaction, so two imports could both pass the oversell check on
the same snapshot; transactions begun with the `IMMEDIATE` execution option run `BEGIN IMMEDIATE` instead. Other
databases lock the portfolio's row (`SELECT ... FOR UPDATE`, in the ledger).

Taking turns on SQLite's write lock (issue 17): a big import is staged in many short transactions
(`ledger_staging`), and a write that finds the lock taken must get it between two of them. SQLite's own busy
handler cannot: it retries after 1, 2, 5 ... then every 100 ms, and the importer, which never sleeps, takes the lock
again within microseconds of releasing it (an add to another portfolio waited 1.4-2.2 s behind a 100k-row import).
So `BEGIN IMMEDIATE` is retried here every `POLL_S` to 5 ms, and a writer that waits says so in `WaitingRoom`
(a shared `flock` on a file beside the database); the importer, between two chunks, commits if the room is
`occupied` and lets such writers in (`WaitingRoom.let_in`).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 30.0
IMMEDIATE = "stocktracker_begin_immediate"  # execution option read by the SQLite "begin" hook
POLL_S = 0.0005  # the first retry of a BEGIN IMMEDIATE that found the lock taken; then up to MAX_POLL_S
MAX_POLL_S = 0.005
LET_IN_MAX_S = 1.0  # how long an importer waits, between two chunks, for the writers waiting to get the lock


class WaitingRoom:
    """Who is waiting for a SQLite database's write lock: each waiter holds a shared `flock` on `path` while it
    waits, so another process (or thread) can tell, without the database, that it should step aside."""

    def __init__(self, path: str | Path):
        self.path = str(path)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Held while this writer waits for the lock."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def occupied(self) -> bool:
        """Whether a writer is waiting now."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def let_in(self, max_wait_s: float = LET_IN_MAX_S) -> None:
        """Return once no writer is waiting (each one has had its turn), or after `max_wait_s`."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + max_wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nobody waits
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return
                    time.sleep(POLL_S)
        finally:
            os.close(fd)


def waiting_room(engine: Engine) -> WaitingRoom | None:
    """The waiting room of a SQLite file database (None for others, and for an in-memory one: one connection)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return WaitingRoom(f"{Path(url.database).expanduser()}-waiting")


def _locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def _begin_immediate(driver: sqlite3.Connection, room: WaitingRoom) -> None:
    """BEGIN IMMEDIATE, retried every few milliseconds (in the waiting room) while another writer holds the lock."""
    driver.execute("PRAGMA busy_timeout=0")  # the retries below replace SQLite's busy handler for this statement
    try:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not _locked(error):
                raise
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
        delay = POLL_S
        with room.waiting():
            while True:
                time.sleep(delay)
                try:
                    driver.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if not _locked(error) or time.monotonic() > deadline:
                        raise
                delay = min(delay * 1.5, MAX_POLL_S)
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")


PING_IDLE_S = 10.0  # a pooled server connection idle longer than this is pinged before it is handed out


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection idle for more than PING_IDLE_S before handing it out, and replace it if the server
    dropped it (SQLAlchemy's "pessimistic disconnect handling", with the ping only where a drop is likely)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_IDLE_S:
            return  # brand new, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)  # psycopg2's: in autocommit, no transaction left open
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool throws this connection away and hands out another (up to three tries).
            raise DisconnectionError("the server dropped this pooled connection") from error


def make_engine(database_url: str) -> Engine:
    """An Engine for `database_url`; on SQLite, with WAL, foreign keys, a busy timeout and `IMMEDIATE`."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # Postgres and friends: recycled after 30 min, and checked before use when idle for a while (servers drop
        # idle ones). Not before every use (pool_pre_ping): a warm page's read is one statement, and the ping was
        # one more round trip of four.
        engine = create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800)
        _ping_when_idle(engine)
        return engine

    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every checkout would see a different empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, pool_size=5,
                               max_overflow=10)

    # pysqlite opens transactions on its own terms and never with IMMEDIATE; take that over, as the
    # SQLAlchemy docs recommend: https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # per connection; ON DELETE CASCADE needs it
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, much faster
        cursor.close()

    room = None if in_memory else waiting_room(engine)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        if immediate and room is not None:
            _begin_immediate(connection.connection.driver_connection, room)
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
