"""The naive baseline the seed app started from: one price per ticker per day, fetched one at a time.

That is how about 19,690 requests per load arise (about 54 tickers x 365 days). Sending them all at the
benchmark's latency would take over an hour and a half, so the request count is exact (the whole loop runs
without latency) and the load time is the median of a timed sample of requests times that count.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from services.market_hours import MarketClock
from services.providers.base import FetchRequest
from services.providers.demo import DemoProvider


@dataclass(frozen=True)
class NaiveResult:
    requests: int
    seconds_per_request: float
    sampled_requests: int

    @property
    def load_seconds(self) -> float:
        return self.requests * self.seconds_per_request


def naive_load(tickers: Sequence[str], today: dt.date, latency_ms: int, clock: MarketClock,
               days: int = 365, sample: int = 20) -> NaiveResult:
    """Count every request of the naive load exactly, and time `sample` of them at `latency_ms`."""
    counting = DemoProvider(clock)
    requests = 0
    for ticker in tickers:
        for offset in range(days):
            day = today - dt.timedelta(days=offset)
            counting.fetch([FetchRequest(ticker, day)])  # one price for one day: one request
            requests += 1
    slow = DemoProvider(clock, latency_ms=latency_ms)
    timings = []
    for index in range(sample):
        ticker = tickers[index % len(tickers)]
        started = time.perf_counter()
        slow.fetch([FetchRequest(ticker, today - dt.timedelta(days=index))])
        timings.append(time.perf_counter() - started)
    return NaiveResult(requests, statistics.median(timings), sample)
