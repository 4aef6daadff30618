"""Market sessions and the freshness of a price: `MarketClock` answers from the calendars (no dash, no I/O).

The calendar facts (which exchange a ticker trades on, each exchange's sessions as sorted UTC lists built once)
are in services/market_calendar.py; here they are bisected, because `status` runs for hundreds of tickers on
every page load.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from exchange_calendars import ExchangeCalendar

from services.market_calendar import (
    CALENDAR_SPAN,
    DEFAULT_EXCHANGE,
    EXCHANGE_BY_SUFFIX,
    Schedule,
    build_schedule,
    exchange_for,
    to_utc,
)
from services.models import PriceStatus

# The calendar facts stay importable from here, where callers have always found them.
__all__ = ["DEFAULT_EXCHANGE", "EXCHANGE_BY_SUFFIX", "MarketClock", "MarketState", "exchange_for"]


@dataclass(frozen=True)
class MarketState:
    """Whether an exchange is trading at a moment, and its neighbouring opens and closes (all UTC)."""

    exchange: str
    is_open: bool
    next_open: datetime
    next_close: datetime  # close of the current session if open (or at a lunch break), else of the next
    last_close: datetime  # the most recent session close at or before the moment

    def to_json(self) -> dict:
        return {
            "exchange": self.exchange,
            "is_open": self.is_open,
            "next_open": self.next_open.isoformat(),
            "last_close": self.last_close.isoformat(),
            "next_close": self.next_close.isoformat(),  # an addition to the documented keys
        }


class MarketClock:
    """Session state and price freshness for every exchange, with one cached calendar per exchange.

    `now` is injected so tests freeze time; everything returned is a UTC-aware datetime.
    """

    def __init__(
        self,
        quote_ttl: timedelta = timedelta(minutes=5),
        settle: timedelta = timedelta(minutes=15),
        now: Callable[[], datetime] | None = None,
        history_start: date = date(2000, 1, 1),
    ):
        self.quote_ttl = quote_ttl
        # Yahoo keeps revising the last price for a few minutes after the bell (closing auction), so the
        # close is only trusted `settle` after it.
        self.settle = settle
        self.history_start = history_start
        self._now = now or (lambda: datetime.now(UTC))
        self._schedules: dict[str, Schedule] = {}
        self._locks: dict[str, threading.Lock] = {}

    def now(self) -> datetime:
        """The current time, UTC-aware (from the injected clock when there is one)."""
        return to_utc(self._now())

    def calendar(self, exchange: str) -> ExchangeCalendar:
        """The exchange's calendar from `history_start`, rebuilt before its data runs out."""
        return self._schedule(exchange, self.now()).calendar

    def _schedule(self, exchange: str, needed: datetime) -> Schedule:
        schedule = self._schedules.get(exchange)
        if schedule is not None and needed < schedule.rebuild_at:
            return schedule
        # One lock per exchange: a slow build (XKRX takes seconds) must not hold up other exchanges.
        with self._locks.setdefault(exchange, threading.Lock()):
            schedule = self._schedules.get(exchange)
            if schedule is None or needed >= schedule.rebuild_at:  # not rebuilt while we waited
                end = (max(needed, self.now()) + CALENDAR_SPAN).date()
                schedule = self._schedules[exchange] = build_schedule(exchange, self.history_start, end)
        return schedule

    def state(self, exchange: str, at: datetime | None = None) -> MarketState:
        """Whether `exchange` trades at `at` (default now), with its next open/close and last close.

        Raises ValueError when `at` is outside the calendar's data (before `history_start`, or past the
        last year a calendar like XSES records).
        """
        moment = self.now() if at is None else to_utc(at)
        schedule = self._schedule(exchange, moment)
        interval = bisect_right(schedule.trade_ends, moment)  # first trading interval ending after moment
        session = bisect_right(schedule.closes, moment)  # first session closing after moment
        if session == 0 or interval + 1 >= len(schedule.trade_starts):
            raise ValueError(f"{exchange}: {moment.isoformat()} is outside the calendar's data")
        is_open = schedule.trade_starts[interval] <= moment
        return MarketState(
            exchange=exchange,
            is_open=is_open,
            next_open=schedule.trade_starts[interval + 1 if is_open else interval],
            next_close=schedule.closes[session],
            last_close=schedule.closes[session - 1],
        )

    def fresh_until(self, ticker: str, fetched_at: datetime) -> datetime:
        """When a quote of `ticker` fetched at `fetched_at` stops being fresh (UTC)."""
        fetched = to_utc(fetched_at)
        return self._fresh_until(self._schedule(exchange_for(ticker), fetched), fetched)

    def _fresh_until(self, schedule: Schedule, fetched: datetime) -> datetime:
        interval = bisect_right(schedule.trade_ends, fetched)
        if interval == len(schedule.trade_starts):
            # Past the calendar's data (see market_calendar._build_calendar): no next open to wait for, so plain TTL.
            return fetched + self.quote_ttl
        if schedule.trade_starts[interval] <= fetched:  # fetched while trading
            return min(fetched + self.quote_ttl, schedule.trade_ends[interval] + self.settle)
        if interval > 0 and fetched < schedule.trade_ends[interval - 1] + self.settle:
            # In the settle window after a close: the closing price may still move.
            return min(fetched + self.quote_ttl, schedule.trade_ends[interval - 1] + self.settle)
        # Fetched while closed and settled (overnight, weekend, holiday, pre-market): good until the open.
        return schedule.trade_starts[interval]

    def status(self, ticker: str, fetched_at: datetime | None, at: datetime | None = None) -> PriceStatus:
        """`missing`, `fresh` (in its window, market open), `market_closed` (in its window) or `stale`."""
        if fetched_at is None:
            return "missing"
        moment = self.now() if at is None else to_utc(at)
        fetched = to_utc(fetched_at)
        schedule = self._schedule(exchange_for(ticker), max(moment, fetched))
        if moment >= self._fresh_until(schedule, fetched):
            return "stale"
        interval = bisect_right(schedule.trade_ends, moment)
        # Past the calendar's data we cannot say the market is closed; a quote within its TTL is "fresh".
        is_open = interval == len(schedule.trade_starts) or schedule.trade_starts[interval] <= moment
        return "fresh" if is_open else "market_closed"

    def sessions(self, exchange: str, start: date, end: date) -> pd.DatetimeIndex:
        """Session dates from `start` to `end` inclusive (tz-naive), clipped to the calendar's bounds."""
        calendar = self.calendar(exchange)
        start = max(start, calendar.first_session.date())
        end = min(end, calendar.last_session.date())
        if start > end:
            return calendar.sessions[:0]
        return calendar.sessions_in_range(start, end)

    def last_completed_session(self, exchange: str, at: datetime | None = None) -> date:
        """The latest session whose close + settle is at or before `at` (default now)."""
        moment = self.now() if at is None else to_utc(at)
        schedule = self._schedule(exchange, moment)
        session = bisect_right(schedule.closes, moment - self.settle)
        if session == 0:
            raise ValueError(f"{exchange}: no session completed by {moment.isoformat()}")
        return schedule.sessions[session - 1]

    def latest_session(self, exchange: str, at: datetime | None = None) -> date:
        """The latest session opened by `at` (default now): the one in progress, or else the last one closed.

        What exchange_calendars' minute_to_session(direction="previous") answers, without the calendar's index of
        every trading minute that it builds first (~40 MB per exchange over 25 years).
        """
        moment = self.now() if at is None else to_utc(at)
        schedule = self._schedule(exchange, moment)
        session = bisect_right(schedule.opens, moment)
        if session == 0:
            raise ValueError(f"{exchange}: no session opened by {moment.isoformat()}")
        return schedule.sessions[session - 1]

    def current_session(self, exchange: str, at: datetime | None = None) -> date | None:
        """The session in progress at `at` (open <= at < close, lunch breaks included), else None."""
        moment = self.now() if at is None else to_utc(at)
        schedule = self._schedule(exchange, moment)
        session = bisect_right(schedule.closes, moment)
        if session < len(schedule.opens) and schedule.opens[session] <= moment:
            return schedule.sessions[session]
        return None
