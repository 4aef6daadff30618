"""services/store_reads.py: inside `read_once()` a price record is read from the store once; nothing else is kept,
nothing outlives the scope, and writes, `forget_reads()` and `atomically` see the store itself.

The inner store is a real DiskStore (diskcache in a temporary folder), its reads counted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.store import DiskStore
from services.store_reads import ReadOnceStore, forget_reads, prime, read_once

QUOTE, OTHER_QUOTE, FAILURE, CIRCUIT = "quote:AAA", "quote:BBB", "fail:AAA", "circuit:demo"
LOCK, CHART, COUNTER = "lock:fetch:AAA", "portfolio:1:chart", "scheduler:warmup_runs"


class CountingDisk(DiskStore):
    """A DiskStore that records every key it is asked to read."""

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.reads: list[str] = []

    def get(self, key, default=None):
        self.reads.append(key)
        return super().get(key, default)

    def get_many(self, keys, default=None):
        self.reads.extend(keys)
        return super().get_many(keys, default)


@pytest.fixture
def disk(tmp_path: Path):
    store = CountingDisk(tmp_path / "cache")
    yield store
    store.close()


@pytest.fixture
def store(disk) -> ReadOnceStore:
    return ReadOnceStore(disk)


def test_outside_a_scope_every_read_reaches_the_store(store, disk):
    store.set(QUOTE, 1)
    assert [store.get(QUOTE), store.get(QUOTE), store.get_many([QUOTE, OTHER_QUOTE])] == [1, 1, [1, None]]
    assert disk.reads == [QUOTE, QUOTE, QUOTE, OTHER_QUOTE]


def test_inside_a_scope_a_price_record_is_read_once_misses_included(store, disk):
    store.set(QUOTE, 1)
    with read_once():
        assert store.get_many([QUOTE, OTHER_QUOTE, FAILURE]) == [1, None, None]
        assert store.get(QUOTE) == 1
        assert store.get(OTHER_QUOTE, "none") == "none"  # the miss is remembered, the default still applies
        assert store.get_many([FAILURE, QUOTE, CIRCUIT], default=0) == [0, 1, 0]
        assert store.get(CIRCUIT) is None
    assert disk.reads == [QUOTE, OTHER_QUOTE, FAILURE, CIRCUIT]  # each once
    disk.reads.clear()
    assert store.get(QUOTE) == 1 and disk.reads == [QUOTE]  # the scope is over: read again


def test_locks_charts_and_counters_are_always_read(store, disk):
    with read_once():
        for _ in range(2):
            assert store.get_many([LOCK, CHART, COUNTER]) == [None, None, None]
            assert store.get(LOCK) is None
    assert disk.reads == [LOCK, CHART, COUNTER, LOCK] * 2


def test_a_write_in_the_scope_is_read_back(store, disk):
    with read_once():
        assert store.get(QUOTE) is None
        store.set(QUOTE, 2)
        assert store.get(QUOTE) == 2
        assert store.add(FAILURE, "x") and store.get(FAILURE) == "x"
        store.delete(QUOTE)
        assert store.get(QUOTE) is None


def test_forget_reads_sees_what_another_process_wrote_meanwhile(store, disk):
    with read_once():
        assert store.get(QUOTE) is None
        disk.set(QUOTE, 3)  # written around the wrapper: another process, or the fetch pool
        assert store.get(QUOTE) is None  # within one read of the page: what it read first
        forget_reads()
        assert store.get(QUOTE) == 3


def test_reads_inside_atomically_and_in_other_threads_reach_the_store(store, disk):
    store.set(QUOTE, 1)
    with read_once():
        assert store.get(QUOTE) == 1
        disk.reads.clear()
        assert store.atomically(lambda: store.get(QUOTE)) == 1
        with ThreadPoolExecutor(1) as pool:  # a pool thread does not run in this request's scope
            assert pool.submit(store.get, QUOTE).result() == 1
        assert disk.reads == [QUOTE, QUOTE]


def test_nested_scopes_share_the_outer_one(store, disk):
    with read_once():
        store.get(QUOTE)
        with read_once():
            store.get(QUOTE)
        store.get(QUOTE)
    assert disk.reads == [QUOTE]


def test_anything_else_is_the_inner_stores(store, disk):
    assert store.directory == disk.directory
    assert store.writable() is True
    store.set(COUNTER, 1)
    assert store.incr(COUNTER) == 2 and store.keys("scheduler:") == [COUNTER]


def test_prime_reads_many_records_in_one_call_for_the_reads_that_follow(store, disk):
    store.set(QUOTE, 1)
    calls: list[list[str]] = []
    original = disk.get_many

    def get_many(keys, default=None):
        calls.append(list(keys))
        return original(keys, default)

    disk.get_many = get_many
    prime(store, [QUOTE, FAILURE])  # outside a scope: nothing to keep them in, nothing read
    assert calls == []
    with read_once():
        prime(store, [QUOTE, FAILURE, QUOTE, LOCK])
        disk.reads.clear()
        assert (store.get(QUOTE), store.get(FAILURE), store.get_many([FAILURE, QUOTE])) == (1, None, [None, 1])
        assert store.get(LOCK) is None
    assert calls == [[QUOTE, FAILURE, LOCK]]  # one call, each key once
    assert disk.reads == [LOCK]  # a lock is never kept: read again


def test_prime_reads_nothing_on_a_store_that_keeps_nothing(disk):
    # The embedded mode's DiskStore is not wrapped: priming it would only read every record twice.
    with read_once():
        prime(disk, [QUOTE, FAILURE])
    assert disk.reads == []
