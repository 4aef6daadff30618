"""A fake Yahoo Finance for yfinance: a requests.Session that answers from a table, offline.

yfinance 1.7 accepts a plain `requests.Session` (see `yfinance._http.is_supported_session`), as its own
tests/replay.py does, so the real yfinance code (cookie, crumb, chart parsing) runs against these answers.
The chart JSON is shaped like Yahoo's v8 answer for daily bars to
`GET https://query2.finance.yahoo.com/v8/finance/chart/<SYM>?period1=..&period2=..&interval=1d
&includePrePost=False&events=div,splits,capitalGains&crumb=..`, the request yfinance 1.7's history() sends.
Every request is counted by kind; any URL the fake does not know raises, so nothing can reach the network.

`go_offline(how, client)` makes every request raise what the client raises when Yahoo cannot be reached (no DNS,
connection refused, connect timeout), as `requests` (urllib3's error wrapped in MaxRetryError) or curl_cffi (the
session yfinance makes by default; libcurl's code on the exception) raise it; `go_online()` ends it.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests
from curl_cffi.requests import exceptions as curl_exceptions
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

CRUMB = "fake-crumb-Xy1"
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
# Regular session hours (local) per exchange timezone; daily bars are stamped with the session's open.
SESSIONS = {"America/New_York": ((9, 30), (16, 0)), "Europe/London": ((8, 0), (16, 30)),
            "America/Toronto": ((9, 30), (16, 0)), "Europe/Berlin": ((9, 0), (17, 30))}
EXCHANGES = {"America/New_York": "NMS", "Europe/London": "LSE", "America/Toronto": "TOR", "Europe/Berlin": "GER"}
# Exchange-rate pairs (EURUSD=X): Yahoo's "CCY" exchange in London time, daily bars stamped at midnight.
CURRENCY_SESSION = ((0, 0), (23, 59))

# Yahoo's answers, byte for byte where it matters to yfinance.
DELISTED_BODY = {"chart": {"result": None, "error": {
    "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
SERVER_ERROR_HTML = ("<!doctype html><html><head><title>Yahoo! - Error report</title></head>"
                     "<body><h1>HTTP Status 500 - Internal Server Error</h1></body></html>")
SERVER_ERROR_JSON = {"finance": {"result": None, "error": {"code": "internal-error",
                                                           "description": "Internal Server Error"}}}


class UnexpectedRequest(AssertionError):
    """The code under test asked for a URL the fake does not serve (it would have gone to the network)."""


@dataclass(frozen=True)
class Bar:
    """One daily bar as Yahoo sends it: `close` already adjusted for later splits, `dividend` likewise."""

    day: dt.date
    close: float
    volume: int = 1_000_000
    dividend: float = 0.0
    split: tuple[int, int] | None = None  # (numerator, denominator), e.g. (2, 1) for a 2-for-1


@dataclass
class FakeSymbol:
    bars: list[Bar]
    regular_market_price: float
    regular_market_time: dt.datetime  # UTC
    close_before_table: float  # Yahoo's close of the session before the first bar of `bars`
    currency: str = "USD"
    timezone: str = "America/New_York"
    instrument_type: str = "EQUITY"  # "CURRENCY" for a pair: the CCY exchange and its all-day session
    failure: str | None = None  # None, "429", "404", "500", "500json", "timeout"


def _timestamp(day: dt.date, hour_minute: tuple[int, int], tz: str) -> int:
    local = dt.datetime.combine(day, dt.time(*hour_minute), tzinfo=ZoneInfo(tz))
    return int(local.timestamp())


def chart_json(symbol: str, fake: FakeSymbol, period1: int, period2: int) -> dict:
    """Yahoo's v8 chart answer: the daily bars stamped in [period1, period2) (epoch seconds)."""
    tz = ZoneInfo(fake.timezone)
    pair = fake.instrument_type == "CURRENCY"
    opens_at, closes_at = CURRENCY_SESSION if pair else SESSIONS[fake.timezone]
    exchange = "CCY" if pair else EXCHANGES[fake.timezone]
    bars = [b for b in fake.bars if period1 <= _timestamp(b.day, opens_at, fake.timezone) < period2]
    # chartPreviousClose is the close of the last session BEFORE the range (Yahoo: before period1).
    earlier = [b for b in fake.bars if _timestamp(b.day, opens_at, fake.timezone) < period1]
    chart_previous_close = earlier[-1].close if earlier else fake.close_before_table
    stamps = [_timestamp(b.day, opens_at, fake.timezone) for b in bars]
    market_local = fake.regular_market_time.astimezone(tz)
    gmtoffset = int(market_local.utcoffset().total_seconds())

    def period(hour_minute_start: tuple[int, int], hour_minute_end: tuple[int, int]) -> dict:
        day = market_local.date()
        return {"timezone": market_local.tzname(), "gmtoffset": gmtoffset,
                "start": _timestamp(day, hour_minute_start, fake.timezone),
                "end": _timestamp(day, hour_minute_end, fake.timezone)}

    meta = {
        "currency": fake.currency, "symbol": symbol, "exchangeName": exchange,
        "fullExchangeName": exchange, "instrumentType": fake.instrument_type,
        "firstTradeDate": 345479400, "regularMarketTime": int(fake.regular_market_time.timestamp()),
        "hasPrePostMarketData": True, "gmtoffset": gmtoffset, "timezone": market_local.tzname(),
        "exchangeTimezoneName": fake.timezone, "regularMarketPrice": fake.regular_market_price,
        "regularMarketDayHigh": fake.regular_market_price, "regularMarketDayLow": fake.regular_market_price,
        "regularMarketVolume": bars[-1].volume if bars else 0, "longName": f"{symbol} Inc.",
        "shortName": symbol, "chartPreviousClose": chart_previous_close, "priceHint": 2,
        # Daily answers carry currentTradingPeriod; the tradingPeriods list only comes with intraday ones.
        "currentTradingPeriod": {"pre": period((4, 0), opens_at), "regular": period(opens_at, closes_at),
                                 "post": period(closes_at, CURRENCY_SESSION[1] if pair else (20, 0))},
        "dataGranularity": "1d", "range": "", "validRanges": VALID_RANGES,
    }
    result: dict = {"meta": meta}
    if not bars:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return {"chart": {"result": [result], "error": None}}
    result["timestamp"] = stamps
    events: dict = {}
    dividends = {str(s): {"amount": b.dividend, "date": s}
                 for b, s in zip(bars, stamps, strict=True) if b.dividend}
    splits = {str(s): {"date": s, "numerator": float(b.split[0]), "denominator": float(b.split[1]),
                       "splitRatio": f"{b.split[0]}:{b.split[1]}"}
              for b, s in zip(bars, stamps, strict=True) if b.split}
    if dividends:
        events["dividends"] = dividends
    if splits:
        events["splits"] = splits
    if events:
        result["events"] = events
    closes = [b.close for b in bars]
    result["indicators"] = {
        "quote": [{"open": closes, "high": [c * 1.01 for c in closes], "low": [c * 0.99 for c in closes],
                   "close": closes, "volume": [b.volume for b in bars]}],
        "adjclose": [{"adjclose": _dividend_adjusted(bars)}],
    }
    return {"chart": {"result": [result], "error": None}}


def _dividend_adjusted(bars: list[Bar]) -> list[float]:
    """Yahoo's adjclose: a dividend scales the closes before its ex-date by 1 - dividend / previous close."""
    factors = [1.0] * len(bars)
    for i, bar in enumerate(bars):
        if bar.dividend and i > 0:
            factor = 1.0 - bar.dividend / bars[i - 1].close
            for j in range(i):
                factors[j] *= factor
    return [b.close * f for b, f in zip(bars, factors, strict=True)]


class FakeYahooSession(requests.Session):
    """Serves Yahoo's cookie, crumb and chart endpoints from `symbols`; counts requests by kind."""

    def __init__(self, symbols: dict[str, FakeSymbol] | None = None):
        super().__init__()
        self.symbols: dict[str, FakeSymbol] = dict(symbols or {})
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (kind, full URL), in order
        self.unexpected: list[str] = []
        self.offline: tuple[str, str] | None = None  # (how, client) while unreachable; see go_offline
        self._lock = threading.Lock()  # the provider is used from many threads at once

    UNREACHABLE_KINDS = ("dns", "refused", "connect_timeout")

    def go_offline(self, how: str = "dns", client: str = "requests") -> None:
        """From now on every request raises as `client` ("requests" | "curl") does when Yahoo is unreachable."""
        assert how in self.UNREACHABLE_KINDS and client in ("requests", "curl"), (how, client)
        self.offline = (how, client)

    def go_online(self) -> None:
        self.offline = None

    def fail(self, symbol: str, failure: str | None) -> None:
        self.symbols[symbol].failure = failure

    def chart_requests(self, symbol: str | None = None) -> int:
        return sum(1 for kind, url in self.log
                   if kind == "chart" and (symbol is None or urlsplit(url).path.endswith(f"/{symbol}")))

    def request(self, method, url, params=None, **kwargs):
        prepared = requests.Request(method, url, params=params).prepare()
        parts = urlsplit(prepared.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        kind = self._kind(parts.hostname or "", parts.path, query)
        with self._lock:
            self.counts[kind] += 1
            self.log.append((kind, prepared.url))
        if kind == "unexpected":
            self.unexpected.append(f"{method} {prepared.url}")
            raise UnexpectedRequest(f"fake Yahoo does not serve {method} {prepared.url}")
        if self.offline is not None:
            raise unreachable_error(*self.offline, prepared)
        if kind == "cookie":
            # Like fc.yahoo.com: a 404 page that sets the A3 cookie yfinance keeps (it ignores the status).
            self.cookies.set("A3", "d=AQABBfake&S=AQAAAfake", domain=".yahoo.com", path="/",
                             expires=int(dt.datetime.now(dt.UTC).timestamp()) + 365 * 86400)
            return _response(prepared, 404, "<html><body>404 Not Found</body></html>", "text/html")
        if kind == "crumb":
            return _response(prepared, 200, CRUMB, "text/plain")
        if kind == "consent":  # no consent form outside the EU: yfinance falls back to the basic cookie
            return _response(prepared, 200, "<html><body>no consent needed</body></html>", "text/html")
        return self._chart(prepared, parts.path.rsplit("/", 1)[-1], query)

    @staticmethod
    def _kind(host: str, path: str, query: dict) -> str:
        if host == "fc.yahoo.com":
            return "cookie"
        if host in ("query1.finance.yahoo.com", "query2.finance.yahoo.com"):
            if path == "/v1/test/getcrumb":
                return "crumb"
            if path.startswith("/v8/finance/chart/"):
                # yfinance's timezone lookup asks for range=1d; history() asks for period1/period2.
                return "chart" if "period1" in query else "timezone"
        if host == "guce.yahoo.com" and path == "/consent":
            return "consent"
        return "unexpected"

    def _chart(self, prepared, symbol: str, query: dict) -> requests.Response:
        fake = self.symbols.get(symbol)
        if fake is None:
            return _response(prepared, 404, json.dumps(DELISTED_BODY))
        if fake.failure == "timeout":
            raise requests.exceptions.ReadTimeout(f"fake: read timed out for {symbol}")
        if fake.failure == "429":
            return _response(prepared, 429, "Too Many Requests\r\n", "text/plain")
        if fake.failure == "404":
            return _response(prepared, 404, json.dumps(DELISTED_BODY))
        if fake.failure == "500":
            return _response(prepared, 500, SERVER_ERROR_HTML, "text/html")
        if fake.failure == "500json":
            return _response(prepared, 500, json.dumps(SERVER_ERROR_JSON))
        if "period1" not in query:
            period1, period2 = 0, int(dt.datetime.now(dt.UTC).timestamp())  # range=... (timezone lookup)
        else:
            period1, period2 = int(query["period1"]), int(query["period2"])
        return _response(prepared, 200, json.dumps(chart_json(symbol, fake, period1, period2)))


def unreachable_error(how: str, client: str, prepared) -> Exception:
    """The exception `client` raises for `prepared` when its host cannot be reached, shaped as the client's own."""
    host = urlsplit(prepared.url).hostname
    if client == "curl":  # curl_cffi's messages and libcurl's codes, as curl_cffi 0.17 raises them
        tail = ". See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
        if how == "dns":
            return curl_exceptions.DNSError(f"Failed to perform, curl: (6) Could not resolve host: {host}{tail}",
                                            code=6)
        if how == "refused":
            return curl_exceptions.ConnectionError(
                f"Failed to perform, curl: (7) Failed to connect to {host} port 443 after 0 ms: Couldn't connect to "
                f"server{tail}", code=7)
        return curl_exceptions.Timeout(
            f"Failed to perform, curl: (28) Connection timed out after 5001 milliseconds{tail}", code=28)
    # requests: urllib3 gives up (MaxRetryError, whose reason is the cause) and requests wraps that.
    if how == "dns":
        cause = NameResolutionError(host, None, socket.gaierror(-2, "Name or service not known"))
        return requests.exceptions.ConnectionError(MaxRetryError(None, prepared.path_url, cause), request=prepared)
    if how == "refused":
        cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
        return requests.exceptions.ConnectionError(MaxRetryError(None, prepared.path_url, cause), request=prepared)
    cause = ConnectTimeoutError(None, f"Connection to {host} timed out. (connect timeout=5.0)")
    return requests.exceptions.ConnectTimeout(MaxRetryError(None, prepared.path_url, cause), request=prepared)


def _response(prepared, status: int, body: str, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers["Content-Type"] = f"{content_type};charset=utf-8"
    response.encoding = "utf-8"
    response.url = prepared.url
    response.request = prepared
    return response
