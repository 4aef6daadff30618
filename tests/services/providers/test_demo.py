"""DemoProvider: deterministic simulated prices on the exchange's real sessions, failures and latency on demand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from services.config import Settings
from services.market_hours import MarketClock
from services.providers.base import FetchRequest, SymbolNotFoundError, TickerHistory, TransientError
from services.providers.demo import DemoProvider
from tests.fakes import FrozenTime, SleepRecorder

UTC = dt.UTC
AFTER_CLOSE = dt.datetime(2025, 7, 8, 22, 0, tzinfo=UTC)  # Tuesday, 18:00 in New York
OPEN = dt.datetime(2025, 7, 8, 13, 30, tzinfo=UTC)  # 09:30 EDT
CLOSE = dt.datetime(2025, 7, 8, 20, 0, tzinfo=UTC)  # 16:00 EDT


# One clock for the module: its calendars reach a year past the first moment used, which covers every moment here,
# so they are built once (each build takes a noticeable fraction of a second). Each provider sets its own moment
# on the shared frozen time as it fetches.
_TIME = FrozenTime(AFTER_CLOSE)
_CLOCK = MarketClock(now=_TIME)


class _DemoAt(DemoProvider):
    """The demo provider with the shared clock frozen at `moment` whenever it fetches."""

    def __init__(self, moment: dt.datetime, **options):
        super().__init__(_CLOCK, **options)
        self._moment = moment

    def fetch(self, requests):
        _TIME.set(self._moment)
        return super().fetch(requests)


def provider_at(moment: dt.datetime, **options) -> DemoProvider:
    return _DemoAt(moment, **options)


def history(provider: DemoProvider, ticker: str, start: dt.date) -> TickerHistory:
    result = provider.fetch([FetchRequest(ticker, start)])[ticker]
    assert isinstance(result, TickerHistory), result
    return result


def day_list(frame: pd.DataFrame) -> list[dt.date]:
    return [d.date() for d in frame.index]


def test_two_instances_give_identical_answers():
    # Separate clocks too, so nothing is shared through the provider's memo of simulated paths.
    first = history(DemoProvider(MarketClock(now=lambda: AFTER_CLOSE)), "MSFT", dt.date(2024, 1, 2))
    second = history(DemoProvider(MarketClock(now=lambda: AFTER_CLOSE)), "MSFT", dt.date(2024, 1, 2))
    assert_frame_equal(first.bars, second.bars)
    assert first.quote == second.quote


def test_different_symbols_get_different_paths():
    provider = provider_at(AFTER_CLOSE)
    msft = history(provider, "MSFT", dt.date(2025, 6, 2)).bars["close"]
    aapl = history(provider, "AAPL", dt.date(2025, 6, 2)).bars["close"]
    assert not msft.equals(aapl)


@pytest.mark.parametrize(
    ("ticker", "start", "now", "expected"),
    [
        # 4 July 2025 (Independence Day) and the weekend of 5-6 July are closed.
        ("MSFT", dt.date(2025, 6, 30), AFTER_CLOSE,
         ["2025-06-30", "2025-07-01", "2025-07-02", "2025-07-03", "2025-07-07", "2025-07-08"]),
        # Christmas, New Year's Day and the 9 January 2025 national day of mourning.
        ("MSFT", dt.date(2024, 12, 24), dt.datetime(2025, 1, 10, 22, 0, tzinfo=UTC),
         ["2024-12-24", "2024-12-26", "2024-12-27", "2024-12-30", "2024-12-31", "2025-01-02", "2025-01-03",
          "2025-01-06", "2025-01-07", "2025-01-08", "2025-01-10"]),
        # London trades on 4 July; a start on a Saturday begins with the next session.
        ("VOD.L", dt.date(2025, 7, 3), AFTER_CLOSE, ["2025-07-03", "2025-07-04", "2025-07-07", "2025-07-08"]),
        ("MSFT", dt.date(2025, 7, 5), AFTER_CLOSE, ["2025-07-07", "2025-07-08"]),
    ],
)
def test_bars_fall_on_the_exchanges_sessions_only(ticker, start, now, expected):
    bars = history(provider_at(now), ticker, start).bars
    assert day_list(bars) == [dt.date.fromisoformat(d) for d in expected]
    assert list(bars.columns) == ["close", "dividend", "split"]


def test_a_long_history_has_no_weekend_or_independence_day():
    bars = history(provider_at(AFTER_CLOSE), "MSFT", dt.date(2020, 1, 1)).bars
    days = day_list(bars)
    assert all(d.weekday() < 5 for d in days)
    assert not any((d.month, d.day) == (7, 4) for d in days)
    assert bars.index.is_monotonic_increasing and bars.index.is_unique


def test_nvda_ten_for_one_split_on_2024_06_10():
    bars = history(provider_at(AFTER_CLOSE), "NVDA", dt.date(2024, 6, 3)).bars
    window = bars.loc["2024-06-03":"2024-06-14"]
    assert window.loc["2024-06-10", "split"] == 10.0
    assert (window["split"].drop(pd.Timestamp("2024-06-10")) == 1.0).all()
    ratio = window.loc["2024-06-07", "close"] / window.loc["2024-06-10", "close"]
    assert 8.0 < ratio < 12.0  # 10x, give or take one day's simulated move


def test_a_split_before_the_history_start_is_not_moved_onto_its_first_day():
    provider = provider_at(AFTER_CLOSE, history_start=dt.date(2024, 7, 1))
    bars = history(provider, "NVDA", dt.date(2024, 7, 1)).bars
    assert day_list(bars)[0] == dt.date(2024, 7, 1)
    assert (bars["split"] == 1.0).all()


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (dt.datetime(2025, 7, 3, 22, 0, tzinfo=UTC), dt.datetime(2025, 8, 20, 22, 0, tzinfo=UTC)),
        (dt.datetime(2024, 7, 9, 22, 0, tzinfo=UTC), dt.datetime(2025, 7, 10, 22, 0, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("ticker", ["MSFT", "AAPL", "NVDA", "PG"])
def test_a_shorter_history_is_a_prefix_of_a_longer_one(earlier, later, ticker):
    start = dt.date(2023, 1, 3)
    short = history(provider_at(earlier), ticker, start).bars
    long = history(provider_at(later), ticker, start).bars
    assert len(long) > len(short)
    assert_frame_equal(short, long.iloc[: len(short)])  # closes, dividends and splits alike


def test_dividends_are_paid_and_stay_put():
    """MSFT pays (a precondition of the prefix test above covering dividends) on the first session of the quarter
    months, the same days whatever the end of the history."""
    bars = history(provider_at(AFTER_CLOSE), "MSFT", dt.date(2024, 1, 2)).bars
    paid = day_list(bars.loc[bars["dividend"] > 0])
    assert paid[:4] == [dt.date(2024, 2, 1), dt.date(2024, 5, 1), dt.date(2024, 8, 1), dt.date(2024, 11, 1)]


def test_fail_symbols_from_the_environment_are_not_found():
    settings = Settings.from_env({"PRICE_PROVIDER": "demo", "DEMO_FAIL_SYMBOLS": "dead, Gone"})
    provider = provider_at(AFTER_CLOSE, fail_symbols=settings.demo_fail_symbols)
    result = provider.fetch([FetchRequest(t, dt.date(2025, 7, 1)) for t in ("DEAD", "MSFT", "GONE")])
    assert isinstance(result["DEAD"], SymbolNotFoundError)
    assert isinstance(result["GONE"], SymbolNotFoundError)
    assert isinstance(result["MSFT"], TickerHistory)  # the rest of the request is answered


def test_failure_rate_one_fails_every_symbol_every_time():
    provider = provider_at(AFTER_CLOSE, failure_rate=1.0)
    for _ in range(3):
        result = provider.fetch([FetchRequest(t, dt.date(2025, 7, 1)) for t in ("MSFT", "AAPL")])
        assert all(isinstance(r, TransientError) for r in result.values())


def test_partial_failure_rate_is_deterministic():
    tickers = [f"T{i:02d}" for i in range(30)]

    def pattern(provider: DemoProvider) -> list[list[bool]]:
        return [[isinstance(r, TransientError) for r in provider.fetch(
            [FetchRequest(t, dt.date(2025, 7, 1)) for t in tickers]).values()] for _ in range(3)]

    first = pattern(provider_at(AFTER_CLOSE, failure_rate=0.5))
    assert first == pattern(provider_at(AFTER_CLOSE, failure_rate=0.5))
    flat = [failed for attempt in first for failed in attempt]
    assert 0 < sum(flat) < len(flat)


def test_latency_is_one_sleep_per_request():
    sleep = SleepRecorder()
    provider = provider_at(AFTER_CLOSE, latency_ms=250, sleep=sleep)
    provider.fetch([FetchRequest(t, dt.date(2025, 7, 1)) for t in ("MSFT", "AAPL", "KO")])
    assert sleep.calls == [0.25]
    provider.fetch([FetchRequest("MSFT", dt.date(2025, 7, 1))])
    assert sleep.calls == [0.25, 0.25]


def test_no_latency_no_sleep():
    sleep = SleepRecorder()
    provider_at(AFTER_CLOSE, sleep=sleep).fetch([FetchRequest("MSFT", dt.date(2025, 7, 1))])
    assert sleep.calls == []


@pytest.mark.parametrize("symbol", ["A B", "", "aapl", "AAPL..L", "-AB", "ABCDEFGHIJKLMNOP"])
def test_invalid_symbols_are_not_found(symbol):
    result = provider_at(AFTER_CLOSE).fetch([FetchRequest(symbol, dt.date(2025, 7, 1))])
    assert isinstance(result[symbol], SymbolNotFoundError)


def test_a_start_after_the_last_session_has_no_bars_but_a_quote():
    # As Yahoo answers a range with no session yet (issue 15, item 8: a position bought on a weekend had no
    # price): no bars, and the quote of the last session (Tuesday's close, as a whole history shows it).
    result = provider_at(AFTER_CLOSE).fetch([FetchRequest("MSFT", dt.date(2025, 7, 9))])["MSFT"]
    whole = provider_at(AFTER_CLOSE).fetch([FetchRequest("MSFT", dt.date(2025, 7, 1))])["MSFT"]
    assert isinstance(result, TickerHistory) and result.bars.empty
    assert result.quote.price == whole.quote.price == whole.bars["close"].iloc[-1]
    assert result.quote.previous_close == whole.bars["close"].iloc[-2]


def test_intraday_price_moves_during_the_session():
    at_1100 = history(provider_at(dt.datetime(2025, 7, 8, 15, 0, tzinfo=UTC)), "MSFT", dt.date(2025, 7, 1))
    at_1102 = history(provider_at(dt.datetime(2025, 7, 8, 15, 2, tzinfo=UTC)), "MSFT", dt.date(2025, 7, 1))
    assert at_1100.quote.price != at_1102.quote.price
    for moment, result in ((dt.datetime(2025, 7, 8, 15, 0, tzinfo=UTC), at_1100),
                           (dt.datetime(2025, 7, 8, 15, 2, tzinfo=UTC), at_1102)):
        assert day_list(result.bars)[-1] == dt.date(2025, 7, 8)  # today's bar carries the current price
        assert result.bars["close"].iloc[-1] == result.quote.price
        assert result.quote.market_time == result.quote.fetched_at == moment
    # Only today's bar moves; the days before are the same.
    assert_frame_equal(at_1100.bars.iloc[:-1], at_1102.bars.iloc[:-1])


def test_intraday_price_starts_near_the_previous_close_and_ends_at_the_days_close():
    final = history(provider_at(dt.datetime(2025, 7, 10, 22, 0, tzinfo=UTC)), "MSFT", dt.date(2025, 7, 1)).bars
    previous_close, todays_close = final.loc["2025-07-07", "close"], final.loc["2025-07-08", "close"]

    two_minutes_in = history(provider_at(OPEN + dt.timedelta(minutes=2)), "MSFT", dt.date(2025, 7, 1)).quote
    # 2 of 390 minutes elapsed: within 0.5 % of the day's move plus the 0.2 % wiggle of the previous close.
    assert two_minutes_in.previous_close == previous_close
    assert abs(two_minutes_in.price / previous_close - 1) < 0.003 + abs(todays_close / previous_close - 1) * 0.01

    after = history(provider_at(CLOSE + dt.timedelta(minutes=1)), "MSFT", dt.date(2025, 7, 1)).quote
    assert after.price == todays_close
    assert after.market_time == CLOSE


def test_before_the_open_the_quote_is_the_previous_sessions_close():
    result = history(provider_at(dt.datetime(2025, 7, 8, 12, 0, tzinfo=UTC)), "MSFT", dt.date(2025, 7, 1))
    assert day_list(result.bars)[-1] == dt.date(2025, 7, 7)
    assert result.quote.price == result.bars.loc["2025-07-07", "close"]
    assert result.quote.market_time == dt.datetime(2025, 7, 7, 20, 0, tzinfo=UTC)


def test_early_close_sets_the_market_time():
    # 3 July 2025 closed at 13:00 EDT = 17:00 UTC.
    result = history(provider_at(dt.datetime(2025, 7, 3, 18, 0, tzinfo=UTC)), "MSFT", dt.date(2025, 7, 1))
    assert day_list(result.bars)[-1] == dt.date(2025, 7, 3)
    assert result.quote.market_time == dt.datetime(2025, 7, 3, 17, 0, tzinfo=UTC)


def test_quote_currency_follows_the_suffix():
    provider = provider_at(AFTER_CLOSE)
    assert [history(provider, t, dt.date(2025, 7, 1)).quote.currency for t in ("MSFT", "VOD.L", "RY.TO")] == [
        "USD", "GBP", "CAD"]
