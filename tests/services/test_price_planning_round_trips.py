"""Readers of many tickers ask the shared store in batches: a fixed number of calls per page, not one per ticker.

On Redis every call is a network round trip (~0.2 ms), and a warm 300-ticker page made ~3,000 of them (1.2 s);
these tests count the calls a real store receives (`CountingStore` around a diskcache or a Redis store) and check
that the batched answers are the ones the ticker-by-ticker reads gave.
"""

from __future__ import annotations

import datetime as dt

import pytest

from services.price_cache import FailureRecord, PriceCache
from services.price_planning import Need
from services.store import BARS, BARS_STAMP, FAILURES, QUOTES
from tests.fakes import SESSION_MOMENT, CountingProvider
from tests.services.counting_store import CountingStore
from tests.services.store_implementations import STORE_FACTORIES

START = dt.date(2025, 6, 2)
TICKERS = tuple(f"R{i:02d}" for i in range(20))


@pytest.fixture(params=sorted(STORE_FACTORIES))
def counted(request, tmp_path):
    """A PriceCache on a real store (each implementation) that counts the store calls."""
    store = CountingStore(STORE_FACTORIES[request.param](tmp_path / "store"))
    cache = PriceCache(store)
    yield store, cache
    cache.close()


def warm(make_service, clock, cache: PriceCache, tickers=TICKERS):
    service = make_service(CountingProvider(clock), cache)
    report = service.fetch_prices_parallel({t: Need(START) for t in tickers}, wait_s=None)
    assert {o.outcome for o in report.finished.values()} == {"ok"}
    return service


def test_due_reads_each_record_kind_in_one_call(counted, make_service, clock):
    store, cache = counted
    service = warm(make_service, clock, cache)
    needs = {t: Need(START) for t in TICKERS}
    store.reset()
    assert service.planner.due(needs) == {}  # just fetched: all fresh
    # failures, bars stamps, bars starts, quotes: 4 calls; plus the bars once, as the memo of last dates is cold
    # (put_bars does not fill it): 5 get_many for 20 tickers, no single get.
    assert store.calls == {"get_many": 5}
    store.reset()
    assert service.planner.due(needs) == {}
    assert store.calls == {"get_many": 4}  # warm memo: the bars themselves are not read again
    assert store.keys_read[BARS.key("R00")] == 0


def test_due_skips_a_recent_failure_and_reads_nothing_more_of_it(counted, make_service, clock):
    store, cache = counted
    service = warm(make_service, clock, cache, TICKERS[:2])
    later = SESSION_MOMENT + dt.timedelta(hours=1)
    cache.put_failure(FailureRecord("BAD", "not found", SESSION_MOMENT, later))
    needs = {"R00": Need(START), "BAD": Need(START), "NEW": Need(START)}
    store.reset()
    # R00 is fresh; BAD failed and may not be asked before `later`; NEW was never fetched: due from START.
    assert service.planner.due(needs) == {"NEW": START}
    assert store.keys_read[QUOTES.key("BAD")] == 0 and store.keys_read[BARS_STAMP.key("BAD")] == 0
    assert store.calls["get"] == 0


def test_prices_reads_quotes_in_one_call_and_failures_of_misses_in_a_second(counted, make_service, clock):
    store, cache = counted
    service = warm(make_service, clock, cache)
    cache.put_failure(FailureRecord("GONE", "delisted", SESSION_MOMENT, SESSION_MOMENT))
    store.reset()
    infos = service.prices(TICKERS)
    assert store.calls == {"get_many": 1}  # 20 hits: no failure read at all
    assert {info.status for info in infos.values()} == {"fresh"}
    store.reset()
    infos = service.prices([*TICKERS, "GONE", "NEVER"])
    assert store.calls == {"get_many": 2}  # the quotes of 22, then the failures of the 2 misses
    assert store.keys_read[FAILURES.key("R00")] == 0
    assert (infos["GONE"].status, infos["GONE"].error) == ("missing", "delisted")
    assert (infos["NEVER"].status, infos["NEVER"].error) == ("missing", None)


def test_quotes_newer_than_is_one_call(counted, make_service, clock):
    store, cache = counted
    service = warm(make_service, clock, cache)
    store.reset()
    fetched_at = cache.get_quote("R05").fetched_at
    assert service.quotes_newer_than(TICKERS, fetched_at - dt.timedelta(seconds=1))
    assert not service.quotes_newer_than(TICKERS, fetched_at)  # all were fetched at the same frozen moment
    assert store.calls == {"get": 1, "get_many": 2}  # the one get is R05's quote above


def test_no_tickers_ask_the_store_nothing(counted, make_service, clock):
    store, cache = counted
    service = make_service(CountingProvider(clock), cache)
    store.reset()
    assert service.prices([]) == {} and service.planner.due({}) == {}
    assert store.round_trips == 0


def test_batched_planner_agrees_with_one_ticker_at_a_time(counted, make_service, clock, frozen_time):
    """Stale, fresh, closed, never fetched: `due` (batched) and `fetch_start` (single reads) give the same dates."""
    _store, cache = counted
    service = warm(make_service, clock, cache, TICKERS[:3])
    frozen_time.advance(days=2)  # every quote is stale now
    needs = {"R00": Need(START), "R01": Need(START, dt.date(2025, 6, 20)), "R02": Need(dt.date(2025, 1, 2)),
             "NEW": Need(START)}
    now = clock.now()
    singles = {t: service.planner.fetch_start(t, need, now) for t, need in needs.items()}
    assert service.planner.due(needs) == {t: start for t, start in singles.items() if start is not None}
    # R00: stale quote -> from its last cached bar, 2025-07-08 (the session of SESSION_MOMENT);
    # R01: closed on 2025-06-20, bars reach 07-08 past it and were fetched after that session: nothing due;
    # R02: needs history from 01-02 but the bars start at 06-02: all again from 01-02; NEW: from START.
    assert singles == {"R00": dt.date(2025, 7, 8), "R01": None, "R02": dt.date(2025, 1, 2), "NEW": START}


def test_has_history_reads_the_stamp_not_the_bars_once_known(counted, make_service, clock):
    store, cache = counted
    service = warm(make_service, clock, cache, ["R00"])
    assert service.has_history("R00")  # the first look reads the bars once (the memo of their last date is cold)
    store.reset()
    assert service.has_history("R00") and service.has_history("R00", START)
    assert store.keys_read[BARS.key("R00")] == 0  # a chart's progress loop asks this 5 times a second
    assert not service.has_history("NEVER") and not service.has_history("R00", START - dt.timedelta(days=1))
