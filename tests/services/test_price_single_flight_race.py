"""Single flight across two workers in one process, with the lock race forced instead of left to chance.

`test_single_flight_across_workers_sharing_a_cache_directory` (test_price_service.py) fetched a ticker twice in about
1 run of 20: worker B read worker A's fetch lock in the moment after A wrote it and before A registered its token as
live in this process, took it for a dead holder's, took it over, and both fetched. This test stops A in that moment
and lets B try, every run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

from services.locks import fetch_lock
from services.price_cache import PriceCache
from services.price_planning import Need
from services.store import LOCKS, DiskStore
from tests.fakes import CountingProvider

START = dt.date(2025, 6, 2)
WAIT_S = 5.0  # only a broken run waits this long


class _PausingStore:
    """Worker A's store: once it has written the fetch lock of `ticker`, it runs `pause` before try_lock returns."""

    def __init__(self, store: DiskStore, ticker: str, pause):
        self._store, self._key, self._pause = store, LOCKS.key(fetch_lock(ticker)), pause

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def add(self, key, value, expire=None):
        written = self._store.add(key, value, expire=expire)
        if written and key == self._key:
            self._pause()
        return written


class _WatchedCache(PriceCache):
    """Worker B's cache: says when its try_lock has answered, and whether it got the lock."""

    def __init__(self, directory, answered: threading.Event, got: list[bool]):
        super().__init__(directory)
        self._answered, self._got = answered, got

    def try_lock(self, name: str, ttl_s: float) -> str | None:
        token = super().try_lock(name, ttl_s)
        self._got.append(token is not None)
        self._answered.set()
        return token


class _GatedProvider(CountingProvider):
    """A provider whose first call waits (at most WAIT_S) until `gate` opens: a second call, or B refused the lock.

    So when both workers hold the lock, neither can write before the other has asked: the double fetch is certain
    rather than down to which thread the OS runs first. With one holder the gate is already open.
    """

    def __init__(self, clock, gate: threading.Event):
        super().__init__(clock)
        self._gate = gate

    def fetch(self, requests):
        if self.call_count >= 1:
            self._gate.set()
        result = super().fetch(requests)
        self._gate.wait(WAIT_S)
        return result


def test_a_worker_reading_the_lock_just_written_by_another_does_not_fetch_too(make_service, clock, settings):
    answered, gate, got = threading.Event(), threading.Event(), []
    provider = _GatedProvider(clock, gate)
    cache_b = _WatchedCache(settings.cache_dir, answered, got)
    worker_b = make_service(provider, cache_b, sleep=time.sleep)
    reports = {}

    def run_b() -> None:
        reports["B"] = worker_b.fetch_prices_parallel({"XXX": Need(START)})

    thread_b = threading.Thread(target=run_b)

    def pause() -> None:  # on A's fetch thread, between the write of A's lock and try_lock's return
        thread_b.start()
        assert answered.wait(WAIT_S), "worker B never asked for the lock"
        if got == [False]:
            gate.set()  # B waits for A: nothing to hold A's fetch for

    cache_a = PriceCache(_PausingStore(DiskStore(settings.cache_dir), "XXX", pause))
    worker_a = make_service(provider, cache_a, sleep=time.sleep)

    reports["A"] = worker_a.fetch_prices_parallel({"XXX": Need(START)})
    thread_b.join(timeout=30)

    assert provider.symbol_counts == Counter({"XXX": 1})  # the old code: 2, one request from each worker
    assert got == [False]  # A held the lock from the moment it was in the store
    assert (reports["A"].finished["XXX"].outcome, reports["B"].finished["XXX"].outcome) == ("ok", "shared")
    # The close of 2025-07-08: 100 + 0.5 x 188 days since 2025-01-01 (31+28+31+30+31+30 = 181 to 1 July, +7).
    assert cache_b.get_quote("XXX").price == cache_a.get_quote("XXX").price == 194.0
    for cache in (cache_a, cache_b):
        cache.close()
