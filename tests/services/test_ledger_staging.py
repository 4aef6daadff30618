"""A big import on SQLite is staged in short transactions and published at once (`services.ledger_staging`):
invisible until published, never half there, other portfolios' writes go in between the chunks, and a batch that
is not published (refused, moved ledger, error, dead importer) leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from services import ledger_imports as ledger_module
from services import ledger_staging
from services.ledger import Ledger
from services.ledger_engine import WaitingRoom, waiting_room
from services.ledger_schema import ImportBatchRow
from services.models import NotFoundError, ValidationError

HEADER = "date,ticker,type,quantity,price,fees,note"


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage from 4 rows on, 3 rows a chunk: a 10-row file is staged in 4 chunks (3, 3, 3, 1)."""
    monkeypatch.setattr(ledger_staging, "STAGE_MIN_ROWS", 4)
    monkeypatch.setattr(ledger_staging, "STAGE_CHUNK", 3)


@pytest.fixture
def always_a_writer_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if another writer were always in the waiting room: the staging commits after every chunk (and lets
    nobody in, since nobody really waits)."""
    monkeypatch.setattr(WaitingRoom, "occupied", lambda self: True)


def ten_buys(ticker: str = "A") -> str:
    return "\n".join([HEADER, *(f"2024-01-{day:02d},{ticker},BUY,{day},10,0,n{day}" for day in range(2, 12))])


def raw(db_path: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def leftovers(db_path: Path) -> tuple[list[tuple], list[tuple]]:
    """(staged rows still in the table, batches still open)."""
    return (raw(db_path, "SELECT id FROM transactions WHERE batch_id IS NOT NULL "
                         "AND batch_id IN (SELECT id FROM import_batches)"),
            raw(db_path, "SELECT id FROM import_batches"))


def pause_after_chunk(monkeypatch: pytest.MonkeyPatch, chunk_number: int, during) -> list[object]:
    """Run `during()` once the staging's `chunk_number`-th write transaction has committed (the real `stage`, with
    its write transactions watched); its result is kept in the list."""
    seen: list[object] = []
    original = ledger_staging.stage

    def watched_stage(write, prepared, room=None):
        committed = 0

        @contextmanager
        def watched_write(*args):
            nonlocal committed
            with write(*args) as opened:
                yield opened
            committed += 1
            if committed == chunk_number:
                seen.append(during())

        original(watched_write, prepared, room)

    monkeypatch.setattr(ledger_staging, "stage", watched_stage)
    return seen


def staged_rows(db_path: Path) -> int:
    return raw(db_path, "SELECT COUNT(*) FROM transactions WHERE batch_id IS NOT NULL")[0][0]


@pytest.mark.usefixtures("always_a_writer_waiting")
def test_a_staged_import_is_invisible_until_it_is_published(ledger: Ledger, db_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    portfolio = ledger.create_portfolio("Main")
    version = ledger.version(portfolio.id)
    seen = pause_after_chunk(monkeypatch, 2, lambda: (staged_rows(db_path), len(ledger.list_transactions(portfolio.id)),
                                                       ledger.portfolio_tickers(portfolio.id),
                                                       ledger.version(portfolio.id)))
    assert ledger.import_csv(portfolio.id, ten_buys()) == 10
    # After two chunks (6 rows committed to the table) the ledger still had none of them, nor their ticker, and
    # the same version.
    assert seen == [(6, 0, {}, version)]
    staged = raw(db_path, "SELECT COUNT(*) FROM transactions WHERE batch_id IS NOT NULL")
    assert staged == [(10,)]  # the rows keep the id of the import that added them
    stored = ledger.list_transactions(portfolio.id)
    assert [(t.date.day, t.quantity, t.note) for t in stored] == [(d, Decimal(d), f"n{d}") for d in range(2, 12)]
    assert ledger.version(portfolio.id) == version + 1  # one change, published at once
    assert leftovers(db_path) == ([], [])


@pytest.mark.usefixtures("always_a_writer_waiting")
def test_a_staged_row_is_not_found_by_id(ledger: Ledger, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    portfolio = ledger.create_portfolio("Main")

    def look_up_a_staged_row():
        (row_id,) = raw(db_path, "SELECT MIN(id) FROM transactions")[0]
        with pytest.raises(NotFoundError):
            ledger.get_transaction(portfolio.id, row_id)
        with pytest.raises(NotFoundError):
            ledger.delete_transaction(portfolio.id, row_id)
        return row_id

    seen = pause_after_chunk(monkeypatch, 1, look_up_a_staged_row)
    ledger.import_csv(portfolio.id, ten_buys())
    assert ledger.get_transaction(portfolio.id, seen[0]).note == "n2"  # found once published


@pytest.mark.usefixtures("always_a_writer_waiting")
def test_another_portfolios_add_goes_in_between_the_chunks(ledger: Ledger, db_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The add runs in another thread while the importer waits after its first chunk: on SQLite's database-wide
    lock it could only finish now if no transaction holds the lock between chunks."""
    importing, other = ledger.create_portfolio("Import"), ledger.create_portfolio("Other")

    def add_elsewhere():
        done = threading.Event()

        def add():
            ledger.add_transaction(other.id, {"date": "2024-01-02", "ticker": "Z", "type": "BUY", "quantity": 1,
                                              "price": 5})
            done.set()

        threading.Thread(target=add, daemon=True).start()
        return staged_rows(db_path), done.wait(10)

    seen = pause_after_chunk(monkeypatch, 1, add_elsewhere)
    assert ledger.import_csv(importing.id, ten_buys()) == 10
    assert seen == [(3, True)]  # one chunk of 3 committed, and the lock free for the other portfolio's add
    assert [t.ticker for t in ledger.list_transactions(other.id)] == ["Z"]


def test_a_refused_import_leaves_no_staged_rows(db_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{db_path}", max_transactions=9)
    ledger.create_all()
    try:
        portfolio = ledger.create_portfolio("Main")
        with pytest.raises(ValidationError) as refused:
            ledger.import_csv(portfolio.id, ten_buys())  # 10 rows over a quota of 9: refused under the lock
        assert refused.value.errors[0].field == "file"
        assert ledger.list_transactions(portfolio.id) == []
        assert leftovers(db_path) == ([], [])
        assert raw(db_path, "SELECT COUNT(*) FROM transactions") == [(0,)]
    finally:
        ledger.dispose()


@pytest.mark.usefixtures("always_a_writer_waiting")
def test_an_error_while_staging_discards_the_chunks_already_written(ledger: Ledger, db_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    portfolio = ledger.create_portfolio("Main")

    def disk_full():
        raise OSError("disk full")

    pause_after_chunk(monkeypatch, 2, disk_full)
    with pytest.raises(OSError):
        ledger.import_csv(portfolio.id, ten_buys())
    assert raw(db_path, "SELECT COUNT(*) FROM transactions") == [(0,)]  # the staged rows were deleted
    assert leftovers(db_path) == ([], [])
    monkeypatch.undo()
    assert ledger.import_csv(portfolio.id, ten_buys()) == 10  # the same file again: all of it, once


@pytest.mark.usefixtures("always_a_writer_waiting")
def test_a_ledger_that_moved_while_staging_is_judged_again(ledger: Ledger, db_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A SELL of A added (through the ledger) while the import of ten A buys is being staged: the staged plan is
    for the old ledger, so it is dropped and the import judged and written again under the lock."""
    portfolio = ledger.create_portfolio("Main")
    ledger.add_transaction(portfolio.id, {"date": "2024-01-01", "ticker": "A", "type": "BUY", "quantity": 5,
                                          "price": 10})
    pause_after_chunk(monkeypatch, 1, lambda: ledger.add_transaction(
        portfolio.id, {"date": "2024-01-01", "ticker": "A", "type": "SELL", "quantity": 5, "price": 11}))
    calls: list[int] = []
    original = ledger_module.plan_import

    def counted(existing, read):
        calls.append(len(existing))
        return original(existing, read)

    monkeypatch.setattr(ledger_module, "plan_import", counted)
    assert ledger.import_csv(portfolio.id, ten_buys()) == 10
    assert calls == [1, 2]  # planned on the first BUY, judged again with the SELL added meanwhile
    stored = ledger.list_transactions(portfolio.id)
    assert len(stored) == 12  # 1 BUY + 1 SELL + the 10 imported, each once (the staged copy was discarded)
    assert leftovers(db_path) == ([], [])


def test_a_batch_left_by_a_dead_importer_stays_invisible_and_is_discarded_later(ledger: Ledger,
                                                                               db_path: Path) -> None:
    portfolio = ledger.create_portfolio("Main")
    two_hours_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = sqlite3.connect(db_path)
    with connection:  # what a process killed while staging leaves: an open batch and some of its rows
        connection.execute("INSERT INTO import_batches (id, portfolio_id, created_at, discarded) "
                           "VALUES (7, ?, ?, 0)", (portfolio.id, two_hours_ago))
        connection.execute("INSERT INTO transactions (portfolio_id, date, ticker, type, quantity, price, fees, note, "
                           "created_at, batch_id) VALUES (?, '2024-01-02', 'A', 'BUY', '3', '10', '0', 'dead', ?, 7)",
                           (portfolio.id, two_hours_ago))
    connection.close()
    assert ledger.list_transactions(portfolio.id) == []
    assert ledger.portfolio_tickers(portfolio.id) == {}
    assert ledger.import_csv(portfolio.id, "\n".join([HEADER, "2024-01-05,B,BUY,1,10,0,"])) == 1
    assert [t.note for t in ledger.list_transactions(portfolio.id)] == [""]  # B's row; the dead A row is gone
    assert raw(db_path, "SELECT note FROM transactions") == [("",)]
    assert raw(db_path, "SELECT id FROM import_batches") == []


def test_a_discarded_batch_is_never_published(ledger: Ledger, db_path: Path) -> None:
    portfolio = ledger.create_portfolio("Main")
    batch = ledger_staging.open_batch(ledger._write, portfolio.id)
    with ledger._write() as (session, _):
        session.execute(update(ImportBatchRow).values(discarded=True))  # a discard has begun (its first step)
    with ledger._write(portfolio.id) as (session, _):
        assert ledger_staging.publish(session, batch) is False
    assert raw(db_path, "SELECT id FROM import_batches") == [(batch,)]  # still there: the discard finishes it
    ledger_staging.discard(ledger._write, portfolio.id, batch)
    assert raw(db_path, "SELECT id FROM import_batches") == []


def test_a_small_import_is_not_staged(ledger: Ledger, db_path: Path) -> None:
    portfolio = ledger.create_portfolio("Main")
    three = "\n".join([HEADER, *(f"2024-01-0{d},A,BUY,1,10,0," for d in (2, 3, 4))])  # under STAGE_MIN_ROWS (4)
    assert ledger.import_csv(portfolio.id, three) == 3
    assert raw(db_path, "SELECT COUNT(*) FROM transactions WHERE batch_id IS NULL") == [(3,)]


def test_postgres_imports_stay_one_transaction() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    assert ledger_staging.stages(sqlite.dialect(), 4) is True  # STAGE_MIN_ROWS is 4 in these tests
    assert ledger_staging.stages(sqlite.dialect(), 3) is False
    assert ledger_staging.stages(postgresql.dialect(), 100_000) is False


@pytest.mark.usefixtures("always_a_writer_waiting")
def test_staging_lets_the_waiting_writers_in_before_its_next_chunk(ledger: Ledger, db_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer in the waiting room (as one retrying BEGIN IMMEDIATE is) after chunk 1: chunk 2 waits until it
    leaves the room."""
    room = waiting_room(ledger.engine)
    assert room is not None
    left = threading.Event()
    leaving: list[float] = []

    def a_writer_waits():
        entered = threading.Event()

        def wait_in_room():
            with room.waiting():
                entered.set()
                time.sleep(0.2)
                leaving.append(time.monotonic())  # still in the room: the next chunk cannot have begun
            left.set()

        threading.Thread(target=wait_in_room, daemon=True).start()
        return entered.wait(10)

    seen = pause_after_chunk(monkeypatch, 1, a_writer_waits)
    second_chunk: list[float] = []
    original = ledger_staging.write_chunk

    def timed(session, prepared, chunk):
        if not second_chunk and seen:  # the first chunk written after the pause
            second_chunk.append(time.monotonic())
        original(session, prepared, chunk)

    monkeypatch.setattr(ledger_staging, "write_chunk", timed)
    portfolio = ledger.create_portfolio("Main")
    assert ledger.import_csv(portfolio.id, ten_buys()) == 10
    assert seen == [True] and left.is_set()
    assert second_chunk[0] > leaving[0]  # chunk 2 began only once the waiter had left the room


def test_nobody_waiting_stages_in_one_transaction(ledger: Ledger, db_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    portfolio = ledger.create_portfolio("Main")
    seen = pause_after_chunk(monkeypatch, 1, lambda: staged_rows(db_path))
    assert ledger.import_csv(portfolio.id, ten_buys()) == 10
    assert seen == [10]  # the first commit held all 4 chunks (10 rows): nobody was in the waiting room


def test_a_writer_in_the_room_makes_the_staging_commit_after_the_current_chunk(ledger: Ledger, db_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone enters the waiting room while chunk 1 is written: the staging commits after it (3 rows), not at the
    end (10 rows)."""
    room = waiting_room(ledger.engine)
    assert room is not None
    original = ledger_staging.write_chunk
    inside = threading.Event()
    leave = threading.Event()

    def enter_during_the_first_chunk(session, prepared, chunk):
        if not inside.is_set():
            def wait_in_room():
                with room.waiting():
                    inside.set()
                    leave.wait(10)

            threading.Thread(target=wait_in_room, daemon=True).start()
            inside.wait(10)
            threading.Timer(0.05, leave.set).start()  # then it leaves (as a writer that got its turn would)
        original(session, prepared, chunk)

    monkeypatch.setattr(ledger_staging, "write_chunk", enter_during_the_first_chunk)
    portfolio = ledger.create_portfolio("Main")
    seen = pause_after_chunk(monkeypatch, 1, lambda: staged_rows(db_path))
    assert ledger.import_csv(portfolio.id, ten_buys()) == 10
    assert seen == [3]
