"""Fetching from the price source: one counted request per batch, retried with backoff, behind the guards.

Every request upstream is made here (`UPSTREAM_REQUESTS`, `UPSTREAM_SYMBOLS` count them). What comes back is
written to the price cache: bars and quote on success, a failure record with its retry time otherwise.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.config import Settings
from services.market_hours import MarketClock
from services.metrics import UPSTREAM_IN_FLIGHT, UPSTREAM_REQUESTS, UPSTREAM_SYMBOLS
from services.price_cache import FailureRecord, PriceCache
from services.price_guards import RATE_LIMITED, CircuitBreaker, TokenBucket
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


@dataclass(frozen=True)
class TickerOutcome:
    ticker: str
    outcome: str  # ok | failed | shared (another worker fetched it) | skipped (circuit open: `error` says why)
    error: str | None = None


class PriceFetcher:
    """Fetches a batch of tickers with retries; `circuit` and `limiter` guard every attempt."""

    def __init__(self, provider: PriceProvider, cache: PriceCache, clock: MarketClock, settings: Settings,
                 circuit: CircuitBreaker, limiter: TokenBucket, *, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random):
        self.provider, self.cache, self.clock, self.settings = provider, cache, clock, settings
        self.circuit, self.limiter = circuit, limiter
        self._sleep, self._jitter = sleep, jitter

    def fetch_with_retries(self, pending: dict[str, dt.date]) -> dict[str, TickerOutcome]:
        """Fetch every ticker of `pending` from its date, retrying transient errors; the outcome of each."""
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
            results = self.request(pending)
            retry: dict[str, dt.date] = {}
            for ticker, result in results.items():
                if isinstance(result, TickerHistory):
                    self.cache.put_bars(ticker, result.bars, pending[ticker])
                    self.cache.put_quote(result.quote)
                    outcomes[ticker] = TickerOutcome(ticker, "ok")
                elif isinstance(result, TransientError) and attempt < self.settings.fetch_retries:
                    retry[ticker] = pending[ticker]
                else:
                    outcomes[ticker] = self.record_failure(ticker, result)
            if retry and self.circuit.is_open():
                error = self.circuit.error()
                outcomes.update({t: self.record_failure(t, error) for t in retry})
                break
            pending = retry
            if pending:
                # Exponential backoff with full jitter, so retries from many threads do not arrive together.
                self._sleep(self.settings.fetch_backoff_s * 2**attempt * (0.5 + self._jitter()))
                attempt += 1
        return outcomes

    def request(self, pending: Mapping[str, dt.date]) -> dict[str, TickerHistory | ProviderError]:
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

    def record_failure(self, ticker: str, error: ProviderError) -> TickerOutcome:
        """Remember a failed fetch with the time it may be asked for again (longer for a symbol not found)."""
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
