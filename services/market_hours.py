"""Market sessions and the freshness of a price, from `exchange_calendars` (no dash, no I/O).

Hours, holidays, early closes and lunch breaks all come from the exchange's calendar, never from a
hand-written rule. Lookups are bisections over per-exchange lists of UTC datetimes built once, because
`status` runs for hundreds of tickers on every page load.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import exchange_calendars as xcals
import pandas as pd
from exchange_calendars import ExchangeCalendar

from services.models import PriceStatus

DEFAULT_EXCHANGE = "XNYS"

# Yahoo Finance ticker suffix -> exchange_calendars code (every code is checked by the tests to build).
# Left out on purpose: .AT (ASEX) and .TA (XTAE), whose calendars fail to build on pandas 3 in
# exchange_calendars 4.13.2; markets with no calendar at all fall back to DEFAULT_EXCHANGE.
EXCHANGE_BY_SUFFIX: dict[str, str] = {
    # Americas
    ".TO": "XTSE",
    ".V": "XTSE",  # TSX Venture has no calendar of its own; it keeps the TSX's hours and holidays
    ".NE": "XTSE",  # Cboe Canada (NEO), same hours and holidays as the TSX
    ".CN": "XTSE",  # Canadian Securities Exchange, likewise
    ".MX": "XMEX",
    ".SA": "BVMF",
    ".BA": "XBUE",
    ".SN": "XSGO",
    # Europe
    ".L": "XLON",
    ".IL": "XLON",  # London international order book
    ".DE": "XETR",  # Yahoo's .DE is Xetra, not the Frankfurt floor (.F)
    ".F": "XFRA",
    ".DU": "XDUS",
    ".HM": "XHAM",
    ".SG": "XSTU",  # Stuttgart
    ".PA": "XPAR",
    ".AS": "XAMS",
    ".BR": "XBRU",
    ".LS": "XLIS",
    ".IR": "XDUB",
    ".SW": "XSWX",
    ".MI": "XMIL",
    ".MC": "XMAD",
    ".VI": "XWBO",
    ".ST": "XSTO",
    ".CO": "XCSE",
    ".OL": "XOSL",
    ".HE": "XHEL",
    ".IC": "XICE",
    ".TL": "XTAL",
    ".RG": "XRIS",
    ".VS": "XLIT",
    ".WA": "XWAR",
    ".PR": "XPRA",
    ".BD": "XBUD",
    ".IS": "XIST",
    ".ME": "XMOS",
    # Africa, Middle East
    ".JO": "XJSE",
    ".SR": "XSAU",
    # Asia-Pacific
    ".T": "XTKS",
    ".HK": "XHKG",
    ".SS": "XSHG",
    ".SZ": "XSHG",  # Shenzhen has no calendar; it shares Shanghai's hours and holidays
    ".TW": "XTAI",
    ".TWO": "XTAI",  # Taipei Exchange (OTC), same sessions as TWSE
    ".KS": "XKRX",
    ".KQ": "XKRX",  # KOSDAQ is run by KRX on the same sessions
    ".SI": "XSES",
    ".BO": "XBOM",
    ".NS": "XBOM",  # NSE has no calendar; it shares BSE's hours and holidays
    ".JK": "XIDX",
    ".KL": "XKLS",
    ".BK": "XBKK",
    ".PS": "XPHS",
    ".AX": "XASX",
    ".NZ": "XNZE",
}

# Rebuild a calendar this long before its data runs out: queries past a calendar's last session raise.
REBUILD_MARGIN = timedelta(days=30)
CALENDAR_SPAN = timedelta(days=366)  # how far past "now" a (re)built calendar reaches
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)


def exchange_for(ticker: str) -> str:
    """The calendar code of a Yahoo ticker: its suffix after the last '.' decides, else DEFAULT_EXCHANGE.

    Tickers without a known suffix (`BRK-B`, indices like `^GSPC`, currencies like `EURUSD=X`) use XNYS.
    """
    base, dot, suffix = ticker.strip().upper().rpartition(".")
    if not dot or not base:
        return DEFAULT_EXCHANGE
    return EXCHANGE_BY_SUFFIX.get("." + suffix, DEFAULT_EXCHANGE)


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already (how the cache stores times)."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


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
            "next_close": self.next_close.isoformat(),  # an addition to DESIGN.md's keys
        }


@dataclass(frozen=True)
class _Schedule:
    """One exchange's calendar flattened into sorted UTC lists, so each lookup is a bisection."""

    calendar: ExchangeCalendar
    sessions: list[date]
    opens: list[datetime]
    closes: list[datetime]
    trade_starts: list[datetime]  # trading intervals: a lunch break splits a session in two
    trade_ends: list[datetime]
    rebuild_at: datetime  # rebuild once "now" (or a queried moment) reaches this


def _datetimes(column: pd.Series) -> list[datetime | None]:
    # Integer microseconds rebuilt on datetime.UTC: comparisons between datetimes sharing that one tzinfo
    # object skip utcoffset() calls, which keeps bisect fast.
    index = pd.DatetimeIndex(column).as_unit("us")
    return [
        None if missing else _EPOCH + timedelta(microseconds=int(micros))
        for micros, missing in zip(index.asi8, index.isna(), strict=True)
    ]


def _build_calendar(exchange: str, start: date, end: date) -> tuple[ExchangeCalendar, bool]:
    """The calendar for [start, end] clipped to what exchange_calendars knows; True if the end was clipped."""
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    try:
        return xcals.get_calendar(exchange, start=first, end=last), False
    except ValueError:
        # Some calendars only record holidays for a span of years (XSES, XSHG and XBOM stop at 2026-12-31;
        # XSAU starts in 2021) and refuse anything outside it. Their default instance is built within
        # those bounds, which is how we learn them without reaching into xcals internals.
        kind = type(xcals.get_calendar(exchange))
        low, high = kind.bound_min(), kind.bound_max()
        clipped = high is not None and high < last
        first = max(first, low) if low is not None else first
        last = min(last, high) if high is not None else last
        return xcals.get_calendar(exchange, start=first, end=last), clipped


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
        self._schedules: dict[str, _Schedule] = {}
        self._locks: dict[str, threading.Lock] = {}

    def now(self) -> datetime:
        """The current time, UTC-aware (from the injected clock when there is one)."""
        return _utc(self._now())

    def calendar(self, exchange: str) -> ExchangeCalendar:
        """The exchange's calendar from `history_start`, rebuilt before its data runs out."""
        return self._schedule(exchange, self.now()).calendar

    def _schedule(self, exchange: str, needed: datetime) -> _Schedule:
        schedule = self._schedules.get(exchange)
        if schedule is not None and needed < schedule.rebuild_at:
            return schedule
        # One lock per exchange: a slow build (XKRX takes seconds) must not hold up other exchanges.
        with self._locks.setdefault(exchange, threading.Lock()):
            schedule = self._schedules.get(exchange)
            if schedule is None or needed >= schedule.rebuild_at:  # not rebuilt while we waited
                schedule = self._schedules[exchange] = self._build(exchange, needed)
        return schedule

    def _build(self, exchange: str, needed: datetime) -> _Schedule:
        end = (max(needed, self.now()) + CALENDAR_SPAN).date()
        calendar, clipped = _build_calendar(exchange, self.history_start, end)
        frame = calendar.schedule
        opens, closes = _datetimes(frame["open"]), _datetimes(frame["close"])
        trade_starts, trade_ends = opens, closes
        if calendar.has_break:
            trade_starts, trade_ends = [], []
            breaks = zip(_datetimes(frame["break_start"]), _datetimes(frame["break_end"]), strict=True)
            for open_, close, (break_start, break_end) in zip(opens, closes, breaks, strict=True):
                if break_start is None or break_end is None:  # e.g. a half day with no lunch break
                    trade_starts.append(open_)
                    trade_ends.append(close)
                else:
                    trade_starts += [open_, break_end]
                    trade_ends += [break_start, close]
        return _Schedule(
            calendar=calendar,
            sessions=list(frame.index.date),
            opens=opens,
            closes=closes,
            trade_starts=trade_starts,
            trade_ends=trade_ends,
            # A clipped calendar cannot be extended: rebuilding it would only repeat the same work.
            rebuild_at=_NEVER if clipped else closes[-1] - REBUILD_MARGIN,
        )

    def state(self, exchange: str, at: datetime | None = None) -> MarketState:
        """Whether `exchange` trades at `at` (default now), with its next open/close and last close.

        Raises ValueError when `at` is outside the calendar's data (before `history_start`, or past the
        last year a calendar like XSES records).
        """
        moment = self.now() if at is None else _utc(at)
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
        fetched = _utc(fetched_at)
        return self._fresh_until(self._schedule(exchange_for(ticker), fetched), fetched)

    def _fresh_until(self, schedule: _Schedule, fetched: datetime) -> datetime:
        interval = bisect_right(schedule.trade_ends, fetched)
        if interval == len(schedule.trade_starts):
            # Past the calendar's data (see _build_calendar): no next open to wait for, so plain TTL.
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
        moment = self.now() if at is None else _utc(at)
        fetched = _utc(fetched_at)
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
        moment = self.now() if at is None else _utc(at)
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
        moment = self.now() if at is None else _utc(at)
        schedule = self._schedule(exchange, moment)
        session = bisect_right(schedule.opens, moment)
        if session == 0:
            raise ValueError(f"{exchange}: no session opened by {moment.isoformat()}")
        return schedule.sessions[session - 1]

    def current_session(self, exchange: str, at: datetime | None = None) -> date | None:
        """The session in progress at `at` (open <= at < close, lunch breaks included), else None."""
        moment = self.now() if at is None else _utc(at)
        schedule = self._schedule(exchange, moment)
        session = bisect_right(schedule.closes, moment)
        if session < len(schedule.opens) and schedule.opens[session] <= moment:
            return schedule.sessions[session]
        return None
