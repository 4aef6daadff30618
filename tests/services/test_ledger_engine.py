"""services/ledger_engine.py on a real SQLite file: its folder, the pragmas, the IMMEDIATE write lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from services import ledger_engine
from services.ledger_engine import IMMEDIATE, WaitingRoom, make_engine, waiting_room
from services.ledger_schema import Base, PortfolioRow


def test_a_sqlite_file_gets_its_folder_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    assert path.is_file()
    engine.dispose()


def test_only_writes_that_ask_for_it_begin_immediate(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    begins: list[str] = []
    # What SQLite itself runs (the IMMEDIATE begin goes to the driver's connection, not through SQLAlchemy).
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(
        lambda statement: begins.append(statement) if "BEGIN" in statement else None))
    with engine.begin() as connection:
        connection.exec_driver_sql("SELECT 1")
    with engine.connect() as connection, connection.execution_options(**{IMMEDIATE: True}).begin():
        connection.exec_driver_sql("SELECT 1")
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]
    engine.dispose()


def test_an_in_memory_database_is_one_database_for_every_checkout() -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add(PortfolioRow(name="Scratch"))
    with Session(engine) as session:
        assert [row.name for row in session.query(PortfolioRow)] == ["Scratch"]


def hold_the_write_lock(path: Path) -> sqlite3.Connection:
    """Another writer (a raw connection) in the middle of its write transaction."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_waiting_writer_says_so_in_the_waiting_room_and_gets_the_lock_once_free(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    room = waiting_room(engine)
    assert room is not None and room.path == f"{path}-waiting"
    holder = hold_the_write_lock(path)
    finished = threading.Event()

    def write() -> None:
        with Session(engine) as session, session.begin():
            session.connection(execution_options={IMMEDIATE: True})
            session.add(PortfolioRow(name="waited"))
        finished.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    deadline = time.monotonic() + 10
    while not room.occupied() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert room.occupied()  # the writer is in the room while the lock is held
    assert not finished.is_set()
    holder.execute("COMMIT")
    assert finished.wait(10)
    assert not room.occupied()  # and out of it once it has the lock
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM portfolios").scalars().all() == ["waited"]
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000  # restored after the retries
    holder.close()
    engine.dispose()


def test_let_in_waits_for_the_writers_in_the_room_and_not_for_an_empty_one(tmp_path: Path) -> None:
    room = WaitingRoom(tmp_path / "ledger.db-waiting")
    started = time.monotonic()
    room.let_in()
    assert time.monotonic() - started < 0.5  # nobody waits: straight on (the bound only catches a hang)
    entered, leave = threading.Event(), threading.Event()

    def wait_a_while() -> None:
        with room.waiting():
            entered.set()
            leave.wait(10)

    waiter = threading.Thread(target=wait_a_while, daemon=True)
    waiter.start()
    assert entered.wait(10)
    threading.Timer(0.2, leave.set).start()
    started = time.monotonic()
    room.let_in(max_wait_s=5)
    assert time.monotonic() - started >= 0.2  # it waited for the waiter to leave the room
    waiter.join(10)
    started = time.monotonic()
    with room.waiting():
        room.let_in(max_wait_s=0.1)  # a waiter that never gets its turn does not stop the importer for good
    assert 0.1 <= time.monotonic() - started < 5


def test_in_memory_and_server_databases_have_no_waiting_room() -> None:
    assert waiting_room(make_engine("sqlite://")) is None
    assert waiting_room(make_engine("postgresql+psycopg2://u:p@127.0.0.1:1/x")) is None


def _counted_pings(engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_server_connection_is_pinged_only_after_it_sat_idle(postgres_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url)
    pings = _counted_pings(engine, monkeypatch)
    try:
        for _ in range(3):  # used moments ago: handed out as it is (the ping was a round trip of every read)
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT 2").scalar() == 2
        assert pings == []
        monkeypatch.setattr(ledger_engine, "PING_IDLE_S", -1.0)  # as if idle for longer than the limit
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 2").scalar() == 2
        assert pings == [1]
    finally:
        engine.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced(postgres_url: str, postgres_server,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        postgres_server.admin(f"SELECT pg_terminate_backend({pid})")  # a server restart, an idle timeout
        monkeypatch.setattr(ledger_engine, "PING_IDLE_S", -1.0)
        with engine.connect() as connection:  # the ping finds it dead: another connection is handed out
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    finally:
        engine.dispose()
