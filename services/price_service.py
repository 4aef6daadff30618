"""Cache-first prices: the facade every caller uses. Every request to the price source goes through here.

A read never waits on the source. A fetch asks only for what is not fresh by the market's calendar
(`price_planning`), in batches, on a thread pool, with retries (`price_fetcher`) behind a token bucket and a
circuit breaker shared by every worker (`price_guards`). Concurrent requests for one ticker share one fetch:
across threads through an in-process future, across gunicorn workers through a lock in the shared store.
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
from services.locks import fetch_lock
from services.market_hours import MarketClock
from services.metrics import CACHE_LOOKUPS
from services.models import PriceInfo
from services.price_cache import PriceCache
from services.price_fetcher import PriceFetcher, TickerOutcome
from services.price_guards import CircuitBreaker, TokenBucket
from services.price_planning import FreshnessPlanner, Need
from services.providers.base import PriceProvider

__all__ = ["FetchReport", "Need", "PriceService", "TickerOutcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchReport:
    """What one `fetch_prices_parallel` call started and what had finished when it returned."""

    due: tuple[str, ...]
    finished: dict[str, TickerOutcome] = field(default_factory=dict)
    blocked: str | None = None  # why nothing was due although asked for: the circuit's message, if it was open

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(t for t in self.due if t not in self.finished)


class PriceService:
    """Quotes and daily bars, cache first. Build one per process and share it."""

    def __init__(self, provider: PriceProvider, cache: PriceCache, clock: MarketClock, settings: Settings,
                 *, sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random):
        self.provider, self.cache, self.clock, self.settings = provider, cache, clock, settings
        # One cool-down setting for both reasons (RATE_LIMIT_COOLDOWN_S): a 429's doubles, an unreachable one's not.
        circuit = CircuitBreaker(cache, provider.name, settings.rate_limit_cooldown_s)
        self.limiter = TokenBucket(settings.fetch_rate_per_s, settings.fetch_burst, sleep=sleep)
        self.planner = FreshnessPlanner(cache, clock)
        self.fetcher = PriceFetcher(provider, cache, clock, settings, circuit, self.limiter, sleep=sleep,
                                    jitter=jitter)
        self._executor = ThreadPoolExecutor(settings.fetch_workers, thread_name_prefix="price-fetch")
        self._inflight: dict[str, Future[TickerOutcome]] = {}
        self._inflight_lock = threading.Lock()
        reset_in_child(self._reset_after_fork)
        # Long enough to cover every retry of one batch; a lock left by a killed worker expires by itself.
        self._lock_ttl_s = settings.fetch_timeout_s * (settings.fetch_retries + 1) + 30

    @property
    def circuit(self) -> CircuitBreaker:
        """The circuit breaker every fetch of this service obeys."""
        return self.fetcher.circuit

    @circuit.setter
    def circuit(self, circuit: CircuitBreaker) -> None:
        self.fetcher.circuit = circuit

    # -- the questions callers ask --------------------------------------------------------------------------------
    def quotes_newer_than(self, tickers: Iterable[str], moment: dt.datetime) -> bool:
        """True if any ticker's cached quote was fetched after `moment` (is a chart drawn then out of date?)."""
        quotes = self.cache.get_quotes(tickers).values()  # one store call for all of them
        return any(quote.fetched_at > moment for quote in quotes if quote is not None)

    def has_history(self, ticker: str, start: dt.date | None = None) -> bool:
        """True if daily bars of `ticker` are cached (fetched from `start` or earlier, when `start` is given).

        Judged by the stamp written with the bars (`bars_tail`, memoized by it), not by reading the bars: a chart's
        generation asks this of every ticker five times a second, and on Redis each read moved the whole history.
        """
        fetched, _last = self.cache.bars_tail(ticker)
        if start is None or not fetched:
            return fetched
        known_from = self.cache.history_from(ticker)
        return known_from is not None and known_from <= start

    @property
    def simulated(self) -> bool:
        """True when the prices are made up (the demo provider), so the page can say so."""
        return bool(getattr(self.provider, "simulated", False))

    def circuit_state(self) -> dict:
        """The circuit breaker's state for the health check (see `CircuitBreaker.state`)."""
        return self.circuit.state()

    # -- reads: the cache only, never the source ------------------------------------------------------------------
    def prices(self, tickers: Iterable[str]) -> dict[str, PriceInfo]:
        """The cached quote of each ticker with its freshness status (`missing` if none).

        Two store calls at most, whatever the count: every quote, then the failures of the misses.
        """
        now = self.clock.now()
        quotes = self.cache.get_quotes(tickers)
        misses = [t for t, quote in quotes.items() if quote is None or quote.price is None]
        failures = self.cache.get_failures(misses)
        infos: dict[str, PriceInfo] = {}
        for ticker, quote in quotes.items():
            if quote is None or quote.price is None:
                CACHE_LOOKUPS.labels(result="miss").inc()
                failure = failures[ticker]
                infos[ticker] = PriceInfo(ticker, None, None, None, None, "missing",
                                          failure.error if failure else None)
                continue
            CACHE_LOOKUPS.labels(result="hit").inc()
            status = self.clock.status(ticker, quote.fetched_at, now)
            infos[ticker] = PriceInfo(ticker, quote.price, quote.previous_close,
                                      quote.market_time or quote.fetched_at, quote.fetched_at, status,
                                      currency=quote.currency)
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
        """The tickers that must be fetched, each with the first date to ask for (none while the circuit is open)."""
        if self.circuit.is_open():
            return {}
        return self.planner.due(needs)

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
            blocked = self.circuit.message() if needs and self.circuit.is_open() else None
            return FetchReport(due=(), blocked=blocked)
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
                    token = self.cache.try_lock(fetch_lock(ticker), self._lock_ttl_s)
                    if token is not None:
                        tokens[ticker] = token
                # Another worker may have fetched while we queued: ask again only for what is still due.
                mine = self.due({t: Need(batch[t]) for t in tokens})
                skipped = self.circuit.message() if not mine and tokens and self.circuit.is_open() else None
                for ticker in tokens:
                    if ticker not in mine:
                        outcomes[ticker] = (TickerOutcome(ticker, "skipped", skipped) if skipped
                                            else TickerOutcome(ticker, "shared"))
                if mine:
                    outcomes.update(self.fetcher.fetch_with_retries(mine))
            finally:
                # Unlock before waiting on other workers' locks: two workers that each hold some of the other's
                # tickers would otherwise wait on each other until the locks expire (minutes).
                for ticker, token in tokens.items():
                    self.cache.unlock(fetch_lock(ticker), token)
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
        while self.cache.is_locked(fetch_lock(ticker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return TickerOutcome(ticker, "shared")

    def _reset_after_fork(self) -> None:
        """A forked child has none of the parent's fetch threads: start it with an empty pool and fresh locks."""
        self._executor = ThreadPoolExecutor(self.settings.fetch_workers, thread_name_prefix="price-fetch")
        self._inflight = {}
        self._inflight_lock = threading.Lock()

    def in_flight(self, tickers: Iterable[str]) -> list[str]:
        """The tickers being fetched right now, in this process or another worker."""
        with self._inflight_lock:
            local = set(self._inflight)
        return [t for t in tickers if t in local or self.cache.is_locked(fetch_lock(t))]

    def shutdown(self) -> None:
        """Stop fetching: queued batches are dropped and whoever waits on them is answered `skipped`."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._inflight_lock:
            abandoned = list(self._inflight.items())
            self._inflight.clear()
        for ticker, future in abandoned:
            with suppress(InvalidStateError):
                future.set_result(TickerOutcome(ticker, "skipped", "price service shut down"))
