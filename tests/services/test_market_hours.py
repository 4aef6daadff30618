"""Tests for services.market_hours: hand-computed session times, time frozen through `now=`, no network (which
exchange a ticker trades on, and the schedules, are in test_market_calendar.py).

Reference hours (UTC): XNYS 13:30-20:00 in summer (EDT), 14:30-21:00 in winter (EST), early closes at 13:00
New York time; XLON 07:00-15:30 in summer (BST), 08:00-16:30 in winter; XTKS 00:00-02:30 and 03:30-06:30.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from services.market_calendar import DEFAULT_EXCHANGE, EXCHANGE_BY_SUFFIX
from services.market_hours import MarketClock, MarketState

# exchange_calendars 4.13.2 trips pandas 3 deprecations while it builds calendars; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:exchange_calendars"),
    pytest.mark.filterwarnings("ignore:Series.values returning an ndarray:pandas.errors.Pandas4Warning"),
]

NEW_YORK = ZoneInfo("America/New_York")
FROZEN_NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    """'2025-06-03 15:00' -> that minute in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def clock() -> MarketClock:
    """Default TTL (5 min) and settle (15 min)."""
    # Shared across the module so each calendar is built once; a short history keeps the builds fast.
    return MarketClock(now=lambda: FROZEN_NOW, history_start=date(2024, 1, 1))


class MutableNow:
    """A clock the test moves by hand."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


# ------------------------------------------------------------------------------------- every mapped exchange


@pytest.mark.parametrize("exchange", sorted(set(EXCHANGE_BY_SUFFIX.values()) | {DEFAULT_EXCHANGE}))
def test_every_mapped_exchange_builds_and_answers(clock, exchange):
    state = clock.state(exchange, utc("2025-06-04 08:00"))
    assert state.last_close <= utc("2025-06-04 08:00") < state.next_close
    assert state.next_open > utc("2025-06-04 08:00")


# --------------------------------------------------------------------------------------------------- state


@pytest.mark.parametrize(
    "exchange,at,is_open,next_open,next_close,last_close",
    [
        # A regular Tuesday in summer.
        ("XNYS", "2025-06-03 15:00", True, "2025-06-04 13:30", "2025-06-03 20:00", "2025-06-02 20:00"),
        ("XNYS", "2025-06-03 13:30", True, "2025-06-04 13:30", "2025-06-03 20:00", "2025-06-02 20:00"),
        ("XNYS", "2025-06-03 13:29", False, "2025-06-03 13:30", "2025-06-03 20:00", "2025-06-02 20:00"),
        ("XNYS", "2025-06-03 19:59", True, "2025-06-04 13:30", "2025-06-03 20:00", "2025-06-02 20:00"),
        ("XNYS", "2025-06-03 20:00", False, "2025-06-04 13:30", "2025-06-04 20:00", "2025-06-03 20:00"),
        # Weekend: Friday's close until Monday's open.
        ("XNYS", "2025-06-07 12:00", False, "2025-06-09 13:30", "2025-06-09 20:00", "2025-06-06 20:00"),
        ("XNYS", "2025-06-08 23:59", False, "2025-06-09 13:30", "2025-06-09 20:00", "2025-06-06 20:00"),
        # Independence Day (Fri), after the 13:00 ET early close of Thursday 3 July.
        ("XNYS", "2025-07-04 15:00", False, "2025-07-07 13:30", "2025-07-07 20:00", "2025-07-03 17:00"),
        ("XNYS", "2025-07-03 16:59", True, "2025-07-07 13:30", "2025-07-03 17:00", "2025-07-02 20:00"),
        ("XNYS", "2025-07-03 17:00", False, "2025-07-07 13:30", "2025-07-07 20:00", "2025-07-03 17:00"),
        # Thanksgiving, then Black Friday's 13:00 EST (18:00 UTC) early close; winter hours after DST ended.
        ("XNYS", "2025-11-27 16:00", False, "2025-11-28 14:30", "2025-11-28 18:00", "2025-11-26 21:00"),
        ("XNYS", "2025-11-28 17:59", True, "2025-12-01 14:30", "2025-11-28 18:00", "2025-11-26 21:00"),
        ("XNYS", "2025-11-28 18:00", False, "2025-12-01 14:30", "2025-12-01 21:00", "2025-11-28 18:00"),
        # Christmas: Christmas Eve closed early at 18:00 UTC, the 26th is a normal day.
        ("XNYS", "2025-12-25 15:00", False, "2025-12-26 14:30", "2025-12-26 21:00", "2025-12-24 18:00"),
        # First Monday after DST ended (2 Nov): 14:00 UTC is before the 14:30 UTC open.
        ("XNYS", "2025-11-03 14:00", False, "2025-11-03 14:30", "2025-11-03 21:00", "2025-10-31 20:00"),
        # London: 08:00-16:30 local, BST in summer.
        ("XLON", "2025-06-03 07:00", True, "2025-06-04 07:00", "2025-06-03 15:30", "2025-06-02 15:30"),
        ("XLON", "2025-06-03 06:59", False, "2025-06-03 07:00", "2025-06-03 15:30", "2025-06-02 15:30"),
        ("XLON", "2025-06-03 15:30", False, "2025-06-04 07:00", "2025-06-04 15:30", "2025-06-03 15:30"),
        # Summer bank holiday (Mon 25 Aug) in London while New York trades.
        ("XLON", "2025-08-25 14:00", False, "2025-08-26 07:00", "2025-08-26 15:30", "2025-08-22 15:30"),
        ("XNYS", "2025-08-25 14:00", True, "2025-08-26 13:30", "2025-08-25 20:00", "2025-08-22 20:00"),
        # London's Christmas Eve closes at 12:30; 25, 26 Dec are holidays, 27-28 a weekend.
        ("XLON", "2025-12-24 13:00", False, "2025-12-29 08:00", "2025-12-29 16:30", "2025-12-24 12:30"),
        # Tokyo's lunch break: not open, reopens at 03:30 UTC, the session still closes at 06:30.
        ("XTKS", "2025-06-03 01:00", True, "2025-06-03 03:30", "2025-06-03 06:30", "2025-06-02 06:30"),
        ("XTKS", "2025-06-03 03:00", False, "2025-06-03 03:30", "2025-06-03 06:30", "2025-06-02 06:30"),
        ("XTKS", "2025-06-03 04:00", True, "2025-06-04 00:00", "2025-06-03 06:30", "2025-06-02 06:30"),
    ],
)
def test_state(clock, exchange, at, is_open, next_open, next_close, last_close):
    assert clock.state(exchange, utc(at)) == MarketState(
        exchange=exchange,
        is_open=is_open,
        next_open=utc(next_open),
        next_close=utc(next_close),
        last_close=utc(last_close),
    )


def test_state_accepts_any_timezone_and_defaults_to_now():
    clock = MarketClock(now=lambda: utc("2025-06-03 15:00"), history_start=date(2024, 1, 1))
    in_new_york = datetime(2025, 6, 3, 11, 0, tzinfo=NEW_YORK)  # 15:00 UTC
    assert clock.state("XNYS", in_new_york) == clock.state("XNYS")
    assert clock.state("XNYS") == clock.state("XNYS", utc("2025-06-03 15:00"))
    assert clock.state("XNYS").is_open is True
    # A naive datetime is read as UTC: 11:00 UTC is pre-market.
    assert clock.state("XNYS", datetime(2025, 6, 3, 11, 0)).is_open is False


def test_state_returns_utc_datetimes_and_json(clock):
    state = clock.state("XNYS", utc("2025-07-04 15:00"))
    assert state.next_open.tzinfo is UTC and state.last_close.tzinfo is UTC
    assert state.to_json() == {
        "exchange": "XNYS",
        "is_open": False,
        "next_open": "2025-07-07T13:30:00+00:00",
        "last_close": "2025-07-03T17:00:00+00:00",
        "next_close": "2025-07-07T20:00:00+00:00",  # Monday's regular 16:00 EDT close
    }


def test_state_before_the_calendar_raises(clock):
    with pytest.raises(ValueError, match="outside the calendar"):
        clock.state("XNYS", utc("2023-12-30 12:00"))


# ------------------------------------------------------------------------------------- fresh_until / status


@pytest.mark.parametrize(
    "ticker,fetched_at,ttl_minutes,expected",
    [
        # Mid-session: the TTL.
        ("AAPL", "2025-06-03 15:00", 5, "2025-06-03 15:05"),
        # Two minutes before the close: the TTL still ends first (20:03 < 20:15)...
        ("AAPL", "2025-06-03 19:58", 5, "2025-06-03 20:03"),
        # ...unless the TTL is long, then close + settle caps it.
        ("AAPL", "2025-06-03 19:58", 30, "2025-06-03 20:15"),
        # In the settle window after the close: the earlier of TTL and close + settle.
        ("AAPL", "2025-06-03 20:00", 5, "2025-06-03 20:05"),
        ("AAPL", "2025-06-03 20:12", 5, "2025-06-03 20:15"),
        # Settled: good until the next open.
        ("AAPL", "2025-06-03 20:15", 5, "2025-06-04 13:30"),
        ("AAPL", "2025-06-03 23:00", 5, "2025-06-04 13:30"),
        # Pre-market: until that morning's open.
        ("AAPL", "2025-06-03 12:00", 5, "2025-06-03 13:30"),
        ("AAPL", "2025-06-03 13:29", 5, "2025-06-03 13:30"),
        # Friday evening and the weekend: until Monday's open.
        ("AAPL", "2025-06-06 20:30", 5, "2025-06-09 13:30"),
        ("AAPL", "2025-06-07 10:00", 5, "2025-06-09 13:30"),
        # Early close (13:00 ET = 17:00 UTC) on 3 July, then the 4 July holiday and a weekend.
        ("AAPL", "2025-07-03 16:58", 5, "2025-07-03 17:03"),
        ("AAPL", "2025-07-03 17:10", 5, "2025-07-03 17:15"),
        ("AAPL", "2025-07-03 17:30", 5, "2025-07-07 13:30"),
        # Evenings before holidays: until the open after the holiday.
        ("AAPL", "2025-11-26 23:00", 5, "2025-11-28 14:30"),
        ("AAPL", "2025-12-24 20:00", 5, "2025-12-26 14:30"),
        # London, across the summer bank holiday.
        ("VOD.L", "2025-06-03 10:00", 5, "2025-06-03 10:05"),
        ("VOD.L", "2025-08-22 16:00", 5, "2025-08-26 07:00"),
        # Tokyo: the lunch break closes the market like a short night.
        ("7203.T", "2025-06-03 02:28", 5, "2025-06-03 02:33"),
        ("7203.T", "2025-06-03 02:40", 5, "2025-06-03 02:45"),
        ("7203.T", "2025-06-03 03:00", 5, "2025-06-03 03:30"),
    ],
)
def test_fresh_until(clock, ticker, fetched_at, ttl_minutes, expected):
    if ttl_minutes != 5:
        clock = MarketClock(
            quote_ttl=timedelta(minutes=ttl_minutes), now=lambda: FROZEN_NOW, history_start=date(2024, 1, 1)
        )
    assert clock.fresh_until(ticker, utc(fetched_at)) == utc(expected)


def test_fresh_until_reads_other_timezones_and_naive_as_utc(clock):
    friday_evening_new_york = datetime(2025, 6, 6, 16, 30, tzinfo=NEW_YORK)  # 20:30 UTC
    assert clock.fresh_until("AAPL", friday_evening_new_york) == utc("2025-06-09 13:30")
    assert clock.fresh_until("AAPL", datetime(2025, 6, 3, 15, 0)) == utc("2025-06-03 15:05")


@pytest.mark.parametrize(
    "ticker,fetched_at,at,expected",
    [
        # Mid-session, 5-minute TTL.
        ("AAPL", "2025-06-03 15:00", "2025-06-03 15:00", "fresh"),
        ("AAPL", "2025-06-03 15:00", "2025-06-03 15:04", "fresh"),
        ("AAPL", "2025-06-03 15:00", "2025-06-03 15:05", "stale"),
        ("AAPL", "2025-06-03 15:00", "2025-06-03 18:00", "stale"),
        # Fetched just before the close: inside its window after the bell, so "market_closed", then stale.
        ("AAPL", "2025-06-03 19:58", "2025-06-03 19:59", "fresh"),
        ("AAPL", "2025-06-03 19:58", "2025-06-03 20:01", "market_closed"),
        ("AAPL", "2025-06-03 19:58", "2025-06-03 20:04", "stale"),
        # Friday after close + settle: market_closed all weekend, stale once Monday opens.
        ("AAPL", "2025-06-06 20:30", "2025-06-07 12:00", "market_closed"),
        ("AAPL", "2025-06-06 20:30", "2025-06-08 23:00", "market_closed"),
        ("AAPL", "2025-06-06 20:30", "2025-06-09 13:29", "market_closed"),
        ("AAPL", "2025-06-06 20:30", "2025-06-09 13:30", "stale"),
        ("AAPL", "2025-06-06 20:30", "2025-06-09 15:00", "stale"),
        # After the 3 July early close: through the holiday and the weekend.
        ("AAPL", "2025-07-03 17:30", "2025-07-04 15:00", "market_closed"),
        ("AAPL", "2025-07-03 17:30", "2025-07-07 13:29", "market_closed"),
        ("AAPL", "2025-07-03 17:30", "2025-07-07 13:31", "stale"),
        # Evening before Thanksgiving.
        ("AAPL", "2025-11-26 23:00", "2025-11-27 18:00", "market_closed"),
        ("AAPL", "2025-11-26 23:00", "2025-11-28 14:30", "stale"),
        # Pre-market.
        ("AAPL", "2025-06-03 12:00", "2025-06-03 13:00", "market_closed"),
        ("AAPL", "2025-06-03 12:00", "2025-06-03 13:30", "stale"),
        # London holiday while New York trades: each ticker follows its own exchange.
        ("VOD.L", "2025-08-22 16:00", "2025-08-25 14:00", "market_closed"),
        ("AAPL", "2025-08-25 13:58", "2025-08-25 14:00", "fresh"),
        ("VOD.L", "2025-08-26 07:10", "2025-08-26 07:12", "fresh"),
        # Never fetched.
        ("AAPL", None, "2025-06-03 15:00", "missing"),
        ("VOD.L", None, "2025-06-07 12:00", "missing"),
    ],
)
def test_status(clock, ticker, fetched_at, at, expected):
    fetched = None if fetched_at is None else utc(fetched_at)
    assert clock.status(ticker, fetched, utc(at)) == expected


def test_status_defaults_to_the_injected_now():
    now = MutableNow(utc("2025-06-07 12:00"))
    clock = MarketClock(now=now, history_start=date(2024, 1, 1))
    fetched = utc("2025-06-06 20:30")
    assert clock.status("AAPL", fetched) == "market_closed"
    now.moment = utc("2025-06-09 14:00")
    assert clock.status("AAPL", fetched) == "stale"


def test_status_is_fast_for_hundreds_of_tickers(clock):
    tickers = ["AAPL", "MSFT", "VOD.L", "SHOP.TO", "7203.T", "SAP.DE", "BRK-B", "^GSPC"] * 63
    fetched, at = utc("2025-06-06 20:30"), utc("2025-06-07 12:00")
    clock.status("AAPL", fetched, at)  # warm up: builds happen once, not per call
    for ticker in set(tickers):
        clock.status(ticker, fetched, at)
    started = time.perf_counter()
    for ticker in tickers[:500]:
        clock.status(ticker, fetched, at)
    elapsed = time.perf_counter() - started
    # Measured at about 1-2 ms; the bound is loose so a busy CI machine does not flake.
    assert elapsed < 0.05, f"500 status() calls took {elapsed * 1000:.1f} ms"


# ------------------------------------------------------------------------------------------------ sessions


@pytest.mark.parametrize(
    "exchange,start,end,expected",
    [
        ("XNYS", "2025-07-01", "2025-07-08", ["2025-07-01", "2025-07-02", "2025-07-03", "2025-07-07",
                                              "2025-07-08"]),
        ("XNYS", "2025-11-26", "2025-12-01", ["2025-11-26", "2025-11-28", "2025-12-01"]),
        ("XNYS", "2025-12-24", "2025-12-26", ["2025-12-24", "2025-12-26"]),
        ("XNYS", "2025-07-04", "2025-07-06", []),
        ("XLON", "2025-08-21", "2025-08-27", ["2025-08-21", "2025-08-22", "2025-08-26", "2025-08-27"]),
        ("XNYS", "2025-07-08", "2025-07-01", []),
        # Clipped to the calendar's first session (history_start is 2024-01-01, a holiday).
        ("XNYS", "2023-12-20", "2024-01-03", ["2024-01-02", "2024-01-03"]),
    ],
)
def test_sessions(clock, exchange, start, end, expected):
    sessions = clock.sessions(exchange, date.fromisoformat(start), date.fromisoformat(end))
    assert isinstance(sessions, pd.DatetimeIndex)
    assert sessions.tz is None
    assert [day.date().isoformat() for day in sessions] == expected


def test_sessions_are_clipped_to_the_calendars_end(clock):
    last = clock.calendar("XNYS").last_session
    sessions = clock.sessions("XNYS", date(2025, 12, 29), date(2099, 1, 1))
    assert sessions[-1] == last
    assert sessions[0] == pd.Timestamp("2025-12-29")


@pytest.mark.parametrize(
    "exchange,at,expected",
    [
        ("XNYS", "2025-06-03 20:14", "2025-06-02"),  # today's close has not settled yet
        ("XNYS", "2025-06-03 20:15", "2025-06-03"),
        ("XNYS", "2025-06-03 15:00", "2025-06-02"),
        ("XNYS", "2025-07-03 17:14", "2025-07-02"),  # early close at 17:00 UTC
        ("XNYS", "2025-07-03 17:15", "2025-07-03"),
        ("XNYS", "2025-07-05 12:00", "2025-07-03"),
        ("XNYS", "2025-07-07 13:30", "2025-07-03"),
        ("XNYS", "2025-11-27 12:00", "2025-11-26"),
        ("XLON", "2025-08-25 14:00", "2025-08-22"),
        ("XTKS", "2025-06-03 03:00", "2025-06-02"),  # the lunch break does not complete a session
    ],
)
def test_last_completed_session(clock, exchange, at, expected):
    assert clock.last_completed_session(exchange, utc(at)) == date.fromisoformat(expected)


@pytest.mark.parametrize(
    "exchange,at,expected",
    [
        ("XNYS", "2025-06-03 13:29", None),
        ("XNYS", "2025-06-03 13:30", "2025-06-03"),
        ("XNYS", "2025-06-03 19:59", "2025-06-03"),
        ("XNYS", "2025-06-03 20:00", None),
        ("XNYS", "2025-07-03 16:59", "2025-07-03"),
        ("XNYS", "2025-07-03 17:00", None),
        ("XNYS", "2025-07-04 15:00", None),
        ("XNYS", "2025-06-07 15:00", None),
        ("XLON", "2025-08-25 14:00", None),
        ("XLON", "2025-08-26 07:00", "2025-08-26"),
        ("XTKS", "2025-06-03 03:00", "2025-06-03"),  # lunch break: the session is still in progress
    ],
)
def test_current_session(clock, exchange, at, expected):
    expected_session = None if expected is None else date.fromisoformat(expected)
    assert clock.current_session(exchange, utc(at)) == expected_session


LATEST_SESSION_CASES = [
    ("XNYS", "2025-06-03 13:29", "2025-06-02"),  # before the open: yesterday's session
    ("XNYS", "2025-06-03 13:30", "2025-06-03"),  # the open minute belongs to today's
    ("XNYS", "2025-06-03 20:00", "2025-06-03"),  # after the close: still today's until tomorrow's open
    ("XNYS", "2025-07-04 15:00", "2025-07-03"),  # Independence Day: the early-close session before it
    ("XNYS", "2025-06-07 15:00", "2025-06-06"),  # Saturday: Friday's
    ("XLON", "2025-08-25 14:00", "2025-08-22"),  # bank holiday Monday: Friday's
    ("XLON", "2025-08-26 07:59", "2025-08-26"),  # London opens 07:00 UTC in summer
    ("XTKS", "2025-06-03 03:00", "2025-06-03"),  # the lunch break is within the session
]


@pytest.mark.parametrize("exchange,at,expected", LATEST_SESSION_CASES)
def test_latest_session(clock, exchange, at, expected):
    assert clock.latest_session(exchange, utc(at)) == date.fromisoformat(expected)


@pytest.mark.parametrize("exchange,at,_expected", LATEST_SESSION_CASES)
def test_latest_session_agrees_with_exchange_calendars_minute_to_session(clock, exchange, at, _expected):
    calendar = clock.calendar(exchange)
    theirs = calendar.minute_to_session(pd.Timestamp(utc(at)), direction="previous").date()
    assert clock.latest_session(exchange, utc(at)) == theirs


def test_latest_session_before_the_calendars_first_open_is_an_error():
    clock = MarketClock(now=lambda: utc("2025-06-03 15:00"), history_start=date(2025, 1, 2))
    with pytest.raises(ValueError, match="no session opened"):
        clock.latest_session("XNYS", utc("2025-01-01 12:00"))


def test_session_helpers_default_to_now():
    clock = MarketClock(now=lambda: utc("2025-07-03 16:00"), history_start=date(2024, 1, 1))
    assert clock.current_session("XNYS") == date(2025, 7, 3)
    assert clock.last_completed_session("XNYS") == date(2025, 7, 2)


# ------------------------------------------------------------------------------------------ calendar cache


def test_calendar_is_cached_per_exchange():
    now = MutableNow(utc("2025-06-03 15:00"))
    clock = MarketClock(now=now, history_start=date(2025, 1, 1))
    first = clock.calendar("XNYS")
    assert clock.calendar("XNYS") is first
    assert clock.calendar("XLON") is not first
    now.moment += timedelta(days=60)  # well before the end: no rebuild
    assert clock.calendar("XNYS") is first
    assert first.first_session == pd.Timestamp("2025-01-02")


@pytest.mark.parametrize("days_before_end", [-40, 10, 0])  # past the end, inside the margin, at the end
def test_calendar_is_rebuilt_before_it_runs_out(days_before_end):
    now = MutableNow(utc("2025-06-03 15:00"))
    clock = MarketClock(now=now, history_start=date(2025, 1, 1))
    first = clock.calendar("XNYS")
    now.moment = datetime.combine(first.last_session.date(), datetime.min.time(), UTC) - timedelta(
        days=days_before_end
    )
    rebuilt = clock.calendar("XNYS")
    assert rebuilt is not first
    assert rebuilt.last_session.date() > now.moment.date() + timedelta(days=300)
    assert rebuilt.first_session == first.first_session
    # And queries at the new "now" work instead of raising past the old calendar's end.
    assert clock.state("XNYS").last_close <= now.moment


def test_query_past_the_calendar_extends_it():
    clock = MarketClock(now=lambda: utc("2025-06-03 15:00"), history_start=date(2025, 1, 1))
    assert clock.calendar("XNYS").last_session < pd.Timestamp("2027-01-01")
    # 2027-07-05 is the observed Independence Day holiday (the 4th is a Sunday).
    state = clock.state("XNYS", utc("2027-07-05 15:00"))
    assert state.is_open is False
    assert state.next_open == utc("2027-07-06 13:30")


def test_concurrent_first_use_builds_one_calendar():
    clock = MarketClock(now=lambda: utc("2025-06-03 15:00"), history_start=date(2025, 1, 1))
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(clock.calendar("XNYS"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(calendar is results[0] for calendar in results)


def test_calendar_with_a_recorded_end_degrades_to_the_ttl():
    # XSES only records holidays to 2026-12-31: past that there is no next open to wait for.
    now = MutableNow(utc("2027-03-01 03:00"))
    clock = MarketClock(now=now, history_start=date(2025, 1, 1))
    calendar = clock.calendar("XSES")
    assert calendar.last_session == pd.Timestamp("2026-12-31")
    assert clock.calendar("XSES") is calendar  # not rebuilt on every call
    fetched = utc("2027-03-01 02:00")
    assert clock.fresh_until("D05.SI", fetched) == utc("2027-03-01 02:05")
    assert clock.status("D05.SI", fetched, utc("2027-03-01 02:04")) == "fresh"
    assert clock.status("D05.SI", fetched, utc("2027-03-01 02:05")) == "stale"
    with pytest.raises(ValueError, match="outside the calendar"):
        clock.state("XSES")
    # Within its recorded years it still follows the calendar (Singapore: 01:00-09:00 UTC).
    assert clock.fresh_until("D05.SI", utc("2026-12-30 12:00")) == utc("2026-12-31 01:00")


def test_exchange_rate_pairs_trade_through_new_yorks_evening_and_us_holidays_but_not_weekends():
    clock = MarketClock()
    # Tuesday 8 July 2025, 23:00 UTC: New York closed at 20:00 UTC, EURUSD=X still trades.
    assert clock.state("XNYS", datetime(2025, 7, 8, 23, 0, tzinfo=UTC)).is_open is False
    assert clock.state("24/5", datetime(2025, 7, 8, 23, 0, tzinfo=UTC)).is_open is True
    # Friday 4 July 2025 (US Independence Day): pairs trade; Saturday 5 July: they do not.
    assert clock.state("24/5", datetime(2025, 7, 4, 15, 0, tzinfo=UTC)).is_open is True
    assert clock.state("24/5", datetime(2025, 7, 5, 15, 0, tzinfo=UTC)).is_open is False
