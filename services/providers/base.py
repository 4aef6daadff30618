"""The contract every price provider keeps, and the errors it raises.

One call of `PriceProvider.fetch` is one upstream request (it is counted and rate-limited as one), so a provider
that can only ask for one symbol per request says so with `max_batch = 1`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from services.models import Quote

# The shapes of Yahoo symbols: BRK-B, ^GSPC, EURUSD=X, VOD.L, BTC-USD, RDS.A, 7203.T, ES=F.
BAR_COLUMNS = ("close", "dividend", "split")


class ProviderError(Exception):
    """A fetch of one symbol failed."""

    transient = False


class TransientError(ProviderError):
    """Worth retrying: a timeout, a dropped connection, a 5xx."""

    transient = True


class RateLimitError(ProviderError):
    """HTTP 429: stop asking for a while (the circuit breaker opens)."""


class UnreachableError(TransientError):
    """The source could not be reached at all: DNS failure, connection refused, a timeout while connecting, a
    proxy that would not connect. Nothing was said about the symbol, so it is not a `SymbolNotFoundError`.

    Transient (a blip is retried), but when every request fails so the circuit breaker opens: asking again
    costs nothing upstream, it only fills the log and keeps the page waiting.
    """


class SymbolNotFoundError(ProviderError):
    """Delisted, unknown, or no data for the range: retrying will not help."""


@dataclass(frozen=True)
class FetchRequest:
    ticker: str
    start: dt.date  # the first session date wanted (inclusive)


@dataclass(frozen=True)
class TickerHistory:
    """What one fetch gives for one symbol.

    `bars` is indexed by session date (tz-naive midnight Timestamps, ascending, unique) with the columns
    `close` (the price as traded that day, NOT adjusted for later splits or dividends, so a cached bar never
    changes), `dividend` (cash per share paid that day, 0.0 if none) and `split` (new shares per old share that
    day, 1.0 if none). During a session the last row is today's, with the current price as its close.
    """

    ticker: str
    bars: pd.DataFrame
    quote: Quote


FetchResult = dict[str, "TickerHistory | ProviderError"]


class PriceProvider(Protocol):
    name: str
    max_batch: int
    simulated: bool

    def fetch(self, requests: Sequence[FetchRequest]) -> FetchResult:
        """One upstream request for these symbols; every symbol gets a history or an error, never a raise.

        A failure of the whole request (a 429, a timeout, an unreachable source) is reported as that error for every
        symbol.
        """
        ...


def empty_bars() -> pd.DataFrame:
    """A bars frame with no rows and the right columns and dtypes."""
    return pd.DataFrame(
        {"close": pd.Series(dtype="float64"), "dividend": pd.Series(dtype="float64"),
         "split": pd.Series(dtype="float64")},
        index=pd.DatetimeIndex([], name="date"),
    )
