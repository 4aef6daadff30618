"""The shared store: a suite every `SharedStore` implementation must pass, then what only the diskcache one does."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from services.models import Quote
from services.price_cache import PriceCache
from services.store import CHARTS, LOCKS, PROGRESS, QUOTES, SCHEDULER, DiskStore, KeySpace, SharedStore, iter_keys
from tests.services.store_implementations import STORE_FACTORIES

QUOTE = Quote("AAA", 123.45, 120.0, "USD", dt.datetime(2025, 7, 8, 15, 0, tzinfo=dt.UTC),
              dt.datetime(2025, 7, 8, 15, 0, 5, tzinfo=dt.UTC))


@pytest.fixture(params=sorted(STORE_FACTORIES))
def open_store(request, tmp_path) -> Iterator:
    """Opens handles on one store (each a worker); all closed after the test."""
    opened: list[SharedStore] = []

    def open_one() -> SharedStore:
        opened.append(STORE_FACTORIES[request.param](tmp_path / "store"))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store) -> SharedStore:
    return open_store()


# -- key spaces ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("space", "parts", "key"), [
    (QUOTES, ("AAPL",), "quote:AAPL"),  # the prefixes the cache file has always had: a deploy keeps it warm
    (CHARTS, (7,), "portfolio:7:chart"),
    (PROGRESS, (7,), "portfolio:7:chart-progress"),
    (SCHEDULER, ("leader_pid",), "scheduler:leader_pid"),
    (LOCKS, ("fetch:AAPL",), "lock:fetch:AAPL"),
])
def test_key_spaces_build_the_keys(space: KeySpace, parts, key):
    assert space.key(*parts) == key


def test_iter_keys_lists_the_ids_of_one_space(store):
    for ticker in ("AAA", "BBB"):
        store.set(QUOTES.key(ticker), ticker)
    store.set(CHARTS.key(1), "chart")
    assert sorted(iter_keys(store, QUOTES)) == ["AAA", "BBB"]


# -- generic values ------------------------------------------------------------------------------------------------
def test_delete_prefix_removes_only_matching_keys(store):
    for key in ("chart:1:1M", "chart:1:3M", "chart:12:1M", "chart:2:1M", "other"):
        store.set(key, key)
    assert store.delete_prefix("chart:1:") == 2
    assert store.get("chart:1:1M") is None and store.get("chart:1:3M") is None
    assert [store.get(k) for k in ("chart:12:1M", "chart:2:1M", "other")] == [
        "chart:12:1M", "chart:2:1M", "other"]
    assert store.delete_prefix("nothing:") == 0


def test_incr_counts_across_store_handles(store, open_store):
    other = open_store()
    assert store.incr("runs") == 1
    assert other.incr("runs") == 2
    assert store.incr("runs", 5) == 7


def test_set_with_expire(store):
    store.set("short", "value", expire=0.1)
    assert store.get("short") == "value"
    time.sleep(0.2)
    assert store.get("short", "gone") == "gone"


def test_add_sets_only_an_absent_key(store, open_store):
    assert store.add("k", 1) is True
    assert open_store().add("k", 2) is False
    assert store.get("k") == 1


def test_delete_says_whether_there_was_a_key(store):
    store.set("k", 1)
    assert (store.delete("k"), store.delete("k")) == (True, False)


def test_atomically_returns_the_actions_answer(store):
    def swap() -> int:
        previous = store.get("k", 0)
        store.set("k", previous + 1)
        return previous

    assert [store.atomically(swap), store.atomically(swap)] == [0, 1]


def test_writable(store):
    assert store.writable() is True


def test_values_come_back_as_they_were_written(store, open_store):
    bars = {"date": np.array([1, 2], dtype="int64"), "close": np.array([10.5, 11.0])}  # as price_cache encodes them
    frame = pd.DataFrame({"close": [1.0, 2.0]}, index=pd.to_datetime(["2025-07-07", "2025-07-08"]))
    values = {"quote": QUOTE, "int": 7, "bool": True, "float": 0.25, "text": "7", "date": dt.date(2025, 7, 8),
              "dict": {"state": "running", "progress": 0.5}, "numpy-int": np.int64(3)}
    for name, value in values.items():
        store.set(name, value)
    store.set("bars", bars)
    store.set("frame", frame)
    other = open_store()  # another worker reads them
    for name, value in values.items():
        assert other.get(name) == value and type(other.get(name)) is type(value), name
    np.testing.assert_array_equal(other.get("bars")["close"], [10.5, 11.0])
    pd.testing.assert_frame_equal(other.get("frame"), frame)


def test_get_many_reads_keys_in_order_with_the_default_for_absent_ones(store, open_store):
    store.set("a", 1)
    store.set("c", QUOTE)
    assert open_store().get_many(["c", "b", "a"], "none") == [QUOTE, "none", 1]
    assert store.get_many([]) == []
    assert store.atomically(lambda: (store.set("b", 2), store.get_many(["a", "b"]))[1]) == [1, 2]


def test_incr_counts_on_a_value_set_as_an_int(store):
    store.set("runs", 5)
    assert store.incr("runs") == 6  # 5 + 1
    assert store.get("runs") == 6


def test_add_with_expire_frees_the_key_after_it(store):
    assert store.add("k", 1, expire=0.1) is True
    assert store.add("k", 2, expire=0.1) is False
    time.sleep(0.2)
    assert store.add("k", 3) is True and store.get("k") == 3


def test_keys_take_the_prefix_literally(store):
    for key in ("a*b:1", "a*b:2", "axb:1", "a?:1", "a[1]:1"):
        store.set(key, key)
    assert sorted(store.keys("a*b:")) == ["a*b:1", "a*b:2"]  # "*" is no wildcard: "axb:1" is not listed
    assert store.keys("a?") == ["a?:1"] and store.keys("a[1]") == ["a[1]:1"]
    assert store.delete_prefix("a*") == 2 and store.get("axb:1") == "axb:1"


def test_atomically_sees_its_own_writes(store):
    def action() -> tuple:
        store.set("k", 1)
        first = store.get("k")
        store.incr("k", 2)
        was_there = store.delete("k")
        return first, was_there, store.get("k", "gone"), store.add("k", 9)

    assert store.atomically(action) == (1, True, "gone", True)
    assert store.get("k") == 9


def test_atomically_writes_nothing_when_the_action_raises(store):
    store.set("k", 1)

    def action() -> None:
        store.set("k", 2)
        store.set("other", 3)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.atomically(action)
    assert (store.get("k"), store.get("other")) == (1, None)


def test_atomic_read_modify_writes_of_many_workers_lose_no_update(store, open_store):
    handles = [store, open_store()]  # two workers, each with two threads

    def bump(handle: SharedStore) -> None:
        for _ in range(25):
            handle.atomically(lambda: handle.set("n", handle.get("n", 0) + 1))

    threads = [threading.Thread(target=bump, args=(handles[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert store.get("n") == 100  # 4 threads x 25 increments, none overwritten by a stale read


# -- the diskcache store -------------------------------------------------------------------------------------------
def test_corrupted_cache_is_rebuilt_and_its_neighbours_kept(tmp_path, caplog):
    directory = tmp_path / "cache"
    cache = PriceCache(directory)
    cache.set("kept?", "no")
    cache.close()
    (directory / "cache.db").write_bytes(b"this is not an SQLite database\n" * 200)
    # CACHE_DIR may be shared with other files (DATA_DIR's ledger, yfinance's cookie cache): they must survive.
    (directory / "stocktracker.db").write_bytes(b"ledger")
    (directory / "yfinance").mkdir()
    (directory / "yfinance" / "cookies.db").write_bytes(b"cookies")

    rebuilt = PriceCache(directory)

    assert rebuilt.writable()
    assert rebuilt.get("kept?") is None
    rebuilt.put_quote(QUOTE)
    assert rebuilt.get_quote("AAA") == QUOTE
    assert "rebuilding" in caplog.text
    assert (directory / "stocktracker.db").read_bytes() == b"ledger"
    assert (directory / "yfinance" / "cookies.db").read_bytes() == b"cookies"
    rebuilt.close()


def test_a_store_whose_files_are_deleted_while_open_is_rebuilt(tmp_path, caplog):
    directory = tmp_path / "cache"
    store = DiskStore(directory)
    store.set("before", 1)
    for path in directory.glob("cache.db*"):
        path.unlink()
    time.sleep(1.1)  # an open connection goes on with the deleted file; the store checks for it once a second
    store.set("after", 2)
    assert (store.get("before"), store.get("after")) == (None, 2)
    assert (directory / "cache.db").exists()
    assert "reopening it" in caplog.text
    store.close()
