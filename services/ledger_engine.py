"""The ledger's database connections: one Engine per database URL, tuned for SQLite or a server database.

A write that checks the ledger before changing it must hold the write lock from its first read. On SQLite the
pysqlite driver would open a plain deferred transaction, so two imports could both pass the oversell check on
the same snapshot; transactions begun with the `IMMEDIATE` execution option run `BEGIN IMMEDIATE` instead. Other
databases lock the portfolio's row (`SELECT ... FOR UPDATE`, in the ledger).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 30.0
IMMEDIATE = "stocktracker_begin_immediate"  # execution option read by the SQLite "begin" hook


def make_engine(database_url: str) -> Engine:
    """An Engine for `database_url`; on SQLite, with WAL, foreign keys, a busy timeout and `IMMEDIATE`."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # Postgres and friends: check connections before use (servers drop idle ones) and recycle them.
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800)

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

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
