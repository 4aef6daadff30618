"""Freshness planning: which tickers must be fetched, and from which date, judged by the market's calendar.

Pure of any fetching: it reads what the price cache holds and what the clock says, and answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.market_hours import MarketClock, exchange_for
from services.models import Quote
from services.price_cache import PriceCache


@dataclass(frozen=True)
class Need:
    """What a caller needs of one ticker: bars from `start`, and a current quote unless `end` is given.

    A closed position only needs its bars up to the day it was closed (`end`), which never change.
    """

    start: dt.date
    end: dt.date | None = None


class FreshnessPlanner:
    """Decides what is due from the cache and the market clock."""

    def __init__(self, cache: PriceCache, clock: MarketClock):
        self.cache, self.clock = cache, clock

    def due(self, needs: Mapping[str, Need]) -> dict[str, dt.date]:
        """The tickers that must be fetched, each with the first date to ask for (the circuit is not asked).

        What it reads of the cache (failures, bars stamps, bars starts, quotes) is read for all tickers at once,
        one store call each: on Redis a call per ticker and record made ~2,000 round trips of a 300-ticker page.
        """
        now = self.clock.now()
        failures = self.cache.get_failures(needs)
        # Failed recently: do not ask again in a tight loop.
        asked = [t for t in needs if (failures[t] is None or failures[t].retry_after <= now)]
        records = _Records(self.cache.bars_tails(asked), self.cache.histories_from(asked),
                           self.cache.get_quotes(asked))
        due: dict[str, dt.date] = {}
        for ticker in asked:
            start = self._start(ticker, needs[ticker], now, records)
            if start is not None:
                due[ticker] = start
        return due

    def fetch_start(self, ticker: str, need: Need, now: dt.datetime) -> dt.date | None:
        """The first date to fetch of `ticker` to meet `need`, or None if the cache meets it."""
        records = _Records({ticker: self.cache.bars_tail(ticker)}, {ticker: self.cache.history_from(ticker)},
                           {ticker: self.cache.get_quote(ticker)})
        return self._start(ticker, need, now, records)

    def _start(self, ticker: str, need: Need, now: dt.datetime, records: _Records) -> dt.date | None:
        fetched, last = records.tails[ticker]
        known_from = records.starts[ticker]
        if not fetched or known_from is None or known_from > need.start:
            return need.start
        tail = last or need.start
        quote = records.quotes[ticker]
        if need.end is None:
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
        if last == last_wanted.date() and not self._bar_is_final(quote, exchange, last_wanted.date()):
            return tail  # that day's bar was cached mid-session: its close is not the day's close
        return None

    def _bar_is_final(self, quote: Quote | None, exchange: str, session: dt.date) -> bool:
        """True if the cached bar of `session` was fetched after that session closed and settled.

        Bars and quote are written together, so the quote's fetch time is when the last bar was taken.
        """
        if quote is None:
            return False
        try:
            return self.clock.last_completed_session(exchange, quote.fetched_at) >= session
        except ValueError:  # fetched before any session of the calendar completed
            return False


@dataclass(frozen=True)
class _Records:
    """What the planner reads of the cache for some tickers, read together."""

    tails: Mapping[str, tuple[bool, dt.date | None]]
    starts: Mapping[str, dt.date | None]
    quotes: Mapping[str, Quote | None]


def merge_needs(per_portfolio: Iterable[Mapping[str, Need]]) -> dict[str, Need]:
    """One need per ticker across portfolios: the earliest start, and a quote if any portfolio holds it."""
    merged: dict[str, Need] = {}
    for needs in per_portfolio:
        for ticker, need in needs.items():
            known = merged.get(ticker)
            if known is None:
                merged[ticker] = need
            else:
                end = None if known.end is None or need.end is None else max(known.end, need.end)
                merged[ticker] = Need(min(known.start, need.start), end)
    return merged
