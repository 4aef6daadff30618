"""Exchange calendars as facts: which exchange a ticker trades on, and its sessions as sorted UTC lists.

From `exchange_calendars`: hours, holidays, early closes and lunch breaks all come from the exchange's calendar,
never from a hand-written rule. A `Schedule` is one calendar flattened once into lists that `MarketClock`
(services/market_hours.py) bisects, because it answers for hundreds of tickers on every page load. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
from exchange_calendars import ExchangeCalendar

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
NEVER = datetime.max.replace(tzinfo=UTC)


FX_EXCHANGE = "24/5"  # exchange-rate pairs


def exchange_for(ticker: str) -> str:
    """The calendar code of a Yahoo ticker: its suffix after the last '.' decides, else DEFAULT_EXCHANGE.

    Exchange-rate pairs (`EURUSD=X`, `JPY=X`) trade around the clock on weekdays: exchange_calendars' `24/5`
    (their quotes keep moving after New York's close, and they have bars on US holidays). Other tickers without a
    known suffix (`BRK-B`, indices like `^GSPC`) use XNYS.
    """
    if ticker.strip().upper().endswith("=X"):
        return FX_EXCHANGE
    base, dot, suffix = ticker.strip().upper().rpartition(".")
    if not dot or not base:
        return DEFAULT_EXCHANGE
    return EXCHANGE_BY_SUFFIX.get("." + suffix, DEFAULT_EXCHANGE)


@lru_cache(maxsize=128)
def exchange_zone(exchange: str) -> ZoneInfo:
    """The time zone an exchange's dates are in (America/New_York for XNYS; UTC for the 24/5 FX calendar).

    Read from the calendar's class, where exchange_calendars keeps it: building a calendar takes 0.1-1 s, and twenty
    cold page loads each building the same ones at once held a cache-only answer for 9 s.
    """
    from exchange_calendars.calendar_utils import _default_calendar_factories  # private: read, never changed

    factory = _default_calendar_factories.get(exchange)
    zone = getattr(factory, "tz", None)
    if not isinstance(zone, ZoneInfo):  # not a plain class attribute in this version: build the calendar once
        zone = xcals.get_calendar(exchange).tz
    return ZoneInfo(str(zone))


def exchange_date(ticker: str, moment: datetime | None = None) -> date:
    """The date at the ticker's exchange at `moment` (UTC; default now): "today" for that instrument.

    At 23:30 UTC it is already tomorrow in Tokyo but still today in New York; a trade, a day change and a "future
    date" are all judged by the exchange's own calendar day, never the server's.
    """
    moment = to_utc(moment) if moment is not None else datetime.now(UTC)
    return moment.astimezone(exchange_zone(exchange_for(ticker))).date()


def to_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already (how the cache stores times)."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
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


def build_schedule(exchange: str, start: date, end: date) -> Schedule:
    """The exchange's sessions from `start` to `end` (clipped to what its calendar records), ready to bisect."""
    calendar, clipped = _build_calendar(exchange, start, end)
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
    return Schedule(
        calendar=calendar,
        sessions=list(frame.index.date),
        opens=opens,
        closes=closes,
        trade_starts=trade_starts,
        trade_ends=trade_ends,
        # A clipped calendar cannot be extended: rebuilding it would only repeat the same work.
        rebuild_at=NEVER if clipped else closes[-1] - REBUILD_MARGIN,
    )
