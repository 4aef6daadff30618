"""PriceService: batching, rate limit, retries, circuit breaker, single-flight, freshness and the wait bound.

Offline: the provider is `CountingProvider` (tests/conftest.py). Time is frozen through MarketClock(now=...);
backoff sleeps are recorded, not slept, except where a test needs real threads and real waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import random
import threading
import time
from collections import Counter
from concurrent.futures import Future

import pytest

from services.market_hours import MarketClock
from services.models import Quote
from services.price_cache import PriceCache
from services.price_guards import UNREACHABLE_AFTER, CircuitBreaker
from services.price_planning import Need
from services.price_service import PriceService
from services.providers.base import FetchRequest, FetchResult, UnreachableError, empty_bars
from tests.fakes import (
    SESSION_MOMENT,
    CountingProvider,
    counting_close,
    make_clock,
    make_settings,
)
from tests.waiting import wait_until

UTC = dt.UTC
START = dt.date(2025, 6, 2)  # a Monday; 25 XNYS sessions from here to Tuesday 2025-07-08 (19 June, 4 July closed)
SESSION_DAY = SESSION_MOMENT.date()  # 2025-07-08
TICKERS20 = tuple(f"T{i:02d}" for i in range(20))
CIRCUIT_KEY = "circuit:counting"


def needs(tickers, start: dt.date = START, end: dt.date | None = None) -> dict[str, Need]:
    return {ticker: Need(start, end) for ticker in tickers}


# -- batching ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("batch_size", "max_batch", "tickers", "expected"),
    [
        (50, 100, ["A", "B", "C"], [["A", "B", "C"]]),
        (2, 100, ["A", "B", "C", "D", "E"], [["A", "B"], ["C", "D"], ["E"]]),  # the setting is smaller
        (50, 2, ["A", "B", "C", "D", "E"], [["A", "B"], ["C", "D"], ["E"]]),  # the provider's limit is smaller
        (3, 1, ["A", "B"], [["A"], ["B"]]),  # a provider that asks one symbol per request
        (2, 100, ["C", "A", "C", "B", "A", "D"], [["C", "A"], ["B", "D"]]),  # duplicates dropped, order kept
        (2, 100, [], []),
    ],
)
def test_batch_fetch_prices(tmp_path, make_service, clock, price_cache, batch_size, max_batch, tickers, expected):
    service = make_service(CountingProvider(clock, max_batch=max_batch), price_cache,
                           settings=make_settings(tmp_path, fetch_batch_size=batch_size))
    assert service.batch_fetch_prices(tickers) == expected


def test_fetch_sends_one_request_per_batch(tmp_path, make_service, clock, price_cache):
    provider = CountingProvider(clock, max_batch=2)
    service = make_service(provider, price_cache, settings=make_settings(tmp_path, fetch_batch_size=10))
    service.fetch_prices_parallel(needs(["AAA", "BBB", "CCC", "DDD", "EEE"]))
    assert sorted(tuple(r.ticker for r in call) for call in provider.calls) == [
        ("AAA", "BBB"), ("CCC", "DDD"), ("EEE",)]


# -- retries -------------------------------------------------------------------------------------------------------
def test_transient_failure_twice_then_success(make_service, clock, price_cache, backoff_sleep):
    provider = CountingProvider(clock, transient_calls=2)
    jitter = iter([0.25, 0.75]).__next__
    service = make_service(provider, price_cache, jitter=jitter)

    report = service.fetch_prices_parallel(needs(["AAA"]))

    assert provider.call_count == 3
    assert report.finished["AAA"].outcome == "ok"
    # base 0.5 s x 2**attempt x (0.5 + jitter): 0.5 x 1 x 0.75, then 0.5 x 2 x 1.25
    assert backoff_sleep.calls == pytest.approx([0.375, 1.25])
    assert price_cache.get_quote("AAA").price == counting_close(SESSION_DAY) == 194.0
    assert price_cache.get_failure("AAA") is None


def test_backoff_grows_exponentially(make_service, clock, price_cache, backoff_sleep):
    provider = CountingProvider(clock, transient_calls=99)
    make_service(provider, price_cache).fetch_prices_parallel(needs(["AAA"]))  # jitter 0.5: multiplier 1
    assert backoff_sleep.calls == pytest.approx([0.5, 1.0, 2.0])


def test_backoff_jitter_stays_within_half_and_one_and_a_half_of_the_base(make_service, clock, price_cache,
                                                                         backoff_sleep):
    for seed in range(5):
        provider = CountingProvider(clock, transient_calls=99)
        service = make_service(provider, price_cache, jitter=random.Random(seed).random)
        backoff_sleep.calls.clear()
        price_cache.delete("fail:AAA")
        service.fetch_prices_parallel(needs(["AAA"]))
        assert len(backoff_sleep.calls) == 3
        for attempt, slept in enumerate(backoff_sleep.calls):
            base = 0.5 * 2**attempt
            assert 0.5 * base <= slept <= 1.5 * base


def test_exhausted_retries_record_a_failure_and_do_not_loop(make_service, clock, price_cache, frozen_time,
                                                             backoff_sleep):
    provider = CountingProvider(clock, transient_calls=99)
    service = make_service(provider, price_cache)

    report = service.fetch_prices_parallel(needs(["AAA"]))

    assert provider.call_count == 4  # the first try and fetch_retries=3 retries
    assert report.finished["AAA"].outcome == "failed"
    failure = price_cache.get_failure("AAA")
    assert failure.failed_at == SESSION_MOMENT
    assert failure.retry_after == SESSION_MOMENT + dt.timedelta(seconds=60)  # min(60 s, failure_retry_s)
    assert "timeout" in failure.error

    again = service.fetch_prices_parallel(needs(["AAA"]))  # right away: no request at all
    assert again.due == ()
    assert provider.call_count == 4
    assert service.prices(["AAA"])["AAA"].status == "missing"

    frozen_time.advance(seconds=61)  # past retry_after: asked again
    provider.transient_calls = 0
    assert service.fetch_prices_parallel(needs(["AAA"])).finished["AAA"].outcome == "ok"
    assert provider.call_count == 5
    assert price_cache.get_failure("AAA") is None


def test_symbol_not_found_is_not_retried(make_service, clock, price_cache, backoff_sleep):
    provider = CountingProvider(clock, not_found=["GONE"])
    service = make_service(provider, price_cache)

    report = service.fetch_prices_parallel(needs(["GONE"]))

    assert provider.call_count == 1
    assert backoff_sleep.calls == []
    assert report.finished["GONE"].outcome == "failed"
    assert price_cache.get_failure("GONE").retry_after == SESSION_MOMENT + dt.timedelta(seconds=300)
    assert service.fetch_prices_parallel(needs(["GONE"])).due == ()
    assert provider.call_count == 1


def test_only_the_failing_symbol_is_retried(make_service, clock, price_cache):
    provider = CountingProvider(clock, transient_symbols={"AAA": 1})
    service = make_service(provider, price_cache)
    report = service.fetch_prices_parallel(needs(["AAA", "BBB"]))
    assert [tuple(r.ticker for r in call) for call in provider.calls] == [("AAA", "BBB"), ("AAA",)]
    assert {t: o.outcome for t, o in report.finished.items()} == {"AAA": "ok", "BBB": "ok"}


def test_one_ticker_failing_does_not_spoil_its_batch(make_service, clock, price_cache):
    provider = CountingProvider(clock, not_found=["BAD"])
    service = make_service(provider, price_cache)

    report = service.fetch_prices_parallel(needs(["AAA", "BAD", "CCC"]))

    assert provider.call_count == 1
    assert {t: o.outcome for t, o in report.finished.items()} == {"AAA": "ok", "BAD": "failed", "CCC": "ok"}
    infos = service.prices(["AAA", "BAD", "CCC"])
    assert infos["AAA"].price == infos["CCC"].price == 194.0
    assert (infos["AAA"].status, infos["BAD"].status, infos["CCC"].status) == ("fresh", "missing", "fresh")
    assert "delisted" in infos["BAD"].error
    assert len(price_cache.get_bars("AAA")) == 25
    assert price_cache.get_bars("BAD") is None


# -- circuit breaker -----------------------------------------------------------------------------------------------
def test_429_opens_the_circuit_for_every_worker_on_the_cache(make_service, clock, settings, price_cache):
    provider = CountingProvider(clock, rate_limited_calls=1)
    service = make_service(provider, price_cache)

    report = service.fetch_prices_parallel(needs(["AAA"]))

    assert report.finished["AAA"].outcome == "failed"
    assert provider.call_count == 1
    assert service.circuit.is_open()
    assert service.circuit.state()["state"] == "open"
    assert service.due(needs(["BBB"])) == {}
    assert service.fetch_prices_parallel(needs(["BBB"])).due == ()
    assert provider.call_count == 1

    # Another worker: its own PriceCache object and provider on the same directory.
    other_cache = PriceCache(settings.cache_dir)
    other_provider = CountingProvider(clock)
    other = make_service(other_provider, other_cache)
    assert other.circuit.is_open()
    assert other.due(needs(["CCC", "DDD"])) == {}
    assert other.fetch_prices_parallel(needs(["CCC", "DDD"])).due == ()
    assert other_provider.call_count == 0
    other_cache.close()


def test_circuit_cools_down_doubles_on_a_second_429_and_closes_on_success(make_service, clock, settings,
                                                                          price_cache, frozen_time):
    provider = CountingProvider(clock, rate_limited_calls=1)
    service = make_service(provider, price_cache)
    service.circuit = CircuitBreaker(price_cache, provider.name, settings.rate_limit_cooldown_s,
                                     now=frozen_time.epoch)
    t0 = frozen_time.epoch()

    service.fetch_prices_parallel(needs(["AAA"]))
    assert price_cache.get(CIRCUIT_KEY)["open_until"] == pytest.approx(t0 + 120)

    frozen_time.advance(seconds=119)  # still cooling down
    assert service.fetch_prices_parallel(needs(["BBB"])).due == ()
    assert provider.call_count == 1

    frozen_time.advance(seconds=2)  # t0 + 121: requests flow again, and meet a second 429
    t1 = frozen_time.epoch()
    provider.rate_limited_calls = 1
    report = service.fetch_prices_parallel(needs(["BBB"]))
    assert report.due == ("BBB",)
    assert provider.call_count == 2
    state = price_cache.get(CIRCUIT_KEY)
    assert (state["trips"], state["open_until"]) == (2, pytest.approx(t1 + 240))  # the cool-down doubled

    frozen_time.advance(seconds=239)
    assert service.fetch_prices_parallel(needs(["BBB"])).due == ()
    frozen_time.advance(seconds=2)
    report = service.fetch_prices_parallel(needs(["BBB"]))
    assert report.finished["BBB"].outcome == "ok"
    assert provider.call_count == 3
    assert price_cache.get(CIRCUIT_KEY) is None  # a success closed it
    assert service.circuit.state() == {"state": "closed", "open_until": None, "reason": None, "until": None,
                                       "since": None, "detail": None}

    provider.rate_limited_calls = 1  # after a success a 429 starts again from the base cool-down
    t2 = frozen_time.epoch()
    service.fetch_prices_parallel(needs(["CCC"]))
    assert price_cache.get(CIRCUIT_KEY)["open_until"] == pytest.approx(t2 + 120)


def test_circuit_reopens_the_flow_when_its_entry_says_the_cool_down_is_over(make_service, clock, price_cache):
    provider = CountingProvider(clock, rate_limited_calls=1)
    service = make_service(provider, price_cache)
    service.fetch_prices_parallel(needs(["AAA"]))
    assert service.due(needs(["BBB"])) == {}

    price_cache.set(CIRCUIT_KEY, {**price_cache.get(CIRCUIT_KEY), "open_until": time.time() - 1})
    assert service.circuit.state()["state"] == "half_open"
    assert service.due(needs(["BBB"])) == {"BBB": START}
    assert service.fetch_prices_parallel(needs(["BBB"])).finished["BBB"].outcome == "ok"
    assert provider.call_count == 2
    assert price_cache.get(CIRCUIT_KEY) is None


# -- circuit breaker: an unreachable source (issue 11) ---------------------------------------------------------------
class UnreachableProvider(CountingProvider):
    """A CountingProvider cut off from its source: while `down` (or for its next `unreachable_calls` calls) every
    request fails as UnreachableError, as the Yahoo adapter reports no DNS or a refused connection."""

    def __init__(self, clock: MarketClock, *, down: bool = True, unreachable_calls: int = 0, **kwargs):
        super().__init__(clock, **kwargs)
        self.down, self.unreachable_calls = down, unreachable_calls

    def fetch(self, requests) -> FetchResult:
        results = super().fetch(requests)  # counted, and delayed, like any request
        with self._lock:
            cut_off = self.down or self.unreachable_calls > 0
            self.unreachable_calls -= self.unreachable_calls > 0
        if not cut_off:
            return results
        return {r.ticker: UnreachableError(f"{r.ticker}: unreachable (DNSError)") for r in requests}


@pytest.fixture
def frozen_circuit(price_cache, settings, frozen_time):
    """A circuit breaker of the provider "counting" on the fixture cache whose clock is `frozen_time`."""
    return CircuitBreaker(price_cache, "counting", settings.rate_limit_cooldown_s, now=frozen_time.epoch)


def test_unreachable_source_opens_the_circuit_after_three_requests_in_a_row(make_service, clock, price_cache,
                                                                             frozen_circuit, frozen_time, caplog):
    provider = UnreachableProvider(clock, max_batch=1)
    service = make_service(provider, price_cache)
    service.circuit = frozen_circuit
    t0 = frozen_time.epoch()
    caplog.set_level(logging.INFO)

    report = service.fetch_prices_parallel(needs(["AAA"]))

    # The first attempt and two retries, then the circuit stops the third retry: the outcome says why.
    assert provider.call_count == UNREACHABLE_AFTER == 3
    assert (report.finished["AAA"].outcome, report.finished["AAA"].error) == ("failed", "price source unreachable")
    assert price_cache.get_failure("AAA").error == "price source unreachable"
    state = service.circuit.state()
    assert (state["state"], state["reason"]) == ("open", "unreachable")
    assert dt.datetime.fromisoformat(state["until"]).timestamp() == pytest.approx(t0 + 120)
    assert state["open_until"] == state["until"]  # the field's first name, which other tools read
    assert "AAA: unreachable (DNSError)" in state["detail"]
    assert [(r.levelname, r.getMessage().split(";")[0]) for r in caplog.records] == [
        ("WARNING", "circuit breaker open: price source unreachable")]

    # While open: nothing is asked, the report says why, and nothing is in flight (the page stops waiting).
    blocked = service.fetch_prices_parallel(needs(["BBB", "CCC"]))
    assert (blocked.due, blocked.blocked) == ((), "price source unreachable")
    assert service.in_flight(["AAA", "BBB", "CCC"]) == []
    assert provider.call_count == 3

    # Cool-down over (120 s, not doubled): half-open. One failed probe opens it again at once.
    frozen_time.advance(seconds=121)
    assert service.circuit.state()["state"] == "half_open"
    service.fetch_prices_parallel(needs(["BBB"]))
    assert provider.call_count == 4
    state = service.circuit.state()
    assert (state["state"], state["reason"]) == ("open", "unreachable")
    assert dt.datetime.fromisoformat(state["until"]).timestamp() == pytest.approx(frozen_time.epoch() + 120)

    # The source is back: the next request after the cool-down closes it, with one info line.
    provider.down = False
    frozen_time.advance(seconds=121)
    caplog.clear()
    assert service.fetch_prices_parallel(needs(["BBB"])).finished["BBB"].outcome == "ok"
    assert service.circuit.state()["state"] == "closed"
    assert [r.getMessage() for r in caplog.records] == [
        "circuit breaker closed: counting answers again (it was unreachable for 242 s)"]


def test_one_unreachable_blip_is_retried_and_does_not_open_the_circuit(make_service, clock, price_cache):
    provider = UnreachableProvider(clock, down=False, unreachable_calls=UNREACHABLE_AFTER - 1)
    service = make_service(provider, price_cache)

    report = service.fetch_prices_parallel(needs(["AAA"]))

    assert report.finished["AAA"].outcome == "ok"
    assert provider.call_count == UNREACHABLE_AFTER
    assert service.circuit.state()["state"] == "closed"
    assert price_cache.get("circuit-streak:counting:unreachable") is None  # the success cleared the count


def test_in_flight_empties_when_the_circuit_opens_mid_fetch(tmp_path, make_service, clock, price_cache):
    """dashboard_data's `prices.fetching` is `in_flight(tickers)`: once the circuit is open and the requests already
    sent have failed, it must be empty, so the page says "prices unavailable" instead of waiting on them."""
    provider = UnreachableProvider(clock, max_batch=1, delay_s=0.3)  # real sleep: the fetches are seen in flight
    service = make_service(provider, price_cache, settings=make_settings(tmp_path, fetch_workers=4))
    tickers = [f"T{i:02d}" for i in range(12)]

    report = service.fetch_prices_parallel(needs(tickers), wait_s=0)

    assert report.pending == tuple(tickers)
    assert set(service.in_flight(tickers)) == set(tickers)  # still coming: the page says "fetching"
    assert wait_until(lambda: service.in_flight(tickers) == [], timeout_s=10)
    assert service.circuit.state()["reason"] == "unreachable"
    # Four threads sent one request each before the third failure opened the circuit; nothing was sent after.
    assert provider.call_count <= 2 * 4
    outcomes = service.fetch_prices_parallel(needs(tickers), wait_s=0)
    assert (outcomes.due, outcomes.blocked) == ((), "price source unreachable")
    assert service.in_flight(tickers) == []  # and it stays empty while the circuit is open
    failures = {t: price_cache.get_failure(t) for t in tickers}
    asked = {t for t in tickers if provider.symbol_counts[t]}
    assert {failures[t].error for t in asked} == {"price source unreachable"}


def test_tickers_queued_when_the_circuit_opens_are_skipped_with_the_reason(make_service, clock, price_cache):
    provider = UnreachableProvider(clock, max_batch=1)
    service = make_service(provider, price_cache)
    service.circuit.trip("unreachable", "test")
    # What a batch that was queued before the circuit opened does when its turn comes.
    futures = {t: Future() for t in ("AAA", "BBB")}
    service._run_batch({"AAA": START, "BBB": START}, futures)
    assert {t: (f.result().outcome, f.result().error) for t, f in futures.items()} == {
        "AAA": ("skipped", "price source unreachable"), "BBB": ("skipped", "price source unreachable")}
    assert provider.call_count == 0


# -- single-flight -------------------------------------------------------------------------------------------------
def test_single_flight_across_threads(tmp_path, make_service, clock, price_cache):
    provider = CountingProvider(clock, delay_s=0.2)  # real sleep, on the service's real worker threads
    service = make_service(provider, price_cache, settings=make_settings(tmp_path, fetch_batch_size=5),
                           sleep=time.sleep)
    barrier = threading.Barrier(20)
    reports = []

    def caller():
        barrier.wait()
        reports.append(service.fetch_prices_parallel(needs(TICKERS20)))

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 20
    assert provider.symbol_counts == Counter(dict.fromkeys(TICKERS20, 1))
    assert provider.call_count == 4  # 20 tickers in batches of 5
    for report in reports:
        assert report.pending == ()
        assert all(o.outcome in ("ok", "shared") for o in report.finished.values())
    assert all(price_cache.get_quote(t) is not None for t in TICKERS20)


def test_single_flight_across_workers_sharing_a_cache_directory(make_service, clock, settings, price_cache):
    provider = CountingProvider(clock, delay_s=0.3)
    caches = [price_cache, PriceCache(settings.cache_dir)]
    workers = [make_service(provider, cache, sleep=time.sleep) for cache in caches]
    barrier = threading.Barrier(len(workers) * 3)
    reports = []

    def caller(worker: PriceService):
        barrier.wait()
        reports.append(worker.fetch_prices_parallel(needs(TICKERS20)))

    threads = [threading.Thread(target=caller, args=(w,)) for w in workers for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 6
    assert provider.symbol_counts == Counter(dict.fromkeys(TICKERS20, 1))
    for ticker in TICKERS20:
        fetched_here = {id(r) for r in reports if r.finished.get(ticker) and r.finished[ticker].outcome == "ok"}
        assert len(fetched_here) >= 1
        assert all(r.finished[ticker].outcome in ("ok", "shared") for r in reports if ticker in r.finished)
    assert all(caches[1].get_quote(t) is not None for t in TICKERS20)
    caches[1].close()


class _SteppedCache(PriceCache):
    """A worker's cache that, after taking its first fetch lock, waits until the other worker has taken its own."""

    def __init__(self, directory, barrier: threading.Barrier):
        super().__init__(directory)
        self._barrier, self._first = barrier, True

    def try_lock(self, name: str, ttl_s: float) -> str | None:
        token = super().try_lock(name, ttl_s)
        if self._first:
            self._first = False
            self._barrier.wait(timeout=5)
        return token


def test_workers_holding_each_others_tickers_do_not_wait_for_the_locks_to_expire(make_service, clock, settings):
    """Worker A locks XXX, worker B locks YYY, then each finds the other ticker locked.

    Each must release its own lock once its fetch is done, not after waiting for the other's, or both wait until
    the locks expire (cut to 3 s here; minutes in production).
    """
    provider = CountingProvider(clock, delay_s=0.1)
    barrier = threading.Barrier(2)
    caches = [_SteppedCache(settings.cache_dir, barrier), _SteppedCache(settings.cache_dir, barrier)]
    workers = [make_service(provider, cache, sleep=time.sleep) for cache in caches]
    for worker in workers:
        worker._lock_ttl_s = 3.0
    orders = [("XXX", "YYY"), ("YYY", "XXX")]
    reports: dict[int, object] = {}

    def run(index: int) -> None:
        reports[index] = workers[index].fetch_prices_parallel(needs(orders[index]))

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert provider.symbol_counts == Counter({"XXX": 1, "YYY": 1})
    assert {t: o.outcome for t, o in reports[0].finished.items()} == {"XXX": "ok", "YYY": "shared"}
    assert {t: o.outcome for t, o in reports[1].finished.items()} == {"YYY": "ok", "XXX": "shared"}
    for cache in caches:
        cache.close()


class _CacheCountingProvider(CountingProvider):
    """Counts each symbol in the shared cache, so counts from several processes add up."""

    def __init__(self, clock: MarketClock, cache: PriceCache, delay_s: float):
        super().__init__(clock, delay_s=delay_s)
        self._shared = cache

    def fetch(self, requests):
        for request in requests:
            self._shared.incr(f"test-count:{request.ticker}")
        self._shared.incr("test-count:__calls__")
        return super().fetch(requests)


def _worker_process(tmp_dir: str, tickers: tuple[str, ...], barrier) -> None:
    """One "gunicorn worker": its own clock, cache object, provider and PriceService on the shared directory."""
    from pathlib import Path

    settings = make_settings(Path(tmp_dir))
    clock = make_clock(lambda: SESSION_MOMENT, settings)
    cache = PriceCache(settings.cache_dir)
    service = PriceService(_CacheCountingProvider(clock, cache, delay_s=0.3), cache, clock, settings)
    barrier.wait(timeout=60)
    report = service.fetch_prices_parallel(needs(tickers))
    for ticker, outcome in report.finished.items():
        cache.incr(f"test-outcome:{ticker}:{outcome.outcome}")
    service.shutdown()
    cache.close()


@pytest.mark.slow
def test_single_flight_across_processes(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    PriceCache(make_settings(tmp_path).cache_dir).close()  # created once, before both start
    processes = [context.Process(target=_worker_process, args=(str(tmp_path), TICKERS20, barrier))
                 for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
    assert [p.exitcode for p in processes] == [0, 0]

    cache = PriceCache(make_settings(tmp_path).cache_dir)
    assert {t: cache.get(f"test-count:{t}") for t in TICKERS20} == dict.fromkeys(TICKERS20, 1)
    assert all(cache.get(f"test-outcome:{t}:ok") == 1 for t in TICKERS20)  # fetched by exactly one process
    assert all(cache.get_quote(t).price == 194.0 for t in TICKERS20)
    cache.close()


# -- freshness: warm vs cold ---------------------------------------------------------------------------------------
def test_warm_cache_makes_no_calls_within_the_ttl_then_fetches_only_the_tail(make_service, clock, price_cache,
                                                                            frozen_time):
    provider = CountingProvider(clock)
    service = make_service(provider, price_cache)

    service.fetch_prices_parallel(needs(["AAA", "BBB"]))  # cold
    assert provider.calls == [(FetchRequest("AAA", START), FetchRequest("BBB", START))]

    frozen_time.advance(minutes=4, seconds=59)  # within the 5-minute quote TTL
    assert service.fetch_prices_parallel(needs(["AAA", "BBB"])).due == ()
    assert provider.call_count == 1
    assert service.prices(["AAA"])["AAA"].status == "fresh"

    frozen_time.advance(seconds=2)  # 5 min 1 s after the fetch: stale
    assert service.prices(["AAA"])["AAA"].status == "stale"
    last_bar = price_cache.get_bars("AAA").index[-1].date()
    assert last_bar == SESSION_DAY
    service.fetch_prices_parallel(needs(["AAA", "BBB"]))
    assert provider.calls[-1] == (FetchRequest("AAA", SESSION_DAY), FetchRequest("BBB", SESSION_DAY))
    bars = price_cache.get_bars("AAA")
    assert len(bars) == 25 and bars.index[0].date() == START  # the early rows were kept
    assert price_cache.history_from("AAA") == START


@pytest.mark.parametrize(
    ("friday_fetch", "later", "extra_calls", "status"),
    [
        # Friday 2025-07-11 closes at 16:00 EDT = 20:00 UTC; the close settles 15 minutes later, 20:15 UTC.
        (dt.datetime(2025, 7, 11, 20, 30, tzinfo=UTC), dt.datetime(2025, 7, 12, 15, 0, tzinfo=UTC), 0,
         "market_closed"),
        (dt.datetime(2025, 7, 11, 20, 30, tzinfo=UTC), dt.datetime(2025, 7, 13, 23, 0, tzinfo=UTC), 0,
         "market_closed"),
        (dt.datetime(2025, 7, 11, 20, 30, tzinfo=UTC), dt.datetime(2025, 7, 14, 13, 29, tzinfo=UTC), 0,
         "market_closed"),  # Monday, a minute before the 09:30 EDT open
        (dt.datetime(2025, 7, 11, 20, 30, tzinfo=UTC), dt.datetime(2025, 7, 14, 13, 31, tzinfo=UTC), 1,
         "stale"),  # Monday, the market is open: the quote from Friday is old now
        (dt.datetime(2025, 7, 11, 20, 5, tzinfo=UTC), dt.datetime(2025, 7, 12, 15, 0, tzinfo=UTC), 1,
         "stale"),  # fetched before the close settled: the weekend does not make it final
    ],
)
def test_weekend_after_a_friday_fetch(make_service, clock, price_cache, frozen_time, friday_fetch, later,
                                      extra_calls, status):
    provider = CountingProvider(clock)
    service = make_service(provider, price_cache)
    frozen_time.set(friday_fetch)
    service.fetch_prices_parallel(needs(["AAA"]))
    assert provider.call_count == 1

    frozen_time.set(later)
    assert service.prices(["AAA"])["AAA"].status == status
    service.fetch_prices_parallel(needs(["AAA"]))
    assert provider.call_count == 1 + extra_calls


# -- the wait bound ------------------------------------------------------------------------------------------------
def test_fetch_returns_within_the_wait_bound_and_fills_the_cache_later(make_service, clock, price_cache):
    provider = CountingProvider(clock, delay_s=2.0)
    service = make_service(provider, price_cache, sleep=time.sleep)

    started = time.monotonic()
    report = service.fetch_prices_parallel(needs(["AAA"]), wait_s=0.3)
    elapsed = time.monotonic() - started

    assert 0.3 <= elapsed < 1.0
    assert report.pending == ("AAA",)
    assert report.finished == {}
    assert price_cache.get_quote("AAA") is None
    assert service.in_flight(["AAA", "BBB"]) == ["AAA"]
    assert service.fetch_prices_parallel(needs(["AAA"]), wait_s=0).pending == ("AAA",)  # joins, no new call

    assert wait_until(lambda: price_cache.get_quote("AAA") is not None)
    assert provider.call_count == 1
    assert service.prices(["AAA"])["AAA"].status == "fresh"


# -- closed positions (Need with an end) ---------------------------------------------------------------------------
THURSDAY_IN_SESSION = dt.datetime(2025, 7, 10, 15, 0, tzinfo=UTC)  # 11:00 EDT
FRIDAY_SETTLED = dt.datetime(2025, 7, 11, 20, 30, tzinfo=UTC)  # 16:30 EDT, after close (16:00) + settle (15 min)
FRIDAY_UNSETTLED = dt.datetime(2025, 7, 11, 20, 5, tzinfo=UTC)  # 16:05 EDT, the close may still move


@pytest.mark.parametrize(
    ("fetched_at", "end", "expected"),
    [
        (THURSDAY_IN_SESSION, dt.date(2025, 7, 9), None),  # bars reach past the end
        (THURSDAY_IN_SESSION, dt.date(2025, 7, 10), dt.date(2025, 7, 10)),  # the end day's bar is mid-session
        (THURSDAY_IN_SESSION, dt.date(2025, 7, 14), dt.date(2025, 7, 10)),  # bars stop before the end
        (FRIDAY_SETTLED, dt.date(2025, 7, 11), None),  # the end day's bar is its final close
        (FRIDAY_SETTLED, dt.date(2025, 7, 13), None),  # ended on a Sunday: Friday is the last session
        (FRIDAY_UNSETTLED, dt.date(2025, 7, 11), dt.date(2025, 7, 11)),
    ],
)
def test_closed_position_is_fetched_only_until_its_bars_reach_the_end(make_service, clock, price_cache,
                                                                      frozen_time, fetched_at, end, expected):
    provider = CountingProvider(clock)
    service = make_service(provider, price_cache)
    frozen_time.set(fetched_at)
    service.fetch_prices_parallel(needs(["AAA"]))
    frozen_time.set(dt.datetime(2025, 7, 16, 15, 0, tzinfo=UTC))  # days later: the quote is stale
    assert service.prices(["AAA"])["AAA"].status == "stale"

    closed = needs(["AAA"], end=end)
    assert service.due(closed) == ({} if expected is None else {"AAA": expected})
    service.fetch_prices_parallel(closed)
    assert provider.call_count == (1 if expected is None else 2)


def test_closed_position_with_empty_cached_bars_is_fetched(make_service, clock, price_cache):
    provider = CountingProvider(clock)
    service = make_service(provider, price_cache)
    price_cache.put_bars("AAA", empty_bars(), START)
    closed = needs(["AAA"], end=dt.date(2025, 7, 1))
    assert service.due(closed) == {"AAA": START}
    service.fetch_prices_parallel(closed)
    assert price_cache.get_bars("AAA").index[-1].date() == SESSION_DAY



# -- closes for the chart ------------------------------------------------------------------------------------------
def _bars(days: list[str], closes: list[float]):
    import pandas as pd

    return pd.DataFrame({"close": closes, "dividend": 0.0, "split": 1.0},
                        index=pd.DatetimeIndex(pd.to_datetime(days), name="date"))


def test_closes_is_one_frame_over_the_union_of_every_tickers_sessions(make_service, counting_provider,
                                                                      price_cache):
    import math

    # B trades on another calendar: 3 June is a holiday there, 5 June is not yet in A's bars.
    price_cache.put_bars("A", _bars(["2025-06-02", "2025-06-03", "2025-06-04"], [10.0, 11.0, 12.5]),
                         dt.date(2025, 6, 2))
    price_cache.put_bars("B", _bars(["2025-06-02", "2025-06-04", "2025-06-05"], [200.0, 201.5, 199.25]),
                         dt.date(2025, 6, 2))
    price_cache.put_bars("D", empty_bars(), dt.date(2025, 6, 2))  # fetched, nothing traded
    service = make_service(counting_provider, price_cache)

    frame = service.closes(["B", "C", "A", "D"])  # C was never fetched

    assert [d.date().isoformat() for d in frame.index] == ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"]
    assert frame.index.name == "date"
    assert list(frame.columns) == ["B", "A"]  # in the order asked, absent and empty tickers left out
    assert frame["A"].tolist()[:3] == [10.0, 11.0, 12.5] and math.isnan(frame["A"].iloc[3])
    b = frame["B"].tolist()
    assert b[0] == 200.0 and math.isnan(b[1]) and b[2:] == [201.5, 199.25]
    assert all(dtype == "float64" for dtype in frame.dtypes)
    assert counting_provider.calls == []  # read from the cache only


def test_closes_of_nothing_cached_is_an_empty_frame_with_a_date_index(make_service, counting_provider,
                                                                      price_cache):
    frame = make_service(counting_provider, price_cache).closes(["A", "B"])
    assert frame.empty and frame.index.name == "date" and list(frame.columns) == []


# -- the questions callers ask ---------------------------------------------------------------------------------------
def test_quotes_newer_than_a_moment(make_service, counting_provider, price_cache):
    service = make_service(counting_provider, price_cache)
    taken = SESSION_MOMENT - dt.timedelta(minutes=5)
    price_cache.put_quote(Quote("AAA", 10.0, 9.0, "USD", taken, taken))
    assert service.quotes_newer_than(["AAA", "NEVER"], taken - dt.timedelta(seconds=1)) is True
    assert service.quotes_newer_than(["AAA", "NEVER"], taken) is False  # as old as the moment: not newer
    assert service.quotes_newer_than([], taken - dt.timedelta(days=1)) is False


def test_has_history_from_a_start(make_service, counting_provider, price_cache):
    service = make_service(counting_provider, price_cache)
    assert service.has_history("AAA") is False
    price_cache.put_bars("AAA", empty_bars(), START)
    assert service.has_history("AAA") is True
    assert service.has_history("AAA", START) is True
    assert service.has_history("AAA", START - dt.timedelta(days=1)) is False  # fetched from START only


def test_simulated_and_circuit_state(make_service, counting_provider, price_cache):
    service = make_service(counting_provider, price_cache)
    assert service.simulated is True  # the counting provider says its prices are made up
    assert service.circuit_state()["state"] == "closed"
    service.circuit.trip("unreachable", "test")
    assert (service.circuit_state()["state"], service.circuit_state()["reason"]) == ("open", "unreachable")
