"""PriceCache: bar merging, quotes and failures (the store under it: test_store.py; its locks: test_locks.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from services.models import Quote
from services.price_cache import FailureRecord, PriceCache
from services.price_planning import Need
from services.providers.base import empty_bars
from services.providers.demo import DemoProvider

UTC = dt.UTC


def bars(days: list[str], closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"close": closes, "dividend": 0.0, "split": 1.0},
                        index=pd.DatetimeIndex(pd.to_datetime(days), name="date"))


def dates(frame: pd.DataFrame) -> list[str]:
    return [d.date().isoformat() for d in frame.index]


# -- bars ----------------------------------------------------------------------------------------------------------
def test_unknown_ticker_has_no_bars(price_cache):
    assert price_cache.get_bars("AAA") is None
    assert price_cache.history_from("AAA") is None


def test_put_bars_keeps_earlier_rows_and_replaces_from_the_new_first_date(price_cache):
    price_cache.put_bars("AAA", bars(["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05", "2025-06-06"],
                                     [1.0, 2.0, 3.0, 4.0, 5.0]), dt.date(2025, 6, 2))
    # The tail fetched again from 5 June: 5 and 6 June are replaced, 9 June is new.
    merged = price_cache.put_bars("AAA", bars(["2025-06-05", "2025-06-06", "2025-06-09"], [40.0, 50.0, 60.0]),
                                  dt.date(2025, 6, 5))

    expected_dates = ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05", "2025-06-06", "2025-06-09"]
    assert dates(merged) == expected_dates
    assert merged["close"].tolist() == [1.0, 2.0, 3.0, 40.0, 50.0, 60.0]
    stored = price_cache.get_bars("AAA")
    assert dates(stored) == expected_dates
    assert stored["close"].tolist() == [1.0, 2.0, 3.0, 40.0, 50.0, 60.0]
    assert price_cache.history_from("AAA") == dt.date(2025, 6, 2)


def test_put_bars_with_no_new_rows_keeps_what_was_cached(price_cache):
    price_cache.put_bars("AAA", bars(["2025-06-02", "2025-06-03"], [1.0, 2.0]), dt.date(2025, 6, 2))
    merged = price_cache.put_bars("AAA", empty_bars(), dt.date(2025, 6, 3))
    assert merged["close"].tolist() == [1.0, 2.0]
    assert price_cache.get_bars("AAA")["close"].tolist() == [1.0, 2.0]


def test_put_bars_on_a_new_ticker_with_no_rows_stores_an_empty_frame(price_cache):
    price_cache.put_bars("AAA", empty_bars(), dt.date(2025, 6, 2))
    stored = price_cache.get_bars("AAA")
    assert stored is not None and stored.empty
    assert list(stored.columns) == ["close", "dividend", "split"]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ([dt.date(2025, 6, 2)], dt.date(2025, 6, 2)),
        ([dt.date(2025, 6, 2), dt.date(2025, 7, 1)], dt.date(2025, 6, 2)),  # a tail fetch does not move it
        ([dt.date(2025, 6, 2), dt.date(2020, 1, 2)], dt.date(2020, 1, 2)),  # an earlier fetch extends it
        ([dt.date(2025, 7, 1), dt.date(2020, 1, 2), dt.date(2024, 1, 2)], dt.date(2020, 1, 2)),
    ],
)
def test_history_from_keeps_the_earliest_requested_date(price_cache, requested, expected):
    for start in requested:
        price_cache.put_bars("AAA", bars([start.isoformat()], [1.0]), start)
    assert price_cache.history_from("AAA") == expected


def test_bars_written_by_another_process_are_seen(price_cache, settings):
    price_cache.put_bars("AAA", bars(["2025-06-02"], [1.0]), dt.date(2025, 6, 2))
    assert price_cache.get_bars("AAA")["close"].tolist() == [1.0]  # now remembered in memory
    other = PriceCache(settings.cache_dir)
    other.put_bars("AAA", bars(["2025-06-02", "2025-06-03"], [1.5, 2.0]), dt.date(2025, 6, 2))
    assert price_cache.get_bars("AAA")["close"].tolist() == [1.5, 2.0]
    other.close()


# -- quotes and failures -------------------------------------------------------------------------------------------
QUOTE = Quote("AAA", 123.45, 120.0, "USD", dt.datetime(2025, 7, 8, 15, 0, tzinfo=UTC),
              dt.datetime(2025, 7, 8, 15, 0, 5, tzinfo=UTC))
FAILURE = FailureRecord("AAA", "AAA: timeout", dt.datetime(2025, 7, 8, 15, 0, tzinfo=UTC),
                        dt.datetime(2025, 7, 8, 15, 1, tzinfo=UTC))


def test_quote_round_trip(price_cache, settings):
    assert price_cache.get_quote("AAA") is None
    price_cache.put_quote(QUOTE)
    assert price_cache.get_quote("AAA") == QUOTE
    other = PriceCache(settings.cache_dir)
    assert other.get_quote("AAA") == QUOTE  # shared through the directory
    assert list(other.tickers_with_quotes()) == ["AAA"]
    other.close()


def test_failure_round_trip_and_a_quote_clears_it(price_cache):
    assert price_cache.get_failure("AAA") is None
    price_cache.put_failure(FAILURE)
    assert price_cache.get_failure("AAA") == FAILURE
    price_cache.put_quote(Quote("BBB", 1.0, None, "USD", None, QUOTE.fetched_at))
    assert price_cache.get_failure("AAA") == FAILURE  # another ticker's quote leaves it alone
    price_cache.put_quote(QUOTE)
    assert price_cache.get_failure("AAA") is None


def test_has_bars_and_tickers_with_quotes(price_cache):
    assert not price_cache.has_bars("AAA")
    price_cache.put_bars("AAA", empty_bars(), dt.date(2025, 6, 2))
    assert price_cache.has_bars("AAA")  # even none: a fetch that found no session
    price_cache.put_quote(QUOTE)
    assert price_cache.tickers_with_quotes() == ["AAA"]


def test_quote_currencies_survive_a_cold_fetch_and_a_warm_read(price_cache, settings, clock, make_service):
    # Cold: the price service fetches from the demo provider and stores what it answers. Warm: another process
    # reads the store. Each quote keeps the currency it was served in (VOD.L's pence as pounds), and the bars the
    # same unit, so the two agree.
    start = clock.now().date() - dt.timedelta(days=10)
    tickers = {"VOD.L": "GBP", "SAP.DE": "EUR", "EURUSD=X": "USD", "USDJPY=X": "JPY", "AAPL": "USD"}
    make_service(DemoProvider(clock), price_cache).fetch_prices_parallel({t: Need(start) for t in tickers})

    other = PriceCache(settings.cache_dir)
    try:
        for ticker, currency in tickers.items():
            quote = other.get_quote(ticker)
            assert quote is not None and quote.currency == currency, (ticker, quote)
            assert quote.price == other.get_bars(ticker)["close"].iloc[-1]
        assert 0.3 < other.get_quote("VOD.L").price < 1.5  # pounds, not pence
    finally:
        other.close()
    # ... and the price service hands it on with each price, for the conversion into a base currency.
    infos = make_service(DemoProvider(clock), price_cache).prices(tickers)
    assert {t: info.currency for t, info in infos.items()} == tickers


def test_batched_reads_answer_as_the_single_reads(price_cache):
    """get_quotes / get_failures / histories_from / bars_tails: one entry per distinct ticker, None or (False,
    None) where nothing is cached, the same values `get_quote`, `get_failure`, `history_from`, `bars_tail` give."""
    price_cache.put_quote(QUOTE)
    price_cache.put_failure(FailureRecord("BBB", "BBB: gone", FAILURE.failed_at, FAILURE.retry_after))
    price_cache.put_bars("AAA", bars(["2025-07-07", "2025-07-08"], [1.0, 2.0]), dt.date(2025, 7, 1))
    price_cache.put_bars("EMPTY", empty_bars(), dt.date(2025, 7, 1))
    asked = ["AAA", "BBB", "AAA", "EMPTY"]
    assert price_cache.get_quotes(asked) == {"AAA": QUOTE, "BBB": None, "EMPTY": None}
    assert price_cache.get_failures(asked) == {"AAA": None, "BBB": price_cache.get_failure("BBB"), "EMPTY": None}
    assert price_cache.histories_from(asked) == {"AAA": dt.date(2025, 7, 1), "BBB": None,
                                                 "EMPTY": dt.date(2025, 7, 1)}
    tails = {"AAA": (True, dt.date(2025, 7, 8)), "BBB": (False, None), "EMPTY": (True, None)}
    assert price_cache.bars_tails(asked) == tails  # cold memo: read from the bars
    assert price_cache.bars_tails(asked) == tails  # warm memo
    price_cache.put_bars("AAA", bars(["2025-07-09"], [3.0]), dt.date(2025, 7, 9))  # a new stamp: read again
    assert price_cache.bars_tails(["AAA"]) == {"AAA": (True, dt.date(2025, 7, 9))}
    singles = {t: price_cache.bars_tail(t) for t in ["AAA", "BBB", "EMPTY"]}
    assert singles == {**tails, "AAA": (True, dt.date(2025, 7, 9))}
    assert price_cache.get_quotes([]) == {} and price_cache.bars_tails([]) == {}
