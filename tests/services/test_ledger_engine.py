"""services/ledger_engine.py on a real SQLite file: its folder, the pragmas, the IMMEDIATE write lock."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from services.ledger_engine import IMMEDIATE, make_engine
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
    event.listen(engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: begins.append(statement) if "BEGIN" in statement else None)
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
