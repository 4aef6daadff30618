"""Tests for services.market_calendar: which exchange a ticker trades on, and one calendar flattened into sorted
UTC lists (hand-computed from the exchanges' published hours; no network)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pytest

from services.market_calendar import (
    DEFAULT_EXCHANGE,
    EXCHANGE_BY_SUFFIX,
    NEVER,
    REBUILD_MARGIN,
    build_schedule,
    exchange_for,
    to_utc,
)

# exchange_calendars 4.13.2 trips pandas 3 deprecations while it builds calendars; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:exchange_calendars"),
    pytest.mark.filterwarnings("ignore:Series.values returning an ndarray:pandas.errors.Pandas4Warning"),
]


def utc(text: str) -> datetime:
    """'2025-06-03 15:00' -> that minute in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- exchange_for


@pytest.mark.parametrize(
    "ticker,expected",
    [
        ("AAPL", "XNYS"),
        ("BRK-B", "XNYS"),
        ("BRK.B", "XNYS"),  # a class-share dot, not an exchange suffix
        ("^GSPC", "XNYS"),
        ("EURUSD=X", "24/5"),  # exchange rates trade around the clock on weekdays
        ("jpy=x", "24/5"),
        ("GC=F", "XNYS"),
        ("BTC-USD", "XNYS"),
        ("", "XNYS"),
        (".L", "XNYS"),  # a bare suffix is not a ticker
        ("VOD.L", "XLON"),
        ("vod.l", "XLON"),
        ("  VOD.L ", "XLON"),
        ("SHOP.TO", "XTSE"),
        ("ABC.V", "XTSE"),
        ("SAP.DE", "XETR"),
        ("SAP.F", "XFRA"),
        ("MC.PA", "XPAR"),
        ("ASML.AS", "XAMS"),
        ("7203.T", "XTKS"),
        ("0700.HK", "XHKG"),
        ("BHP.AX", "XASX"),
        ("NESN.SW", "XSWX"),
        ("ENI.MI", "XMIL"),
        ("SAN.MC", "XMAD"),
        ("VOLV-B.ST", "XSTO"),
        ("NOVO-B.CO", "XCSE"),
        ("EQNR.OL", "XOSL"),
        ("005930.KS", "XKRX"),
        ("600519.SS", "XSHG"),
        ("000001.SZ", "XSHG"),
        ("RELIANCE.NS", "XBOM"),
        ("2330.TW", "XTAI"),
        ("D05.SI", "XSES"),
        ("PETR4.SA", "BVMF"),
        ("NPN.JO", "XJSE"),
        ("ETE.AT", "XNYS"),  # ASEX is left out (broken on pandas 3)
    ],
)
def test_exchange_for(ticker, expected):
    assert exchange_for(ticker) == expected


def test_suffix_table_is_well_formed():
    assert DEFAULT_EXCHANGE == "XNYS"
    for suffix in EXCHANGE_BY_SUFFIX:
        assert suffix.startswith(".") and suffix == suffix.upper(), suffix
    assert set(EXCHANGE_BY_SUFFIX.values()) <= set(xcals.get_calendar_names(include_aliases=False))


# ------------------------------------------------------------------------------------------------ schedules


def test_a_lunch_break_splits_a_session_into_two_trading_intervals():
    # Tokyo (UTC+9, no daylight saving): 09:00-11:30 and 12:30-15:30 local.
    schedule = build_schedule("XTKS", date(2025, 6, 2), date(2025, 6, 4))
    assert schedule.sessions == [date(2025, 6, 2), date(2025, 6, 3), date(2025, 6, 4)]
    assert (schedule.opens[1], schedule.closes[1]) == (utc("2025-06-03 00:00"), utc("2025-06-03 06:30"))
    assert schedule.trade_starts[2:4] == [utc("2025-06-03 00:00"), utc("2025-06-03 03:30")]
    assert schedule.trade_ends[2:4] == [utc("2025-06-03 02:30"), utc("2025-06-03 06:30")]
    assert schedule.rebuild_at == utc("2025-06-04 06:30") - REBUILD_MARGIN


def test_without_a_break_the_trading_intervals_are_the_sessions_and_early_closes_are_kept():
    # New York, July 2025 (EDT, UTC-4): the 3rd closes at 13:00, the 4th is a holiday.
    schedule = build_schedule("XNYS", date(2025, 7, 2), date(2025, 7, 7))
    assert schedule.sessions == [date(2025, 7, 2), date(2025, 7, 3), date(2025, 7, 7)]
    assert schedule.closes == [utc("2025-07-02 20:00"), utc("2025-07-03 17:00"), utc("2025-07-07 20:00")]
    assert (schedule.trade_starts, schedule.trade_ends) == (schedule.opens, schedule.closes)


def test_a_calendar_that_records_only_some_years_is_clipped_and_never_rebuilt():
    # XSES records holidays to 2026-12-31 only.
    schedule = build_schedule("XSES", date(2026, 12, 1), date(2027, 6, 1))
    assert schedule.sessions[-1] == date(2026, 12, 31)
    assert schedule.rebuild_at == NEVER


def test_to_utc_reads_naive_as_utc_and_converts_other_zones():
    assert to_utc(datetime(2025, 6, 3, 15, 0)) == utc("2025-06-03 15:00")
    converted = to_utc(datetime(2025, 6, 3, 11, 0, tzinfo=ZoneInfo("America/New_York")))  # EDT, UTC-4
    assert (converted, converted.tzinfo) == (utc("2025-06-03 15:00"), UTC)
