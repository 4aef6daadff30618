"""services/gc_pause.py: the collector is off inside a pause, back on after the last one ends, and left off when it
was off before."""

from __future__ import annotations

import gc
import threading

import pytest

from services.csv_io import read_transactions_csv
from services.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_a_pause_turns_the_collector_off_and_back_on() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_ends_the_pause() -> None:
    gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_pauses_nest_across_threads() -> None:
    """The first pause ends while a second (another thread's) still runs: the collector stays off until it ends."""
    gc.enable()
    inside, leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with gc_paused():
            inside.set()
            leave.wait(10)
            seen.append(gc.isenabled())

    with gc_paused():
        thread = threading.Thread(target=other)
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread's pause still runs
    leave.set()
    thread.join(10)
    assert seen == [False] and gc.isenabled()


def test_reading_a_file_leaves_the_collector_as_it_was() -> None:
    gc.enable()
    read = read_transactions_csv("date,ticker,type,quantity,price\n2024-01-02,AAPL,BUY,1,10\n")
    assert len(read.rows) == 1 and gc.isenabled()
    with pytest.raises(ValueError):  # a bad header raises inside the pause
        read_transactions_csv("date,ticker\n")
    assert gc.isenabled()
