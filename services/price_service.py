"""Cache-first prices: every request to the price source goes through here, and is counted.

A read never waits on the source. A fetch asks only for what is not fresh by the market's calendar, in batches,
on a thread pool behind a token-bucket rate limit, retried with exponential backoff and jitter on transient
errors. A 429 opens a circuit breaker (shared by every worker through the cache) so the request path stops
asking. Concurrent requests for one ticker share one fetch: across threads through an in-process future, across
gunicorn workers through a lock in the shared cache.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import suppress
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.config import Settings
from services.forksafe import reset_in_child
from services.market_hours import MarketClock, exchange_for
from services.metrics import CACHE_LOOKUPS, CIRCUIT_OPEN, UPSTREAM_IN_FLIGHT, UPSTREAM_REQUESTS, UPSTREAM_SYMBOLS
from services.models import PriceInfo
from services.price_cache import FailureRecord, PriceCache
from services.providers.base import (
    FetchRequest,
    PriceProvider,
    ProviderError,
    RateLimitError,
    SymbolNotFoundError,
    TickerHistory,
    TransientError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Need:
    """What a caller needs of one ticker: bars from `start`, and a current quote unless `end` is given.

    A closed position only needs its bars up to the day it was closed (`end`), which never change.
    """

    start: dt.date
    end: dt.date | None = None


@dataclass(frozen=True)
class TickerOutcome:
    ticker: str
    outcome: str  # ok | failed | shared (another worker fetched it) | skipped (circuit open)
    error: str | None = None


@dataclass(frozen=True)
class FetchReport:
    """What one `fetch_prices_parallel` call started and what had finished when it returned."""

    due: tuple[str, ...]
    finished: dict[str, TickerOutcome] = field(default_factory=dict)

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(t for t in self.due if t not in self.finished)


class TokenBucket:
    """At most `rate` requests a second on average, in bursts of up to `burst` (per process)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._rate, self._capacity = rate, float(burst)
        self._tokens, self._stamp = float(burst), clock()
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self._rate
            self._sleep(delay)
            waited += delay


class CircuitBreaker:
    """Stops upstream requests after a 429, for a cool-down that doubles while 429s continue.

    Its state lives in the shared cache, so one worker's 429 stops every worker.
    """

    def __init__(self, cache: PriceCache, provider: str, cooldown_s: float,
                 now: Callable[[], float] = time.time):
        self._cache, self._key, self._cooldown_s, self._now = cache, f"circuit:{provider}", cooldown_s, now
        self._provider = provider

    def is_open(self) -> bool:
        state = self._cache.get(self._key)
        is_open = bool(state and state["open_until"] > self._now())
        CIRCUIT_OPEN.labels(provider=self._provider).set(1 if is_open else 0)
        return is_open

    def trip(self, reason: str) -> float:
        """Open the circuit; returns the time (epoch seconds) it closes again."""
        state = self._cache.get(self._key) or {"trips": 0}
        trips = state["trips"] + 1
        open_until = self._now() + self._cooldown_s * 2 ** min(trips - 1, 3)
        self._cache.set(self._key, {"trips": trips, "open_until": open_until, "reason": reason})
        CIRCUIT_OPEN.labels(provider=self._provider).set(1)
        log.warning("circuit breaker open for %.0f s: %s", open_until - self._now(), reason)
        return open_until

    def record_success(self) -> None:
        if self._cache.get(self._key) is not None:
            self._cache.delete(self._key)

    def state(self) -> dict:
        state = self._cache.get(self._key)
        if not state:
            return {"state": "closed", "open_until": None, "reason": None}
        open_until = dt.datetime.fromtimestamp(state["open_until"], dt.UTC)
        return {"state": "open" if self.is_open() else "half_open", "open_until": open_until.isoformat(),
                "reason": state["reason"]}


class PriceService:
    """Quotes and daily bars, cache first. Build one per process and share it."""

    def __init__(self, provider: PriceProvider, cache: PriceCache, clock: MarketClock, settings: Settings,
                 *, sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random):
        self.provider, self.cache, self.clock, self.settings = provider, cache, clock, settings
        self.circuit = CircuitBreaker(cache, provider.name, settings.rate_limit_cooldown_s)
        self.limiter = TokenBucket(settings.fetch_rate_per_s, settings.fetch_burst, sleep=sleep)
        self._sleep, self._jitter = sleep, jitter
        self._executor = ThreadPoolExecutor(settings.fetch_workers, thread_name_prefix="price-fetch")
        self._inflight: dict[str, Future[TickerOutcome]] = {}
        self._inflight_lock = threading.Lock()
        reset_in_child(self._reset_after_fork)
        # Long enough to cover every retry of one batch; a lock left by a killed worker expires by itself.
        self._lock_ttl_s = settings.fetch_timeout_s * (settings.fetch_retries + 1) + 30

    # -- reads: the cache only, never the source ------------------------------------------------------------------
    def prices(self, tickers: Iterable[str]) -> dict[str, PriceInfo]:
        """The cached quote of each ticker with its freshness status (`missing` if none)."""
        now = self.clock.now()
        infos: dict[str, PriceInfo] = {}
        for ticker in tickers:
            quote = self.cache.get_quote(ticker)
            if quote is None or quote.price is None:
                CACHE_LOOKUPS.labels(result="miss").inc()
                failure = self.cache.get_failure(ticker)
                infos[ticker] = PriceInfo(ticker, None, None, None, None, "missing",
                                          failure.error if failure else None)
                continue
            CACHE_LOOKUPS.labels(result="hit").inc()
            status = self.clock.status(ticker, quote.fetched_at, now)
            infos[ticker] = PriceInfo(ticker, quote.price, quote.previous_close,
                                      quote.market_time or quote.fetched_at, quote.fetched_at, status)
        return infos

    def closes(self, tickers: Iterable[str]) -> pd.DataFrame:
        """Cached closes as traded, dates (the union of every ticker's sessions) x tickers; absent tickers are left
        out, and a ticker's cell on another exchange's session is NaN."""
        series = {}
        for ticker in tickers:
            stored = self.cache.get_closes(ticker)
            if stored is not None and len(stored[0]):
                series[ticker] = stored
        if not series:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        # One 2-D block filled in place (later reindex/ffill over 500 tickers is then one operation). pd.concat of
        # one Series per ticker peaked at ~100 MB for this 10 MB result on the 500-ticker, 10-year portfolio.
        dates = np.unique(np.concatenate([days for days, _ in series.values()]))
        block = np.full((len(dates), len(series)), np.nan)
        for column, (days, closes) in enumerate(series.values()):
            block[np.searchsorted(dates, days), column] = closes
        index = pd.DatetimeIndex(dates.view("datetime64[ns]"), name="date")
        return pd.DataFrame(block, index=index, columns=list(series))

    def due(self, needs: Mapping[str, Need]) -> dict[str, dt.date]:
        """The tickers that must be fetched, each with the first date to ask for."""
        if self.circuit.is_open():
            return {}
        now = self.clock.now()
        due: dict[str, dt.date] = {}
        for ticker, need in needs.items():
            failure = self.cache.get_failure(ticker)
            if failure is not None and failure.retry_after > now:
                continue  # failed recently: do not ask again in a tight loop
            start = self._fetch_start(ticker, need, now)
            if start is not None:
                due[ticker] = start
        return due

    def _fetch_start(self, ticker: str, need: Need, now: dt.datetime) -> dt.date | None:
        fetched, last = self.cache.bars_tail(ticker)
        known_from = self.cache.history_from(ticker)
        if not fetched or known_from is None or known_from > need.start:
            return need.start
        tail = last or need.start
        if need.end is None:
            quote = self.cache.get_quote(ticker)
            if quote is None or self.clock.status(ticker, quote.fetched_at, now) == "stale":
                return tail
            return None
        # A closed position: its bars must reach the last session on or before the day it was closed.
        exchange = exchange_for(ticker)
        wanted_end = min(need.end, self.clock.last_completed_session(exchange, now))
        sessions = self.clock.sessions(exchange, need.start, wanted_end)
        if not len(sessions):
            return None
        last_wanted = sessions[-1]
        # Cached bars can be empty (a fetch that found no session in its range): then they reach nothing.
        if last is None or last < last_wanted.date():
            return tail
        if last == last_wanted.date() and not self._bar_is_final(ticker, exchange, last_wanted.date()):
            return tail  # that day's bar was cached mid-session: its close is not the day's close
        return None

    def _bar_is_final(self, ticker: str, exchange: str, session: dt.date) -> bool:
        """True if the cached bar of `session` was fetched after that session closed and settled.

        Bars and quote are written together, so the quote's fetch time is when the last bar was taken.
        """
        quote = self.cache.get_quote(ticker)
        if quote is None:
            return False
        try:
            return self.clock.last_completed_session(exchange, quote.fetched_at) >= session
        except ValueError:  # fetched before any session of the calendar completed
            return False

    # -- fetches ----------------------------------------------------------------------------------------------------
    def batch_fetch_prices(self, tickers: Sequence[str]) -> list[list[str]]:
        """Split tickers into batches of at most one upstream request each."""
        size = max(1, min(self.settings.fetch_batch_size, self.provider.max_batch))
        ordered = list(dict.fromkeys(tickers))
        return [ordered[i:i + size] for i in range(0, len(ordered), size)]

    def fetch_prices_parallel(self, needs: Mapping[str, Need], wait_s: float | None = None) -> FetchReport:
        """Fetch what is due, on the thread pool; wait at most `wait_s` (None: until done, 0: not at all).

        What has not finished by then goes on in the background and lands in the cache.
        """
        due = self.due(needs)
        if not due:
            return FetchReport(due=())
        futures = self._start(due)
        if wait_s is None or wait_s > 0:
            wait_futures(list(futures.values()), timeout=wait_s)
        finished = {t: f.result() for t, f in futures.items() if f.done()}
        return FetchReport(due=tuple(due), finished=finished)

    def _start(self, due: Mapping[str, dt.date]) -> dict[str, Future[TickerOutcome]]:
        """Futures for every due ticker: joined if already in flight in this process, else newly submitted."""
        futures: dict[str, Future[TickerOutcome]] = {}
        new: list[str] = []
        with self._inflight_lock:
            for ticker in due:
                future = self._inflight.get(ticker)
                if future is None:
                    future = Future()
                    self._inflight[ticker] = future
                    new.append(ticker)
                futures[ticker] = future
        for batch in self.batch_fetch_prices(new):
            try:
                self._executor.submit(self._run_batch, {t: due[t] for t in batch}, futures)
            except RuntimeError:  # shut down: the process is stopping; answer like shutdown() does, do not raise
                # (raised, it reached the chart generator, which stored an "error" state every worker then showed)
                self._finish(batch, {t: TickerOutcome(t, "skipped", "price service shut down") for t in batch},
                             futures)
        return futures

    def _run_batch(self, batch: dict[str, dt.date], futures: Mapping[str, Future[TickerOutcome]]) -> None:
        outcomes: dict[str, TickerOutcome] = {}
        tokens: dict[str, str] = {}
        try:
            try:
                for ticker in batch:
                    token = self.cache.try_lock(f"fetch:{ticker}", self._lock_ttl_s)
                    if token is not None:
                        tokens[ticker] = token
                # Another worker may have fetched while we queued: ask again only for what is still due.
                mine = self.due({t: Need(batch[t]) for t in tokens})
                for ticker in tokens:
                    if ticker not in mine:
                        outcomes[ticker] = TickerOutcome(ticker, "shared")
                if mine:
                    outcomes.update(self._fetch_with_retries(mine))
            finally:
                # Unlock before waiting on other workers' locks: two workers that each hold some of the other's
                # tickers would otherwise wait on each other until the locks expire (minutes).
                for ticker, token in tokens.items():
                    self.cache.unlock(f"fetch:{ticker}", token)
            self._finish(list(tokens), outcomes, futures)  # what we fetched need not wait for the others
            for ticker in batch:
                if ticker not in tokens:
                    outcomes[ticker] = self._await_other_worker(ticker)
        except Exception as error:  # never leave a waiter hanging on a future that cannot complete
            log.exception("price batch failed")
            for ticker in batch:
                outcomes.setdefault(ticker, TickerOutcome(ticker, "failed", f"internal error: {error}"))
        finally:
            self._finish(list(batch), outcomes, futures)

    def _finish(self, tickers: Sequence[str], outcomes: Mapping[str, TickerOutcome],
                futures: Mapping[str, Future[TickerOutcome]]) -> None:
        """Resolve the futures of `tickers` (once) and forget them as in flight."""
        with self._inflight_lock:
            for ticker in tickers:
                if self._inflight.get(ticker) is futures[ticker]:  # not a newer fetch of the same ticker
                    del self._inflight[ticker]
        for ticker in tickers:
            with suppress(InvalidStateError):  # shutdown() may have answered it already
                futures[ticker].set_result(outcomes.get(ticker, TickerOutcome(ticker, "failed", "no outcome")))

    def _await_other_worker(self, ticker: str) -> TickerOutcome:
        deadline = time.monotonic() + self._lock_ttl_s
        while self.cache.is_locked(f"fetch:{ticker}") and time.monotonic() < deadline:
            time.sleep(0.05)
        return TickerOutcome(ticker, "shared")

    def _fetch_with_retries(self, pending: dict[str, dt.date]) -> dict[str, TickerOutcome]:
        outcomes: dict[str, TickerOutcome] = {}
        attempt = 0
        while pending:
            if self.circuit.is_open():
                outcomes.update({t: TickerOutcome(t, "skipped", "circuit open after HTTP 429") for t in pending})
                break
            self.limiter.acquire()
            results = self._request(pending)
            retry: dict[str, dt.date] = {}
            for ticker, result in results.items():
                if isinstance(result, TickerHistory):
                    self.cache.put_bars(ticker, result.bars, pending[ticker])
                    self.cache.put_quote(result.quote)
                    outcomes[ticker] = TickerOutcome(ticker, "ok")
                elif isinstance(result, TransientError) and attempt < self.settings.fetch_retries:
                    retry[ticker] = pending[ticker]
                else:
                    outcomes[ticker] = self._record_failure(ticker, result)
            if retry and self.circuit.is_open():
                outcomes.update({t: self._record_failure(t, RateLimitError("circuit open")) for t in retry})
                break
            pending = retry
            if pending:
                # Exponential backoff with full jitter, so retries from many threads do not arrive together.
                self._sleep(self.settings.fetch_backoff_s * 2**attempt * (0.5 + self._jitter()))
                attempt += 1
        return outcomes

    def _request(self, pending: Mapping[str, dt.date]) -> dict[str, TickerHistory | ProviderError]:
        """One upstream request, counted; a provider that raises is treated as failing every symbol."""
        requests = [FetchRequest(t, start) for t, start in pending.items()]
        try:
            with UPSTREAM_IN_FLIGHT.labels(provider=self.provider.name).track_inprogress():
                results = dict(self.provider.fetch(requests))
        except Exception as error:  # the contract says never raise; a bug there must not break the page
            results = {r.ticker: TransientError(f"provider error: {error}") for r in requests}
        for ticker in pending:
            results.setdefault(ticker, TransientError(f"{ticker}: no answer from provider"))
        outcomes = [_symbol_outcome(r) for r in results.values()]
        for outcome in outcomes:
            UPSTREAM_SYMBOLS.labels(provider=self.provider.name, outcome=outcome).inc()
        request_outcome = (
            "rate_limited" if "rate_limited" in outcomes
            else "ok" if all(o == "ok" for o in outcomes)
            else "error" if all(o != "ok" for o in outcomes) else "partial"
        )
        UPSTREAM_REQUESTS.labels(provider=self.provider.name, outcome=request_outcome).inc()
        if request_outcome == "rate_limited":
            self.circuit.trip(f"HTTP 429 from {self.provider.name}")
        elif request_outcome in ("ok", "partial"):
            self.circuit.record_success()
        return results

    def _record_failure(self, ticker: str, error: ProviderError) -> TickerOutcome:
        now = self.clock.now()
        if isinstance(error, SymbolNotFoundError):
            retry_s = self.settings.failure_retry_s
        elif isinstance(error, RateLimitError):
            retry_s = self.settings.rate_limit_cooldown_s
        else:
            retry_s = min(60.0, self.settings.failure_retry_s)
        self.cache.put_failure(FailureRecord(ticker, str(error) or type(error).__name__, now,
                                             now + dt.timedelta(seconds=retry_s)))
        return TickerOutcome(ticker, "failed", str(error))

    def _reset_after_fork(self) -> None:
        """A forked child has none of the parent's fetch threads: start it with an empty pool and fresh locks."""
        self._executor = ThreadPoolExecutor(self.settings.fetch_workers, thread_name_prefix="price-fetch")
        self._inflight = {}
        self._inflight_lock = threading.Lock()
        self.limiter._lock = threading.Lock()

    def in_flight(self, tickers: Iterable[str]) -> list[str]:
        """The tickers being fetched right now, in this process or another worker."""
        with self._inflight_lock:
            local = set(self._inflight)
        return [t for t in tickers if t in local or self.cache.is_locked(f"fetch:{t}")]

    def shutdown(self) -> None:
        """Stop fetching: queued batches are dropped and whoever waits on them is answered `skipped`."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._inflight_lock:
            abandoned = list(self._inflight.items())
            self._inflight.clear()
        for ticker, future in abandoned:
            with suppress(InvalidStateError):
                future.set_result(TickerOutcome(ticker, "skipped", "price service shut down"))


def _symbol_outcome(result: TickerHistory | ProviderError) -> str:
    if isinstance(result, TickerHistory):
        return "ok"
    if isinstance(result, RateLimitError):
        return "rate_limited"
    if isinstance(result, SymbolNotFoundError):
        return "not_found"
    return "error"
