"""The demo provider's currencies: each suffix's quote currency, pence to pounds through the shared rule
(services/providers/currency.py), and simulated exchange-rate pairs (services/providers/demo_fx.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from services.market_hours import MarketClock
from services.providers.base import FetchRequest, SymbolNotFoundError, TickerHistory
from services.providers.currency import fx_pair, listed_currency, major_currency
from services.providers.demo import REFERENCE_DAY, DemoProvider, _listed_bars, simulated_bars, simulated_series
from tests.fakes import FrozenTime

UTC = dt.UTC
AFTER_CLOSE = dt.datetime(2025, 7, 8, 22, 0, tzinfo=UTC)  # Tuesday, 18:00 in New York
_TIME = FrozenTime(AFTER_CLOSE)
_CLOCK = MarketClock(now=_TIME)  # one clock for the module: its calendars are built once


def fetch(ticker: str, start: dt.date, moment: dt.datetime = AFTER_CLOSE, **options) -> TickerHistory:
    _TIME.set(moment)
    result = DemoProvider(_CLOCK, **options).fetch([FetchRequest(ticker, start)])[ticker]
    assert isinstance(result, TickerHistory), result
    return result


# -- the shared rule -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "expected"), [
    ("GBp", ("GBP", 100.0)), ("GBX", ("GBP", 100.0)), ("ZAc", ("ZAR", 100.0)), ("ILA", ("ILS", 100.0)),
    ("GBP", ("GBP", 1.0)), ("EUR", ("EUR", 1.0)), ("USD", ("USD", 1.0)), (None, (None, 1.0)),
])
def test_major_currency(given, expected):
    assert major_currency(given) == expected


@pytest.mark.parametrize(("ticker", "expected"), [
    ("EURUSD=X", ("EUR", "USD")), ("USDJPY=X", ("USD", "JPY")), ("JPY=X", ("USD", "JPY")),
    ("AAPL", None), ("ES=F", None), ("^GSPC", None), ("EURUSD", None), ("EURUS=X", None), ("EUR1SD=X", None),
])
def test_fx_pair(ticker, expected):
    assert fx_pair(ticker) == expected


# -- quote currencies ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ticker", "listed", "currency"), [
    ("MSFT", "USD", "USD"), ("BRK-B", "USD", "USD"),
    ("VOD.L", "GBp", "GBP"), ("BARC.L", "GBp", "GBP"),
    ("SAP.DE", "EUR", "EUR"), ("MC.PA", "EUR", "EUR"), ("ASML.AS", "EUR", "EUR"), ("ENI.MI", "EUR", "EUR"),
    ("SAN.MC", "EUR", "EUR"),
    ("NESN.SW", "CHF", "CHF"), ("7203.T", "JPY", "JPY"), ("RY.TO", "CAD", "CAD"), ("BHP.AX", "AUD", "AUD"),
    ("0700.HK", "HKD", "HKD"), ("NPN.JO", "ZAc", "ZAR"), ("TEVA.TA", "ILA", "ILS"),
])
def test_each_suffix_is_quoted_in_its_exchanges_currency_in_the_major_unit(ticker, listed, currency):
    assert listed_currency(ticker) == listed
    assert fetch(ticker, dt.date(2025, 7, 1)).quote.currency == currency


def test_vod_l_is_simulated_in_pence_and_served_in_pounds():
    # REFERENCE_PRICES["VOD.L"] is 68 pence on REFERENCE_DAY (2 Jan 2025): 68 / 100 = 0.68 GBP.
    result = fetch("VOD.L", dt.date(2024, 12, 30))
    assert _listed_bars("VOD.L", "XLON", dt.date(2000, 1, 1), dt.date(2025, 7, 8), _CLOCK).loc[
        REFERENCE_DAY, "close"] == 68.0
    assert result.bars.loc[REFERENCE_DAY, "close"] == pytest.approx(0.68)
    assert 0.3 < result.quote.price < 1.5  # still a plausible Vodafone in pounds half a year on


@pytest.mark.parametrize(("ticker", "exchange"), [("BARC.L", "XLON"), ("NPN.JO", "XJSE"), ("TEVA.TA", "XNYS")])
def test_minor_unit_prices_and_dividends_are_divided_by_100(ticker, exchange):
    raw = _listed_bars(ticker, exchange, dt.date(2000, 1, 1), dt.date(2025, 7, 8), _CLOCK)
    result = fetch(ticker, dt.date(2000, 1, 1))
    assert_series_equal(result.bars["close"], raw["close"] / 100)
    assert_series_equal(result.bars["dividend"], raw["dividend"] / 100)
    assert_series_equal(result.bars["split"], raw["split"])
    assert result.quote.price == raw["close"].iloc[-1] / 100
    assert result.quote.previous_close == raw["close"].iloc[-2] / 100
    # The same frame through the public helpers (what the sample ledger is priced from).
    assert_frame_equal(simulated_bars(ticker, exchange, dt.date(2000, 1, 1), dt.date(2025, 7, 8), _CLOCK),
                       result.bars)


def test_a_london_price_is_pence_sized_before_the_division():
    # Any .L symbol not in REFERENCE_PRICES: drawn from 25-350, times 10 for London, in pence: 2.50-35 GBP on
    # REFERENCE_DAY (without the x10 they would all be 0.25-3.50 GBP; without the /100, 250-3,500 "GBP").
    levels = [simulated_bars(f"Q{i:02d}.L", "XLON", dt.date(2024, 1, 2), dt.date(2025, 1, 2), _CLOCK).loc[
        REFERENCE_DAY, "close"] for i in range(20)]
    assert all(2.5 <= level <= 35.0 for level in levels), levels


def test_usd_prices_are_what_they_always_were():
    # Pinned from the demo before currencies (commit f41b2e9): a USD symbol's simulation did not change.
    bars = fetch("MSFT", dt.date(2025, 1, 2)).bars
    assert bars.loc["2025-01-02", "close"] == 155.5536
    assert bars.loc["2025-07-08", "close"] == 156.5508
    assert fetch("AAPL", dt.date(2025, 1, 2)).bars.loc["2025-01-02", "close"] == 284.0998


# -- exchange-rate pairs -------------------------------------------------------------------------------------------
PAIRS_SINCE_2023 = ("2023-01-02", "2025-07-08")


def closes(ticker: str, start: dt.date = dt.date(2023, 1, 2), moment: dt.datetime = AFTER_CLOSE) -> pd.Series:
    return fetch(ticker, start, moment).bars["close"]


@pytest.mark.parametrize(("pair", "low", "high", "mean_low", "mean_high"), [
    ("EURUSD=X", 0.95, 1.25, 1.05, 1.15),
    ("GBPUSD=X", 1.10, 1.45, 1.20, 1.35),
    ("USDJPY=X", 125.0, 170.0, 140.0, 155.0),
    ("USDCHF=X", 0.75, 1.00, 0.83, 0.93),
    ("USDCAD=X", 1.22, 1.50, 1.30, 1.42),
    ("AUDUSD=X", 0.58, 0.75, 0.62, 0.70),
    ("EURGBP=X", 0.76, 0.96, 0.82, 0.90),
    ("USDHKD=X", 7.70, 7.90, 7.75, 7.85),
])
def test_pairs_stay_at_plausible_levels(pair, low, high, mean_low, mean_high):
    history = closes(pair, dt.date(2000, 1, 3))
    assert low < history.min() and history.max() < high  # over 25 years
    assert mean_low < history.loc["2023-01-02":].mean() < mean_high


@pytest.mark.parametrize(("pair", "low", "high"), [
    ("EURUSD=X", 0.003, 0.006), ("GBPUSD=X", 0.003, 0.006), ("USDJPY=X", 0.003, 0.006),
    ("EURGBP=X", 0.003, 0.006), ("USDCHF=X", 0.003, 0.006), ("USDCAD=X", 0.003, 0.006),
    ("USDHKD=X", 0.0, 0.0005),  # a peg
])
def test_pairs_move_a_fraction_of_a_percent_a_day(pair, low, high):
    daily = np.diff(np.log(closes(pair, dt.date(2010, 1, 4)).to_numpy()))
    assert low < daily.std() < high


def test_the_quote_currency_is_the_pairs_second_and_nothing_is_paid():
    for pair, currency in (("EURUSD=X", "USD"), ("USDJPY=X", "JPY"), ("EURGBP=X", "GBP"), ("JPY=X", "JPY")):
        result = fetch(pair, dt.date(2025, 6, 2))
        assert result.quote.currency == currency
        assert (result.bars["dividend"] == 0.0).all() and (result.bars["split"] == 1.0).all()


# A Saturday (the pairs closed since Friday's 24:00 UTC) and a Tuesday at 09:17 UTC (mid-session).
@pytest.mark.parametrize("moment", [dt.datetime(2025, 7, 12, 12, 0, tzinfo=UTC),
                                    dt.datetime(2025, 7, 8, 9, 17, tzinfo=UTC)])
def test_crosses_agree_with_the_dollar_pairs(moment):
    eurusd, gbpusd = closes("EURUSD=X", moment=moment), closes("GBPUSD=X", moment=moment)
    eurgbp, usdjpy = closes("EURGBP=X", moment=moment), closes("USDJPY=X", moment=moment)
    eurjpy, usdeur = closes("EURJPY=X", moment=moment), closes("USDEUR=X", moment=moment)
    assert eurgbp.to_numpy() == pytest.approx((eurusd / gbpusd).to_numpy(), rel=1e-12)
    assert eurjpy.to_numpy() == pytest.approx((eurusd * usdjpy).to_numpy(), rel=1e-12)
    assert (eurusd * usdeur).to_numpy() == pytest.approx(1.0, rel=1e-12)
    assert_series_equal(closes("JPY=X", moment=moment), usdjpy)  # Yahoo's short form of USDJPY


def test_pairs_trade_every_weekday_holidays_included():
    days = [d.date() for d in closes("EURUSD=X", dt.date(2024, 12, 23)).index]
    assert dt.date(2024, 12, 25) in days and dt.date(2025, 1, 1) in days and dt.date(2025, 7, 4) in days
    assert all(d.weekday() < 5 for d in days)
    # 23 Dec 2024 to 8 Jul 2025 is 28 weeks and two days: 142 weekdays.
    assert len(days) == 142
    # On 4 July New York is closed but the pair trades: the quote is live.
    moment = dt.datetime(2025, 7, 4, 15, 0, tzinfo=UTC)
    quote = fetch("EURUSD=X", dt.date(2025, 7, 1), moment).quote
    assert quote.market_time == moment


def test_pairs_are_deterministic_and_a_shorter_history_is_a_prefix():
    start = dt.date(2024, 1, 2)
    earlier = closes("GBPUSD=X", start, dt.datetime(2025, 3, 3, 23, 59, tzinfo=UTC))
    later = closes("GBPUSD=X", start, dt.datetime(2025, 7, 8, 23, 59, tzinfo=UTC))
    other = DemoProvider(MarketClock(now=lambda: dt.datetime(2025, 7, 8, 23, 59, tzinfo=UTC)))
    again = other.fetch([FetchRequest("GBPUSD=X", start)])["GBPUSD=X"].bars["close"]
    assert_series_equal(later, again)
    # The last bar of `earlier` is 3 March's while it still trades; every bar before it is final.
    assert_series_equal(earlier.iloc[:-1], later.iloc[: len(earlier) - 1])


def test_an_intraday_rate_moves_towards_the_days_close():
    final = closes("EURUSD=X", dt.date(2025, 7, 1), dt.datetime(2025, 7, 10, 12, 0, tzinfo=UTC))
    at_0900 = fetch("EURUSD=X", dt.date(2025, 7, 1), dt.datetime(2025, 7, 8, 9, 0, tzinfo=UTC)).quote
    at_0902 = fetch("EURUSD=X", dt.date(2025, 7, 1), dt.datetime(2025, 7, 8, 9, 2, tzinfo=UTC)).quote
    assert at_0900.price != at_0902.price
    assert at_0900.previous_close == final.loc["2025-07-07"]
    # 9 of 24 hours in: between the two closes, give or take the wiggle (at most 0.25 daily sd ~ 0.12 %).
    low, high = sorted((final.loc["2025-07-07"], final.loc["2025-07-08"]))
    assert low * 0.998 < at_0900.price < high * 1.002
    # After the session (midnight UTC) the rate is the day's close.
    assert fetch("EURUSD=X", dt.date(2025, 7, 1), dt.datetime(2025, 7, 9, 0, 0, tzinfo=UTC)).bars.loc[
        "2025-07-08", "close"] == final.loc["2025-07-08"]


@pytest.mark.parametrize("ticker", ["ABCDEF=X", "EUREUR=X", "XYZ=X"])
def test_an_unknown_pair_is_not_found(ticker):
    _TIME.set(AFTER_CLOSE)
    result = DemoProvider(_CLOCK).fetch([FetchRequest(ticker, dt.date(2025, 7, 1))])[ticker]
    assert isinstance(result, SymbolNotFoundError)
    with pytest.raises(SymbolNotFoundError):
        simulated_series(ticker, dt.date(2025, 7, 1), dt.date(2025, 7, 8), _CLOCK)


def test_simulated_series_is_what_the_provider_serves_after_the_close():
    for ticker, currency in (("EURUSD=X", "USD"), ("VOD.L", "GBP"), ("MSFT", "USD")):
        bars, served_in = simulated_series(ticker, dt.date(2000, 1, 1), dt.date(2025, 7, 8), _CLOCK)
        result = fetch(ticker, dt.date(2025, 6, 2), dt.datetime(2025, 7, 9, 23, 0, tzinfo=UTC))
        assert served_in == currency
        assert_frame_equal(bars.loc["2025-06-02":"2025-07-08"], result.bars.loc[:"2025-07-08"])
