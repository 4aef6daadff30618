"""YahooProvider against a fake Yahoo (yahoo_fake.py): the real yfinance parsing runs, with no network.

Every expected number below is worked out by hand from TABLE, where closes and dividends are as Yahoo sends
them: adjusted for every split after the day (so a 2-for-1 later halves them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import requests
import yfinance as yf
from curl_cffi.requests import exceptions as curl_exceptions
from yfinance import cache as yf_cache
from yfinance.data import SingletonMeta, YfData
from yfinance.exceptions import YFDataException, YFPricesMissingError, YFRateLimitError

from services.providers.base import (
    BAR_COLUMNS,
    FetchRequest,
    ProviderError,
    RateLimitError,
    SymbolNotFoundError,
    TickerHistory,
    TransientError,
    UnreachableError,
)
from services.providers.yahoo import QuietCookieWarnings, YahooProvider, classify_error, default_exchange_tz
from tests.services.providers.yahoo_fake import Bar, FakeSymbol, FakeYahooSession, unreachable_error

D = dt.date
UTC = dt.UTC
JUNE_1 = D(2024, 6, 1)


def table() -> dict[str, FakeSymbol]:
    return {
        # A 2-for-1 split on Tue 4 June: Yahoo's 50.0 on the 3rd was 100.0 as traded. A dividend on the 5th.
        "AAPL": FakeSymbol(
            [Bar(D(2024, 6, 3), 50.0), Bar(D(2024, 6, 4), 51.0, split=(2, 1)),
             Bar(D(2024, 6, 5), 52.0, dividend=0.25), Bar(D(2024, 6, 6), 53.5)],
            regular_market_price=53.5, regular_market_time=dt.datetime(2024, 6, 6, 20, 0, tzinfo=UTC),
            close_before_table=49.0),
        # A dividend paid BEFORE a 3-for-1 split: Yahoo shows 0.5 and 20.0; as paid and traded, 1.5 and 60.0.
        "MSFT": FakeSymbol(
            [Bar(D(2024, 5, 30), 20.0, dividend=0.5), Bar(D(2024, 5, 31), 21.0),
             Bar(D(2024, 6, 3), 22.0, split=(3, 1))],
            regular_market_price=22.0, regular_market_time=dt.datetime(2024, 6, 3, 20, 0, tzinfo=UTC),
            close_before_table=19.5),
        # The split is on the last bar: the day change must compare 61.0 with 60.0, not with 120.0.
        "NVDA": FakeSymbol(
            [Bar(D(2024, 6, 6), 60.0), Bar(D(2024, 6, 7), 61.0, split=(2, 1))],
            regular_market_price=61.0, regular_market_time=dt.datetime(2024, 6, 7, 20, 0, tzinfo=UTC),
            close_before_table=59.0),
        # London, quoted in pence (GBp); the session opens 08:00 BST = 07:00 UTC.
        "VOD.L": FakeSymbol(
            [Bar(D(2024, 6, 3), 70.5), Bar(D(2024, 6, 4), 71.2, dividend=2.5)],
            regular_market_price=71.2, regular_market_time=dt.datetime(2024, 6, 4, 15, 30, tzinfo=UTC),
            close_before_table=70.0, currency="GBp", timezone="Europe/London"),
        "SHOP.TO": FakeSymbol(
            [Bar(D(2024, 6, 3), 80.0), Bar(D(2024, 6, 4), 81.0)],
            regular_market_price=81.0, regular_market_time=dt.datetime(2024, 6, 4, 20, 0, tzinfo=UTC),
            close_before_table=79.0, currency="CAD", timezone="America/Toronto"),
        # Xetra, in euros.
        "SAP.DE": FakeSymbol(
            [Bar(D(2024, 6, 3), 170.5), Bar(D(2024, 6, 4), 171.25, dividend=2.2)],
            regular_market_price=171.25, regular_market_time=dt.datetime(2024, 6, 4, 15, 35, tzinfo=UTC),
            close_before_table=169.0, currency="EUR", timezone="Europe/Berlin"),
        # London in pence under the name some feeds use for it (GBX, not Yahoo's usual GBp).
        "BARC.L": FakeSymbol(
            [Bar(D(2024, 6, 3), 212.4), Bar(D(2024, 6, 4), 215.0)],
            regular_market_price=215.0, regular_market_time=dt.datetime(2024, 6, 4, 15, 30, tzinfo=UTC),
            close_before_table=210.0, currency="GBX", timezone="Europe/London"),
        # A pair: Yahoo reports the currency it is quoted in (USD per euro), on its CCY exchange in London time.
        "EURUSD=X": FakeSymbol(
            [Bar(D(2024, 6, 3), 1.0850, volume=0), Bar(D(2024, 6, 4), 1.0872, volume=0)],
            regular_market_price=1.0872, regular_market_time=dt.datetime(2024, 6, 4, 22, 59, tzinfo=UTC),
            close_before_table=1.0841, currency="USD", timezone="Europe/London", instrument_type="CURRENCY"),
        "FAIL": FakeSymbol(
            [Bar(D(2024, 6, 3), 10.0)],
            regular_market_price=10.0, regular_market_time=dt.datetime(2024, 6, 3, 20, 0, tzinfo=UTC),
            close_before_table=9.0),
    }


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any real connection attempt fails the test (the fake serves everything)."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(autouse=True)
def fresh_yfinance():
    """yfinance keeps one process-wide YfData (session, cookie, crumb): no test starts or ends with one."""
    SingletonMeta._instances.pop(YfData, None)
    yield
    SingletonMeta._instances.pop(YfData, None)


@pytest.fixture
def yahoo():
    fake = FakeYahooSession(table())
    yield fake
    assert fake.unexpected == [], "the provider asked for URLs the fake does not serve"


@pytest.fixture
def provider(tmp_path, yahoo):
    # A new tmp_path per test also gives yfinance empty tz and cookie caches.
    return YahooProvider(tmp_path, session=yahoo, timeout_s=5.0)


def fetch_one(provider: YahooProvider, ticker: str, start: dt.date = JUNE_1) -> TickerHistory | ProviderError:
    results = provider.fetch([FetchRequest(ticker, start)])
    assert list(results) == [ticker]
    return results[ticker]


def history(provider: YahooProvider, ticker: str, start: dt.date = JUNE_1) -> TickerHistory:
    result = fetch_one(provider, ticker, start)
    assert isinstance(result, TickerHistory), result
    return result


def dates(*days: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(days, name="date")


# -- bars ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ticker", "start", "days", "close", "dividend", "split"), [
    pytest.param("AAPL", JUNE_1, ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06"],
                 [100.0, 51.0, 52.0, 53.5], [0.0, 0.0, 0.25, 0.0], [1.0, 2.0, 1.0, 1.0],
                 id="split-unadjusted"),
    pytest.param("AAPL", D(2024, 6, 4), ["2024-06-04", "2024-06-05", "2024-06-06"],
                 [51.0, 52.0, 53.5], [0.0, 0.25, 0.0], [2.0, 1.0, 1.0], id="window-from-split-day"),
    pytest.param("MSFT", D(2024, 5, 29), ["2024-05-30", "2024-05-31", "2024-06-03"],
                 [60.0, 63.0, 22.0], [1.5, 0.0, 0.0], [1.0, 1.0, 3.0], id="dividend-before-split"),
    pytest.param("NVDA", JUNE_1, ["2024-06-06", "2024-06-07"],
                 [120.0, 61.0], [0.0, 0.0], [1.0, 2.0], id="split-on-last-day"),
    pytest.param("VOD.L", JUNE_1, ["2024-06-03", "2024-06-04"],
                 [0.705, 0.712], [0.0, 0.025], [1.0, 1.0], id="pence-to-pounds"),
    pytest.param("SHOP.TO", JUNE_1, ["2024-06-03", "2024-06-04"],
                 [80.0, 81.0], [0.0, 0.0], [1.0, 1.0], id="toronto"),
    # Euros as sent; GBX pence / 100 (212.4p = 2.124 GBP); a pair's rate as sent.
    pytest.param("SAP.DE", JUNE_1, ["2024-06-03", "2024-06-04"],
                 [170.5, 171.25], [0.0, 2.2], [1.0, 1.0], id="euro"),
    pytest.param("BARC.L", JUNE_1, ["2024-06-03", "2024-06-04"],
                 [2.124, 2.15], [0.0, 0.0], [1.0, 1.0], id="gbx-to-pounds"),
    pytest.param("EURUSD=X", JUNE_1, ["2024-06-03", "2024-06-04"],
                 [1.0850, 1.0872], [0.0, 0.0], [1.0, 1.0], id="fx-pair"),
])
def test_bars_are_as_traded(provider, ticker, start, days, close, dividend, split):
    bars = history(provider, ticker, start).bars

    assert tuple(bars.columns) == BAR_COLUMNS
    assert bars.index.equals(dates(*days))
    assert bars.index.tz is None
    assert list(bars.dtypes) == ["float64"] * 3
    assert bars["close"].tolist() == pytest.approx(close)
    assert bars["dividend"].tolist() == pytest.approx(dividend)
    assert bars["split"].tolist() == pytest.approx(split)


# -- quote ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ticker", "start", "price", "previous_close", "currency", "market_time"), [
    # Several bars: the previous close is the bar before the last (Yahoo's, on today's share basis).
    pytest.param("AAPL", JUNE_1, 53.5, 52.0, "USD", dt.datetime(2024, 6, 6, 20, 0, tzinfo=UTC), id="usd"),
    pytest.param("NVDA", JUNE_1, 61.0, 60.0, "USD", dt.datetime(2024, 6, 7, 20, 0, tzinfo=UTC),
                 id="split-today-compares-like-with-like"),
    pytest.param("VOD.L", JUNE_1, 0.712, 0.705, "GBP", dt.datetime(2024, 6, 4, 15, 30, tzinfo=UTC), id="gbp"),
    pytest.param("SHOP.TO", JUNE_1, 81.0, 80.0, "CAD", dt.datetime(2024, 6, 4, 20, 0, tzinfo=UTC), id="cad"),
    pytest.param("SAP.DE", JUNE_1, 171.25, 170.5, "EUR", dt.datetime(2024, 6, 4, 15, 35, tzinfo=UTC), id="eur"),
    pytest.param("BARC.L", JUNE_1, 2.15, 2.124, "GBP", dt.datetime(2024, 6, 4, 15, 30, tzinfo=UTC), id="gbx"),
    pytest.param("EURUSD=X", JUNE_1, 1.0872, 1.0850, "USD", dt.datetime(2024, 6, 4, 22, 59, tzinfo=UTC),
                 id="fx-pair-in-its-quote-currency"),
    # One bar: chartPreviousClose, the close before the range (5 June's 52.0), is the session before it.
    pytest.param("AAPL", D(2024, 6, 6), 53.5, 52.0, "USD", dt.datetime(2024, 6, 6, 20, 0, tzinfo=UTC),
                 id="one-bar-uses-chart-previous-close"),
    pytest.param("VOD.L", D(2024, 6, 4), 0.712, 0.705, "GBP", dt.datetime(2024, 6, 4, 15, 30, tzinfo=UTC),
                 id="one-bar-pence"),
])
def test_quote(provider, ticker, start, price, previous_close, currency, market_time):
    before = dt.datetime.now(UTC)
    quote = history(provider, ticker, start).quote
    after = dt.datetime.now(UTC)

    assert quote.ticker == ticker
    assert quote.price == pytest.approx(price)
    assert quote.previous_close == pytest.approx(previous_close)
    assert quote.currency == currency
    assert quote.market_time == market_time
    assert quote.market_time.utcoffset() == dt.timedelta(0)
    assert before <= quote.fetched_at <= after


def test_a_range_without_sessions_still_gives_the_quote(provider):
    # Asked from Saturday 8 June, after the last bar: Yahoo answers the meta with no bars.
    result = history(provider, "AAPL", D(2024, 6, 8))

    assert result.bars.empty
    assert tuple(result.bars.columns) == BAR_COLUMNS
    assert result.quote.price == 53.5
    assert result.quote.previous_close is None  # unknown without a bar; never made up
    assert result.quote.market_time == dt.datetime(2024, 6, 6, 20, 0, tzinfo=UTC)


def test_fetch_answers_every_requested_symbol(provider):
    results = provider.fetch([FetchRequest("AAPL", JUNE_1), FetchRequest("NOPE", JUNE_1)])

    assert set(results) == {"AAPL", "NOPE"}
    assert isinstance(results["AAPL"], TickerHistory)
    assert isinstance(results["NOPE"], SymbolNotFoundError)
    assert provider.fetch([]) == {}


# -- errors --------------------------------------------------------------------------------------------------

def test_delisted_symbol_is_not_found_and_others_still_work(provider, yahoo):
    yahoo.fail("FAIL", "404")

    assert isinstance(fetch_one(provider, "AAPL"), TickerHistory)
    error = fetch_one(provider, "FAIL")
    after = fetch_one(provider, "MSFT", D(2024, 5, 29))

    assert isinstance(error, SymbolNotFoundError)
    assert not error.transient
    assert "No data found, symbol may be delisted" in str(error)
    assert isinstance(after, TickerHistory)
    assert after.bars["close"].tolist() == pytest.approx([60.0, 63.0, 22.0])
    # yfinance 1.7 meets any HTTP >= 400 by switching cookie strategy, getting a new crumb and asking again.
    assert yahoo.chart_requests("FAIL") == 2


def test_unknown_symbol_is_not_found(provider, yahoo):
    error = fetch_one(provider, "ZZZZ")  # not in the table: the fake answers 404 like Yahoo

    assert isinstance(error, SymbolNotFoundError)
    assert yahoo.chart_requests("ZZZZ") == 2


def test_malformed_symbol_is_not_found_without_asking(provider, yahoo):
    error = fetch_one(provider, "no such$")

    assert isinstance(error, SymbolNotFoundError)
    assert sum(yahoo.counts.values()) == 0


@pytest.mark.parametrize(("failure", "expected", "transient"), [
    pytest.param("429", RateLimitError, False, id="429-rate-limited"),
    pytest.param("500", TransientError, True, id="500-html"),
    pytest.param("500json", TransientError, True, id="500-json-without-chart"),
    pytest.param("timeout", TransientError, True, id="read-timeout"),
])
def test_failures_map_to_the_contract(provider, yahoo, failure, expected, transient):
    yahoo.fail("FAIL", failure)

    error = fetch_one(provider, "FAIL")
    later = fetch_one(provider, "AAPL")  # the same provider goes on working

    assert type(error) is expected
    assert error.transient is transient
    assert "FAIL" in str(error)
    assert isinstance(later, TickerHistory)


@pytest.mark.parametrize(("error", "http_status", "expected"), [
    pytest.param(YFRateLimitError(), 429, RateLimitError, id="429"),
    pytest.param(YFPricesMissingError("X", "", yahoo_reason="No data found"), 404, SymbolNotFoundError, id="404"),
    pytest.param(YFPricesMissingError("X", ""), 502, TransientError, id="502-without-chart"),
    pytest.param(YFPricesMissingError("X", ""), 401, ProviderError, id="401-crumb-refused"),
    pytest.param(YFDataException("*** YAHOO! FINANCE IS CURRENTLY DOWN! ***"), 200, TransientError, id="down"),
    pytest.param(json.JSONDecodeError("Expecting value", "<html>", 0), 200, TransientError, id="not-json"),
    pytest.param(ConnectionResetError("reset by peer"), None, TransientError, id="connection-reset"),
    pytest.param(KeyError("chart"), 200, ProviderError, id="unexpected"),
    # Reached, then too slow or cut off: transient, not unreachable.
    pytest.param(requests.exceptions.ReadTimeout("read timed out"), None, TransientError, id="requests-read-timeout"),
    pytest.param(curl_exceptions.Timeout("Failed to perform, curl: (28) Operation timed out after 20001 milliseconds "
                                         "with 0 bytes received", code=28), None, TransientError,
                 id="curl-read-timeout"),
    pytest.param(curl_exceptions.ConnectionError("Failed to perform, curl: (56) Recv failure: Connection reset by "
                                                 "peer", code=56), None, TransientError, id="curl-recv-failure"),
    # Never reached.
    pytest.param(socket.gaierror(-3, "Temporary failure in name resolution"), None, UnreachableError, id="gaierror"),
    pytest.param(ConnectionRefusedError(111, "Connection refused"), None, UnreachableError, id="refused"),
    pytest.param(OSError(101, "Network is unreachable"), None, UnreachableError, id="enetunreach"),
    pytest.param(curl_exceptions.ProxyError("Failed to perform, curl: (5) Could not resolve proxy: p", code=5), None,
                 UnreachableError, id="curl-proxy"),
    pytest.param(curl_exceptions.ConnectionError("Failed to perform, curl: (7) Failed to connect to fc.yahoo.com:443 "
                                                 "over proxy 127.0.0.1 after 0 ms: Could not connect to server",
                                                 code=7), None, UnreachableError, id="curl-proxy-refused"),
])
def test_classify_error(error, http_status, expected):
    assert type(classify_error("X", error, http_status)) is expected


def test_an_unreachable_cause_is_found_inside_what_yfinance_raises():
    # yfinance may raise its own exception from the client's (raise ... from error).
    try:
        try:
            raise curl_exceptions.DNSError("Failed to perform, curl: (6) Could not resolve host: x", code=6)
        except curl_exceptions.DNSError as error:
            raise YFDataException("request failed") from error
    except YFDataException as wrapped:
        result = classify_error("X", wrapped, None)
    assert type(result) is UnreachableError
    assert str(result) == "X: Yahoo unreachable (DNSError: curl: (6) Could not resolve host: x)"


@pytest.mark.parametrize("client", ["requests", "curl"])
@pytest.mark.parametrize("how", FakeYahooSession.UNREACHABLE_KINDS)
def test_an_unreachable_yahoo_is_its_own_error_not_a_missing_symbol(provider, yahoo, how, client):
    yahoo.go_offline(how, client)

    error = fetch_one(provider, "AAPL")

    assert type(error) is UnreachableError, error
    assert error.transient  # a blip is retried by the price service; its circuit breaker stops a long outage
    assert not isinstance(error, SymbolNotFoundError)
    assert str(error).startswith("AAPL: Yahoo unreachable (")
    assert yahoo.counts["chart"] >= 1  # the chart request itself was attempted, and raised

    yahoo.go_online()
    assert isinstance(fetch_one(provider, "AAPL"), TickerHistory)  # the same provider recovers


@pytest.mark.parametrize(("client", "how"), [("requests", "dns"), ("curl", "refused")])
def test_the_fake_raises_as_the_client_does(client, how):
    prepared = requests.Request("GET", "https://fc.yahoo.com/").prepare()
    error = unreachable_error(how, client, prepared)
    assert isinstance(error, OSError)  # both clients' exceptions are OSErrors, as yfinance's checks expect
    assert type(classify_error("X", error, None)) is UnreachableError


def test_a_timeout_is_not_retried_by_the_provider(provider, yahoo):
    yahoo.fail("FAIL", "timeout")

    fetch_one(provider, "FAIL")

    assert yahoo.chart_requests("FAIL") == 1  # retrying is the price service's job


# -- request counts ------------------------------------------------------------------------------------------

TICKERS = ["AAPL", "MSFT", "NVDA", "VOD.L", "SHOP.TO"]


def test_one_chart_request_per_ticker_after_one_cookie_and_crumb(provider, yahoo):
    for ticker in TICKERS:
        assert isinstance(fetch_one(provider, ticker), TickerHistory)

    assert yahoo.counts == {"cookie": 1, "crumb": 1, "chart": len(TICKERS)}
    assert [yahoo.chart_requests(t) for t in TICKERS] == [1] * len(TICKERS)

    for ticker in TICKERS:  # again: nothing but the chart requests
        fetch_one(provider, ticker)
    assert yahoo.counts == {"cookie": 1, "crumb": 1, "chart": 2 * len(TICKERS)}


def test_parallel_fetches_share_one_cookie_and_crumb(provider, yahoo):
    # How the price service runs the provider: many single-symbol fetches on a thread pool.
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda t: fetch_one(provider, t), TICKERS * 2))

    assert all(isinstance(r, TickerHistory) for r in results)
    assert yahoo.counts == {"cookie": 1, "crumb": 1, "chart": 2 * len(TICKERS)}


def test_timezones_come_from_the_caller_not_from_yahoo(tmp_path, yahoo):
    asked: list[str] = []

    def exchange_tz(ticker: str) -> str:
        asked.append(ticker)
        return "Asia/Tokyo" if ticker == "AAPL" else default_exchange_tz(ticker)  # a wrong guess for AAPL

    provider = YahooProvider(tmp_path, session=yahoo, exchange_tz=exchange_tz)
    for ticker in ["AAPL", "VOD.L", "AAPL"]:
        assert isinstance(fetch_one(provider, ticker), TickerHistory)

    assert yahoo.counts["timezone"] == 0
    assert asked == ["AAPL", "VOD.L"]  # once per ticker: then it is in yfinance's cache
    tz_cache = yf_cache.get_tz_cache()
    assert tz_cache.lookup("VOD.L") == "Europe/London"
    assert tz_cache.lookup("AAPL") == "America/New_York"  # corrected from Yahoo's answer


def test_without_a_primed_timezone_yfinance_asks_yahoo(provider, yahoo):
    # Why the provider primes the tz cache (and proof the fake can see a timezone request at all).
    yf.Ticker("SHOP.TO", session=yahoo).history(start=JUNE_1, auto_adjust=False)

    assert yahoo.counts["timezone"] == 1


def test_default_exchange_timezones():
    assert default_exchange_tz("AAPL") == "America/New_York"
    assert default_exchange_tz("VOD.L") == "Europe/London"
    assert default_exchange_tz("SHOP.TO") == "America/Toronto"
    assert default_exchange_tz("^GSPC") == "America/New_York"
    assert default_exchange_tz("SAP.DE") == "Europe/Berlin"
    assert default_exchange_tz("7203.T") == "Asia/Tokyo"
    assert default_exchange_tz("EURUSD=X") == "Europe/London"


# -- logging while Yahoo is unreachable (issue 11) -----------------------------------------------------------------

def test_yfinance_cookie_and_crumb_warnings_are_dropped_other_records_pass():
    quiet = QuietCookieWarnings()

    def record(level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord("yfinance", level, __file__, 1, message, None, None)

    assert not quiet.filter(record(logging.WARNING, "Cookie/crumb fetch failed (DNSError), continuing without crumb"))
    assert not quiet.filter(record(logging.WARNING, "Cookie fetch from fc.yahoo.com failed (ConnectionError), "
                                                    "continuing without it"))
    assert not quiet.filter(record(logging.WARNING, "Crumb fetch rate-limited (HTTP 429), continuing without crumb"))
    assert quiet.filter(record(logging.WARNING, "Have not implemented price reconstruct for '1h' interval"))
    assert quiet.filter(record(logging.ERROR, "Cookie jar is corrupt"))  # errors always pass
    assert any(isinstance(f, QuietCookieWarnings) for f in logging.getLogger("yfinance").filters)


def test_an_unreachable_yahoo_writes_no_yfinance_warnings(provider, yahoo, caplog):
    yahoo.go_offline("dns", "requests")
    caplog.set_level(logging.DEBUG + 1)  # everything but yfinance's debug trace

    results = [fetch_one(provider, ticker) for ticker in TICKERS * 4]

    assert all(type(r) is UnreachableError for r in results)
    assert yahoo.counts["chart"] == len(results)
    assert [r.getMessage() for r in caplog.records] == []


UNREACHABLE_TICKERS = tuple(f"T{i:02d}" for i in range(40))


def test_a_minute_of_polling_an_unreachable_yahoo_logs_a_bounded_handful(tmp_path, yahoo, make_service,
                                                                         price_cache, frozen_time, caplog):
    """Issue 11: offline, the log filled with ~160 yfinance lines a minute. Now: one warning when the circuit
    opens, one info line each time a half-open probe finds Yahoo still unreachable; and a closing line at the end.
    """
    from services.price_guards import CircuitBreaker
    from services.price_planning import Need

    yahoo.go_offline("dns", "requests")
    service = make_service(YahooProvider(tmp_path / "yf", session=yahoo, timeout_s=5.0), price_cache)
    service.circuit = CircuitBreaker(price_cache, "yahoo", service.settings.rate_limit_cooldown_s,
                                     now=frozen_time.epoch)
    needs = {t: Need(dt.date(2025, 6, 2)) for t in UNREACHABLE_TICKERS}
    caplog.set_level(logging.INFO)

    rounds, every_s = 150, 2  # five minutes of a page (or the warm-up) asking every 2 s
    for _ in range(rounds):
        service.fetch_prices_parallel(needs)
        frozen_time.advance(seconds=every_s)
    records = [(r.levelname, r.name, r.getMessage()) for r in caplog.records]
    attempts = yahoo.counts["chart"]

    assert not [r for r in records if r[1].startswith("yfinance")], records
    opened = [r for r in records if r[0] == "WARNING"]
    assert len(opened) == 1 and "price source unreachable" in opened[0][2], records
    # 120 s cool-down in 300 s: opened at 0 s, probed and opened again at ~120 s and ~240 s.
    assert len(records) <= 4, records
    # About one request per fetch thread at each opening (the threads that were already sending), never the
    # 40 tickers x 4 attempts of every round that found their failures expired.
    assert attempts <= 3 * 2 * service.settings.fetch_workers, attempts
    state = service.circuit.state()
    assert (state["state"], state["reason"]) == ("open", "unreachable")
    assert service.in_flight(UNREACHABLE_TICKERS) == []

    yahoo.go_online()  # back: after the cool-down the next round closes the circuit, and says so once
    frozen_time.advance(seconds=120)
    caplog.clear()
    service.fetch_prices_parallel(needs)
    assert service.circuit.state()["state"] == "closed"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == [
        "circuit breaker closed: yahoo answers again (it was unreachable for 420 s)"]
