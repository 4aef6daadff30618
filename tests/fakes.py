"""Test doubles and hand-checkable values shared by the service tests: a settable clock, a sleep recorder, a
counting price provider with a formula for its closes, and settings in a temporary folder.

Nothing here touches the network. The fixtures that hand these out are in tests/conftest.py; tests import the
classes and helpers from here, never from a conftest.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import pandas as pd

from services.config import Settings
from services.market_hours import MarketClock, exchange_for
from services.models import Quote
from services.providers.base import (
    FetchRequest,
    FetchResult,
    ProviderError,
    RateLimitError,
    SymbolNotFoundError,
    TickerHistory,
    TransientError,
)

UTC = dt.UTC
# Tuesday 8 July 2025, 11:00 in New York (EDT, UTC-4): XNYS is in its regular session (09:30-16:00).
SESSION_MOMENT = dt.datetime(2025, 7, 8, 15, 0, tzinfo=UTC)
# Hand-picked base of CountingProvider's closes, so tests can compute a bar's close themselves.
BASE_DAY = dt.date(2025, 1, 1)


class FrozenTime:
    """A settable "now" for MarketClock(now=...) and CircuitBreaker(now=...)."""

    def __init__(self, moment: dt.datetime):
        self.moment = moment
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.moment

    def set(self, moment: dt.datetime) -> None:
        with self._lock:
            self.moment = moment

    def advance(self, **delta: float) -> dt.datetime:
        with self._lock:
            self.moment += dt.timedelta(**delta)
            return self.moment

    def epoch(self) -> float:
        """The same moment as epoch seconds (what CircuitBreaker's `now` returns)."""
        return self().timestamp()


class SleepRecorder:
    """A `sleep` that records what it was asked to wait and returns at once."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None):
        self.calls: list[float] = []
        self._on_sleep = on_sleep
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)
        if self._on_sleep is not None:
            self._on_sleep(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)


def counting_close(day: dt.date) -> float:
    """CountingProvider's close on `day`: 100 plus half a dollar per calendar day since BASE_DAY."""
    return 100.0 + 0.5 * (day - BASE_DAY).days


class CountingProvider:
    """A PriceProvider that counts every call and symbol and can misbehave on demand.

    - `delay_s`: each call waits this long first (through `sleep`, real by default).
    - `transient_calls`: the next N calls fail wholesale with TransientError (a timeout, a 5xx).
    - `transient_symbols`: {symbol: N} fails that symbol alone with TransientError its next N times.
    - `rate_limited_calls`: the next N calls answer HTTP 429 (RateLimitError) for every symbol.
    - `not_found`: symbols that always answer SymbolNotFoundError.
    Bars are one row per XNYS session from the request's start to today, closes from `counting_close`.
    """

    simulated = True

    def __init__(self, clock: MarketClock, *, name: str = "counting", max_batch: int = 100, delay_s: float = 0.0,
                 transient_calls: int = 0, transient_symbols: dict[str, int] | None = None,
                 rate_limited_calls: int = 0, not_found: Sequence[str] = (),
                 sleep: Callable[[float], None] = time.sleep):
        self.name = name
        self.max_batch = max_batch
        self.clock = clock
        self.delay_s = delay_s
        self.transient_calls = transient_calls
        self.transient_symbols = dict(transient_symbols or {})
        self.rate_limited_calls = rate_limited_calls
        self.not_found = frozenset(not_found)
        self._sleep = sleep
        self.calls: list[tuple[FetchRequest, ...]] = []
        self.symbol_counts: Counter[str] = Counter()
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    @property
    def call_count(self) -> int:
        with self._lock:
            return len(self.calls)

    def requested(self) -> list[str]:
        """Every symbol asked for, in order, one entry per request it was in."""
        with self._lock:
            return [r.ticker for call in self.calls for r in call]

    def fetch(self, requests: Sequence[FetchRequest]) -> FetchResult:
        with self._lock:
            self.calls.append(tuple(requests))
            self.symbol_counts.update(r.ticker for r in requests)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            rate_limited = self.rate_limited_calls > 0
            self.rate_limited_calls -= rate_limited
            transient = not rate_limited and self.transient_calls > 0
            self.transient_calls -= transient
            failing = set()
            for request in requests:
                if self.transient_symbols.get(request.ticker, 0) > 0:
                    self.transient_symbols[request.ticker] -= 1
                    failing.add(request.ticker)
        try:
            if self.delay_s:
                self._sleep(self.delay_s)
            result: FetchResult = {}
            for request in requests:
                error: ProviderError | None = None
                if rate_limited:
                    error = RateLimitError("HTTP 429 Too Many Requests")
                elif transient or request.ticker in failing:
                    error = TransientError(f"{request.ticker}: simulated timeout")
                elif request.ticker in self.not_found:
                    error = SymbolNotFoundError(f"{request.ticker}: no data found, symbol may be delisted")
                result[request.ticker] = error if error is not None else self._history(request)
            return result
        finally:
            with self._lock:
                self.active -= 1

    def _history(self, request: FetchRequest) -> TickerHistory | ProviderError:
        now = self.clock.now()
        sessions = self.clock.sessions(exchange_for(request.ticker), request.start, now.date())
        if not len(sessions):
            return SymbolNotFoundError(f"{request.ticker}: no session in range")
        closes = [counting_close(day.date()) for day in sessions]
        bars = pd.DataFrame({"close": closes, "dividend": 0.0, "split": 1.0},
                            index=pd.DatetimeIndex(sessions, name="date"))
        quote = Quote(ticker=request.ticker, price=closes[-1], previous_close=closes[-2] if len(closes) > 1 else None,
                      currency="USD", market_time=now, fetched_at=now)
        return TickerHistory(request.ticker, bars, quote)


def make_settings(tmp_path, **overrides: object) -> Settings:
    """Settings pointing every directory into `tmp_path`, with a rate limit that never slows a test."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "database_url": f"sqlite:///{(tmp_path / 'data' / 'stocktracker.db').as_posix()}",
        "fetch_rate_per_s": 1000.0,
        "fetch_burst": 1000,
        "fetch_retries": 3,
        "fetch_backoff_s": 0.5,
        "quote_ttl_s": 300,
        "close_settle_s": 900,
        "rate_limit_cooldown_s": 120.0,
        "failure_retry_s": 300.0,
        "warmup_enabled": False,
    }
    values.update(overrides)
    return Settings().with_overrides(**values)


def make_clock(now: Callable[[], dt.datetime], settings: Settings) -> MarketClock:
    return MarketClock(quote_ttl=dt.timedelta(seconds=settings.quote_ttl_s),
                       settle=dt.timedelta(seconds=settings.close_settle_s), now=now)


