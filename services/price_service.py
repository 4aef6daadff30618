"""Cache-first prices: every request to the price source goes through here, and is counted.

A read never waits on the source. A fetch asks only for what is not fresh by the market's calendar, in batches,
on a thread pool behind a token-bucket rate limit, retried with exponential backoff and jitter on transient
errors. A 429, or a source that cannot be reached at all, opens a circuit breaker (shared by every worker through
the cache) so nothing asks upstream for a cool-down (see `CircuitBreaker`). Concurrent requests for one ticker
share one fetch: across threads through an in-process future, across gunicorn workers through a lock in the
shared cache.
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
    UnreachableError,
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
    outcome: str  # ok | failed | shared (another worker fetched it) | skipped (circuit open: `error` says why)
    error: str | None = None


@dataclass(frozen=True)
class FetchReport:
    """What one `fetch_prices_parallel` call started and what had finished when it returned."""

    due: tuple[str, ...]
    finished: dict[str, TickerOutcome] = field(default_factory=dict)
    blocked: str | None = None  # why nothing was due although asked for: the circuit's message, if it was open

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


RATE_LIMITED, UNREACHABLE = "rate_limited", "unreachable"
# What a ticker's outcome (and its remembered failure) says while the circuit is open, by the circuit's reason.
CIRCUIT_MESSAGES = {RATE_LIMITED: "price source rate limited (HTTP 429)", UNREACHABLE: "price source unreachable"}
# Requests in a row, across every worker, that must fail as unreachable before the circuit opens: one ticker's
# first attempt and two of its retries, or one round of three parallel requests. One blip does not open it.
UNREACHABLE_AFTER = 3


class CircuitBreaker:
    """Stops upstream requests for a cool-down. Its state lives in the shared cache, so it stops every worker.

    It opens for one of two reasons (`state()["reason"]`):
    - `rate_limited`: a request was answered HTTP 429. The cool-down doubles (up to 8x) while 429s continue.
    - `unreachable`: `unreachable_after` requests in a row failed as `UnreachableError` (no DNS, connection refused,
      connect timeout), with no request reaching the source in between (the count is in the cache too). The
      cool-down does not double: nobody upstream is being asked to slow down, and the prices should come back
      within one cool-down of the network.
    After the cool-down it is half-open: requests flow again. The first that reaches the source (for a 429, the
    first that is answered without one) closes it; a failure of the same kind opens it again at once.
    It logs one warning when it opens, one info line when it closes, and one info line per failed half-open probe.
    """

    def __init__(self, cache: PriceCache, provider: str, cooldown_s: float,
                 now: Callable[[], float] = time.time, *, unreachable_cooldown_s: float | None = None,
                 unreachable_after: int = UNREACHABLE_AFTER):
        self._cache, self._key, self._cooldown_s, self._now = cache, f"circuit:{provider}", cooldown_s, now
        self._streak_key = f"circuit-streak:{provider}:unreachable"
        self._unreachable_cooldown_s = cooldown_s if unreachable_cooldown_s is None else unreachable_cooldown_s
        self._unreachable_after = max(1, unreachable_after)
        self._provider = provider

    def _entry(self) -> dict | None:
        state = self._cache.get(self._key)
        if state and state.get("reason") not in CIRCUIT_MESSAGES:  # written before reasons had kinds: a 429's
            state = {**state, "detail": state.get("reason"), "reason": RATE_LIMITED}
        return state or None

    def is_open(self) -> bool:
        state = self._cache.get(self._key)
        is_open = bool(state and state["open_until"] > self._now())
        CIRCUIT_OPEN.labels(provider=self._provider).set(1 if is_open else 0)
        return is_open

    def open_reason(self) -> str | None:
        """`rate_limited` or `unreachable` while open, else None."""
        state = self._entry()
        return state["reason"] if state and state["open_until"] > self._now() else None

    def message(self) -> str:
        """Why nothing is asked upstream right now, for a ticker's outcome ("price source unreachable")."""
        return CIRCUIT_MESSAGES[self.open_reason() or RATE_LIMITED]

    def error(self) -> ProviderError:
        """The error a ticker is failed with when the circuit stops its fetch."""
        reason = self.open_reason()
        return UnreachableError(CIRCUIT_MESSAGES[UNREACHABLE]) if reason == UNREACHABLE else RateLimitError(
            CIRCUIT_MESSAGES[RATE_LIMITED])

    def trip(self, reason: str = RATE_LIMITED, detail: str = "") -> float:
        """Open the circuit for `reason` (rate_limited | unreachable); returns the time (epoch seconds) it closes.

        Requests that fail together (parallel fetch threads, other workers) open it once: whoever finds it already
        open for the same reason leaves it as it is.
        """
        if reason not in CIRCUIT_MESSAGES:  # a caller of the old trip(text): that was always a 429
            reason, detail = RATE_LIMITED, detail or reason
        with self._cache.locked(self._key, ttl_s=10, wait_s=5):  # not had in 5 s: go on unserialised
            previous = self._entry()
            if previous is not None and previous["reason"] == reason and previous["open_until"] > self._now():
                return previous["open_until"]
            return self._open(previous, reason, detail)

    def _open(self, previous: dict | None, reason: str, detail: str) -> float:
        now = self._now()
        same = previous is not None and previous["reason"] == reason
        trips = previous.get("trips", 0) + 1 if same else 1
        if reason == RATE_LIMITED:
            cooldown_s = self._cooldown_s * 2 ** min(trips - 1, 3)
        else:
            cooldown_s = self._unreachable_cooldown_s
        open_until = now + cooldown_s
        since = previous.get("since", now) if previous else now
        self._cache.set(self._key, {"trips": trips, "open_until": open_until, "reason": reason,
                                    "detail": detail or None, "since": since})
        self._cache.delete(self._streak_key)
        CIRCUIT_OPEN.labels(provider=self._provider).set(1)
        until = _iso(open_until)
        if previous is None or not same:
            log.warning("circuit breaker open: %s; no requests to %s for %.0f s, until %s (%s)",
                        CIRCUIT_MESSAGES[reason], self._provider, cooldown_s, until, detail or reason)
        else:  # a half-open probe failed: the warning was given when it first opened
            log.info("circuit breaker open again: %s; trip %d, for %.0f s, until %s",
                     CIRCUIT_MESSAGES[reason], trips, cooldown_s, until)
        return open_until

    def record_unreachable(self, detail: str = "") -> bool:
        """A request failed because the source could not be reached; True if the circuit is (now) open."""
        streak = self._cache.incr(self._streak_key)
        with self._cache.locked(self._key, ttl_s=10, wait_s=5):
            state = self._entry()
            if state is not None and state["open_until"] > self._now():
                return True  # another request opened it meanwhile
            half_open_probe = state is not None and state["reason"] == UNREACHABLE
            if streak >= self._unreachable_after or half_open_probe:
                self._open(state, UNREACHABLE, detail)
                return True
            return False

    def record_reached(self) -> None:
        """A request reached the source but got no prices (a 404, a 5xx): it is not unreachable, nor was it a 429
        that cleared (so an open `rate_limited` circuit stays as it is)."""
        self._forget_streak()
        self._close(only=UNREACHABLE)

    def record_success(self) -> None:
        self._forget_streak()
        self._close()

    def _forget_streak(self) -> None:
        if self._cache.get(self._streak_key) is not None:
            self._cache.delete(self._streak_key)

    def _close(self, only: str | None = None) -> None:
        """Close the circuit (if open for `only`, when given), logging it once however many requests succeed."""
        state = self._entry()
        if state is None or (only and state["reason"] != only):
            return  # the common case, a success while closed: one read, no lock
        with self._cache.locked(self._key, ttl_s=10, wait_s=5):
            state = self._entry()
            if state is None or (only and state["reason"] != only):
                return
            self._cache.delete(self._key)
        CIRCUIT_OPEN.labels(provider=self._provider).set(0)
        opened_s = self._now() - state.get("since", state["open_until"])
        log.info("circuit breaker closed: %s answers again (it was %s for %.0f s)", self._provider,
                 CIRCUIT_MESSAGES[state["reason"]].removeprefix("price source "), max(0.0, opened_s))

    def state(self) -> dict:
        """`state` closed | open | half_open (the cool-down is over, nothing has got through yet); `reason`
        rate_limited | unreachable; `until` (also `open_until`, its first name) when the cool-down ends; `since`
        when it first opened; `detail` the error that opened it."""
        state = self._entry()
        if not state:
            return {"state": "closed", "open_until": None, "reason": None, "until": None, "since": None,
                    "detail": None}
        until = _iso(state["open_until"])
        return {"state": "open" if self.is_open() else "half_open", "open_until": until, "reason": state["reason"],
                "until": until, "since": _iso(state.get("since", state["open_until"])),
                "detail": state.get("detail")}


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat()


class PriceService:
    """Quotes and daily bars, cache first. Build one per process and share it."""

    def __init__(self, provider: PriceProvider, cache: PriceCache, clock: MarketClock, settings: Settings,
                 *, sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random):
        self.provider, self.cache, self.clock, self.settings = provider, cache, clock, settings
        # One cool-down setting for both reasons (RATE_LIMIT_COOLDOWN_S): a 429's doubles, an unreachable one's not.
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
                    token = self.cache.try_lock(f"fetch:{ticker}", self._lock_ttl_s)
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
            blocked = self.circuit.is_open()
            if not blocked:
                self.limiter.acquire()
                blocked = self.circuit.is_open()  # again after the wait for a token, which can be long
            if blocked:
                reason = self.circuit.message()
                outcomes.update({t: TickerOutcome(t, "skipped", reason) for t in pending})
                break
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
                error = self.circuit.error()
                outcomes.update({t: self._record_failure(t, error) for t in retry})
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
            else "unreachable" if all(o == "unreachable" for o in outcomes)
            else "error" if all(o != "ok" for o in outcomes) else "partial"
        )
        UPSTREAM_REQUESTS.labels(provider=self.provider.name, outcome=request_outcome).inc()
        if request_outcome == "rate_limited":
            self.circuit.trip(RATE_LIMITED, f"HTTP 429 from {self.provider.name}")
        elif request_outcome == "unreachable":
            self.circuit.record_unreachable(str(next(iter(results.values()))))
        elif request_outcome in ("ok", "partial"):
            self.circuit.record_success()
        else:  # answered, without prices (404s, 5xx): the source is there
            self.circuit.record_reached()
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
    if isinstance(result, UnreachableError):
        return "unreachable"
    return "error"
