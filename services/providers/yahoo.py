"""Daily bars and the latest quote from Yahoo Finance, through yfinance (1.7).

One `fetch` of one symbol is one request to Yahoo's v8 chart endpoint (`max_batch = 1`): the price service
runs many in parallel behind its rate limiter, and retries what we report as transient. So this module has no
thread pool and no retry loop of its own; it maps every outcome to a `TickerHistory` or a `ProviderError`.

How we keep it to one HTTP request per symbol (after the one-time cookie and crumb):
- yfinance's caches point at a writable folder (`cache_dir / "yfinance"`). Without a working cookie cache
  yfinance fetches the fc.yahoo.com cookie again before every request.
- The symbol's exchange timezone goes into yfinance's tz cache before the first `history()`: otherwise
  yfinance asks the chart endpoint once more (range=1d) just to learn it.
- The quote comes from the metadata of the same chart response (`get_history_metadata()` after `history()`
  makes no request as long as we do not read its lazy `tradingPeriods` key, which costs an intraday request).

Yahoo's answers are not what the contract wants as is, so we convert:
- "Close" and "Dividends" are adjusted for every split up to now; we multiply back by the splits after each
  day, so `close` is the price as traded and a cached bar never changes.
- Prices in minor units (GBp/GBX pence on most .L tickers, ZAc, ILA) are divided by 100 and reported in the major
  currency, as the ledger records them (services/providers/currency.py, shared with the demo provider).

When Yahoo cannot be reached at all (no DNS, connection refused, a timeout while connecting), every fetch fails
with `UnreachableError`, and the price service's circuit breaker stops asking. yfinance itself logs a warning
for each request whose cookie or crumb it could not get ("Cookie/crumb fetch failed (DNSError), continuing
without crumb"), about two per request: offline that was ~160 lines a minute (issue 11). Its outcome reaches us
as the request's own error, so those warnings are dropped here (`QuietCookieWarnings`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yfinance as yf
from yfinance import cache as yf_cache
from yfinance.exceptions import (
    YFPricesMissingError,
)

from services.models import Quote, is_valid_ticker
from services.providers.base import (
    FetchRequest,
    FetchResult,
    ProviderError,
    SymbolNotFoundError,
    TickerHistory,
    empty_bars,
)
from services.providers.currency import major_currency
from services.providers.yahoo_errors import classify_error
from services.providers.yahoo_parsing import (
    as_traded_bars,
    finite_number,
    previous_close,
    scaled,
    utc_time,
)

log = logging.getLogger(__name__)

CHART_PATH = "/v8/finance/chart/"

_SUFFIX_TIMEZONES = {
    ".L": "Europe/London", ".TO": "America/Toronto", ".DE": "Europe/Berlin", ".PA": "Europe/Paris",
    ".AS": "Europe/Amsterdam", ".MI": "Europe/Rome", ".MC": "Europe/Madrid", ".SW": "Europe/Zurich",
    ".T": "Asia/Tokyo", ".AX": "Australia/Sydney", ".HK": "Asia/Hong_Kong", ".JO": "Africa/Johannesburg",
    ".TA": "Asia/Jerusalem",
    "=X": "Europe/London",  # exchange-rate pairs: Yahoo's CCY exchange
}


def default_exchange_tz(ticker: str) -> str:
    """The IANA timezone of the exchange a Yahoo symbol trades on, from its suffix (New York if none); Yahoo's
    answer corrects a wrong guess for the next request."""
    for suffix, tz in _SUFFIX_TIMEZONES.items():
        if ticker.endswith(suffix):
            return tz
    return "America/New_York"


class QuietCookieWarnings(logging.Filter):
    """Drops yfinance's per-request warnings about its cookie and crumb (yfinance/data.py, `_make_request` and
    `_get_cookie_basic`): "Cookie/crumb fetch failed (DNSError), continuing without crumb", "Cookie fetch from
    fc.yahoo.com failed (...)", "Crumb fetch rate-limited (HTTP 429), continuing without crumb".

    yfinance goes on without the crumb, and what becomes of the request (an answer, a 429, a connection error)
    reaches the provider as its result, so the warning says nothing the outcome does not; but it comes once or
    twice per request, from every fetch thread. Errors and other warnings of yfinance still pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            return True
        message = record.getMessage().lower()
        return "crumb" not in message and "cookie" not in message


def _quiet_yfinance_logger() -> None:
    # yfinance logs on the "yfinance" logger itself (also through its indenting adapter, which wraps the same
    # logger), so a filter there sees every record it writes.
    logger = logging.getLogger("yfinance")
    if not any(isinstance(f, QuietCookieWarnings) for f in logger.filters):
        logger.addFilter(QuietCookieWarnings())


_configure_lock = threading.Lock()
_configured_cache_dir: Path | None = None


def _configure_yfinance(cache_dir: Path) -> None:
    """Process-wide yfinance settings, once: raise instead of log, and caches in a folder we can write."""
    global _configured_cache_dir
    with _configure_lock:
        # The supported replacement of history(raise_errors=True), deprecated in 1.7 (it warns on every call):
        # history() then raises YFPricesMissingError etc. instead of logging and returning an empty frame.
        yf.config.debug.hide_exceptions = False
        _quiet_yfinance_logger()
        if _configured_cache_dir == cache_dir:
            return
        cache_dir.mkdir(parents=True, exist_ok=True)
        yf.set_tz_cache_location(str(cache_dir))
        # yfinance opens each cache once and keeps it, so a new location only takes effect for caches not yet
        # opened. Forget the opened ones (only happens when the location changes, e.g. between tests).
        for manager, attribute in ((yf_cache._TzCacheManager, "_tz_cache"),
                                   (yf_cache._CookieCacheManager, "_Cookie_cache"),
                                   (yf_cache._ISINCacheManager, "_isin_cache")):
            if hasattr(manager, attribute):
                setattr(manager, attribute, None)
        _configured_cache_dir = cache_dir


def _new_session() -> Any:
    """The session yfinance itself would make: curl_cffi impersonating Chrome (Yahoo blocks plain clients)."""
    from curl_cffi import requests as curl_requests

    return curl_requests.Session(impersonate="chrome")


class YahooProvider:
    """`PriceProvider` over yfinance: one symbol per fetch, errors reported, never raised."""

    name = "yahoo"
    max_batch = 1
    simulated = False

    def __init__(self, cache_dir: Path, session: Any = None, timeout_s: float = 20.0,
                 exchange_tz: Callable[[str], str] | None = None):
        _configure_yfinance(Path(cache_dir) / "yfinance")
        self._session = session if session is not None else _new_session()
        self._timeout_s = timeout_s
        self._exchange_tz = exchange_tz or default_exchange_tz
        self._chart_status = threading.local()
        self._watch_chart_status(self._session)

    def _watch_chart_status(self, session: Any) -> None:
        """Remember, per thread, the HTTP status of the last chart response.

        yfinance parses the body without looking at the status, so a 5xx whose body is JSON without
        a "chart" (Yahoo sends such, e.g. yfinance issue #2721) would pass for "no data"
        (YFPricesMissingError), and a 401 for a refused crumb likewise. The status tells those apart from a
        real 404 "symbol may be delisted".
        Both session kinds yfinance accepts (requests, curl_cffi) route get() through request().
        """
        request = session.request
        chart_status = self._chart_status

        def request_and_record(*args: Any, **kwargs: Any) -> Any:
            response = request(*args, **kwargs)
            url = kwargs.get("url", args[1] if len(args) > 1 else "")
            if CHART_PATH in str(url):
                chart_status.value = response.status_code
            return response

        session.request = request_and_record

    def fetch(self, requests: Sequence[FetchRequest]) -> FetchResult:
        """Each symbol's bars from its start date and its latest quote, or why not. Never raises."""
        return {request.ticker: self._fetch_one(request) for request in requests}

    def _fetch_one(self, request: FetchRequest) -> TickerHistory | ProviderError:
        ticker = request.ticker
        if not is_valid_ticker(ticker):
            return SymbolNotFoundError(f"{ticker}: not a Yahoo symbol")
        self._chart_status.value = None
        try:
            return self._history(request)
        except Exception as error:
            result = classify_error(ticker, error, getattr(self._chart_status, "value", None))
            if type(result) is ProviderError:
                log.warning("yahoo: unexpected error for %s", ticker, exc_info=error)
            return result

    def _history(self, request: FetchRequest) -> TickerHistory:
        ticker = request.ticker
        primed_tz = self._prime_timezone(ticker)
        fetched_at = dt.datetime.now(dt.UTC)
        yf_ticker = yf.Ticker(ticker, session=self._session)
        try:
            frame = yf_ticker.history(start=request.start, interval="1d", auto_adjust=False, actions=True,
                                      timeout=self._timeout_s)
            missing: YFPricesMissingError | None = None
        except YFPricesMissingError as error:
            # Raised after the response's metadata is stored, so reading it below makes no request.
            frame, missing = None, error
        meta = yf_ticker.get_history_metadata()
        if frame is None or frame.empty:
            # No session in the range (a weekend, before the open) but Yahoo still sent the quote: keep it.
            if not finite_number(meta.get("regularMarketPrice")):
                raise missing or YFPricesMissingError(ticker, "(empty frame)")
            frame = None
        tz = meta.get("exchangeTimezoneName")
        if tz and tz != primed_tz:
            yf_cache.get_tz_cache().store(ticker, tz)  # Yahoo knows better than our guess: use it next time
        currency, divisor = major_currency(meta.get("currency"))
        bars = empty_bars() if frame is None else as_traded_bars(frame, divisor)
        quote = Quote(
            ticker=ticker,
            price=scaled(meta.get("regularMarketPrice"), divisor),
            previous_close=previous_close(frame, meta, divisor),
            currency=currency,
            market_time=utc_time(meta.get("regularMarketTime")),
            fetched_at=fetched_at,
        )
        return TickerHistory(ticker=ticker, bars=bars, quote=quote)

    def _prime_timezone(self, ticker: str) -> str | None:
        """Put the exchange timezone in yfinance's tz cache, so history() does not ask Yahoo for it."""
        tz_cache = yf_cache.get_tz_cache()
        known = tz_cache.lookup(ticker)
        if known:
            return known
        tz = self._exchange_tz(ticker)
        tz_cache.store(ticker, tz)
        return tz
