"""The offline price provider: deterministic simulated prices for any valid symbol.

Bars fall on the exchange's real trading days (exchange_calendars) from 2000 to today; each symbol's path is seeded
by its name, so every run, process and machine sees the same history. While the market is open the current price
moves minute by minute towards the day's close. Every price it gives is simulated and labelled so in the UI.

Each symbol is quoted in its exchange's currency as Yahoo reports it (services/providers/currency.py: `.L` in GBp
pence, `.DE` in EUR, ...), simulated at that unit's price level, and leaves the provider in the major unit (GBP)
through the same rule as Yahoo's answers. Exchange-rate pairs (`EURUSD=X`) are demo_fx.py's, every weekday.

Faults can be injected (DEMO_* settings), deterministically, so tests and demos can show the app under stress:
- `latency_ms`: every request waits this long first (60000 simulates a hang far beyond PRICE_WAIT_S);
- `fail_symbols`: always "not found" (delisted);
- `failure_rate` with `failure_kind`: the share of fetches that fail, and how. `transient` (the default: a
  dropped connection, retried) and `not_found` (Yahoo's spurious "possibly delisted") fail single symbols,
  decided by symbol and attempt number; `rate_limit` (HTTP 429) and `timeout` fail whole requests, decided by
  request number, because that is how Yahoo answers them;
- `failure_for_s`: the injected failures stop this many seconds after the first request (0: they never stop),
  so a test can watch the app recover (the circuit breaker close, stale prices refresh).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from services.market_hours import MarketClock, exchange_for
from services.models import Quote, is_valid_ticker
from services.providers.base import (
    FetchRequest,
    FetchResult,
    ProviderError,
    RateLimitError,
    SymbolNotFoundError,
    TickerHistory,
    TransientError,
)
from services.providers.currency import fx_pair, listed_currency, major_currency
from services.providers.demo_fx import FX_EXCHANGE, intraday_rate, is_known, simulated_rates

# Real splits of well-known tickers, so a sample ledger's SPLIT rows meet a matching drop in the simulated price.
KNOWN_SPLITS: dict[str, tuple[tuple[str, float], ...]] = {
    "AAPL": (("2014-06-09", 7.0), ("2020-08-31", 4.0)),
    "NVDA": (("2021-07-20", 4.0), ("2024-06-10", 10.0)),
    "TSLA": (("2020-08-31", 5.0), ("2022-08-25", 3.0)),
    "AMZN": (("2022-06-06", 20.0),),
    "GOOGL": (("2022-07-18", 20.0),),
    "WMT": (("2024-02-26", 3.0),),
    "AVGO": (("2024-07-15", 10.0),),
}
# The price on REFERENCE_DAY of a few well-known symbols, in the unit their exchange quotes (VOD.L: 68 pence),
# near the real one. Never a USD symbol: their simulated levels are what the sample ledger was priced from.
REFERENCE_PRICES: dict[str, float] = {
    "VOD.L": 68.0, "HSBA.L": 780.0, "BP.L": 395.0, "SHEL.L": 2500.0, "AZN.L": 10500.0, "LLOY.L": 55.0,
    "SAP.DE": 240.0, "SIE.DE": 190.0, "ASML.AS": 690.0, "MC.PA": 640.0, "NESN.SW": 75.0, "7203.T": 2800.0,
    "RY.TO": 175.0, "SHOP.TO": 155.0, "BHP.AX": 40.0, "0700.HK": 415.0,
}
# Any other symbol's level is drawn from 25-350 times this, by the unit it is quoted in: typical share prices on
# those exchanges (London's in pence: 250-3,500p, i.e. 2.50-35 GBP; Tokyo's 500-7,000 JPY).
PRICE_SCALE: dict[str, float] = {"GBp": 10.0, "JPY": 20.0, "AUD": 0.2, "HKD": 0.5, "ZAc": 100.0, "ILA": 20.0}
# Quarterly payers get a dividend in the first session of Feb, May, Aug and Nov.
DIVIDEND_MONTHS = (2, 5, 8, 11)
REFERENCE_DAY = pd.Timestamp("2025-01-02")  # after every known split
FAILURE_KINDS = ("transient", "rate_limit", "timeout", "not_found")
WHOLE_REQUEST_KINDS = ("rate_limit", "timeout")  # these fail a whole request, the others single symbols


def _seed(symbol: str) -> int:
    return zlib.crc32(symbol.encode("utf-8"))


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) for a string."""
    return zlib.crc32(text.encode("utf-8")) / 2**32


class DemoProvider:
    """Simulated daily bars and intraday quotes; one `fetch` call is one (simulated) upstream request."""

    name = "demo"
    max_batch = 100
    simulated = True

    def __init__(
        self,
        clock: MarketClock,
        latency_ms: int = 0,
        failure_rate: float = 0.0,
        fail_symbols: frozenset[str] = frozenset(),
        history_start: dt.date = dt.date(2000, 1, 1),
        sleep: Callable[[float], None] = time.sleep,
        failure_kind: str = "transient",
        failure_for_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if failure_kind not in FAILURE_KINDS:
            raise ValueError(f"failure_kind must be one of {', '.join(FAILURE_KINDS)}, got {failure_kind!r}")
        self._clock = clock
        self._latency_s = latency_ms / 1000.0
        self._failure_rate = failure_rate
        self._fail_symbols = fail_symbols
        self._failure_kind = failure_kind
        self._failure_for_s = failure_for_s
        self._monotonic = monotonic
        self._first_request_at: float | None = None
        self._requests = 0
        self._history_start = history_start
        self._sleep = sleep
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _outage(self) -> tuple[bool, int]:
        """(are injected failures on, this request's number), counting this request."""
        with self._lock:
            started = self._monotonic()
            if self._first_request_at is None:
                self._first_request_at = started
            number, self._requests = self._requests, self._requests + 1
        over = self._failure_for_s > 0 and started - self._first_request_at >= self._failure_for_s
        return bool(self._failure_rate) and not over, number

    def fetch(self, requests: Sequence[FetchRequest]) -> FetchResult:
        """Answer every symbol after one simulated round trip."""
        failing, number = self._outage()
        if self._latency_s:
            self._sleep(self._latency_s)
        if failing and self._failure_kind in WHOLE_REQUEST_KINDS and _unit(f"request:{number}") < self._failure_rate:
            error: ProviderError = (
                RateLimitError("HTTP 429 Too Many Requests (demo)") if self._failure_kind == "rate_limit"
                else TransientError("the request timed out (demo)")
            )
            return {request.ticker: error for request in requests}
        now = self._clock.now()
        result: FetchResult = {}
        for request in requests:
            try:
                result[request.ticker] = self._history(request, now, failing)
            except (SymbolNotFoundError, TransientError) as error:
                result[request.ticker] = error
        return result

    def _history(self, request: FetchRequest, now: dt.datetime, failing: bool = True) -> TickerHistory:
        ticker = request.ticker
        if not is_valid_ticker(ticker) or ticker in self._fail_symbols:
            raise SymbolNotFoundError(f"{ticker}: no data found, symbol may be delisted (demo)")
        with self._lock:
            attempt = self._attempts.get(ticker, 0)
            self._attempts[ticker] = attempt + 1
        # Deterministic failures: the same symbol and attempt number always fail or succeed alike.
        if (failing and self._failure_kind not in WHOLE_REQUEST_KINDS
                and _unit(f"{ticker}:{attempt}") < self._failure_rate):
            if self._failure_kind == "not_found":
                raise SymbolNotFoundError(f"{ticker}: no data found, symbol may be delisted (demo, simulated)")
            raise TransientError(f"{ticker}: simulated upstream failure (demo)")

        pair = fx_pair(ticker)
        if pair is not None and not is_known(pair):
            raise SymbolNotFoundError(f"{ticker}: no such currency pair (demo)")
        exchange = FX_EXCHANGE if pair else exchange_for(ticker)
        calendar_today = self._clock.latest_session(exchange, now)
        if pair:
            currency, divisor = pair[1], 1.0
            bars = simulated_rates(pair, self._history_start, calendar_today, self._clock)
        else:
            currency, divisor = major_currency(listed_currency(ticker))
            bars = _listed_bars(ticker, exchange, self._history_start, calendar_today, self._clock)
        session = self._clock.current_session(exchange, now)
        if session is not None and len(bars) and bars.index[-1].date() == session:
            # During the session the last bar is today's, and it moves towards the day's close.
            bars = bars.copy()
            bars.iloc[-1, 0] = self._intraday_price(ticker, pair, bars, exchange, session, now)
        if bars.empty:
            raise SymbolNotFoundError(f"{ticker}: no data in the requested range (demo)")
        # A range with no session yet (a position bought on a Saturday, asked for before Monday's close) has no
        # bars but still a quote, as Yahoo answers it: raising "not found" here left such a holding unpriced.
        window = _in_major_unit(bars.loc[bars.index >= pd.Timestamp(request.start)], divisor)
        last_close = float(bars["close"].iloc[-1]) / divisor
        previous_close = _previous_close(bars) / divisor if len(bars) >= 2 else None
        last_date = bars.index[-1].date()
        market_time = (
            now if session is not None and last_date == session
            else self._clock.calendar(exchange).session_close(pd.Timestamp(last_date)).to_pydatetime()
        )
        quote = Quote(
            ticker=ticker, price=last_close, previous_close=previous_close, currency=currency,
            market_time=market_time, fetched_at=now,
        )
        return TickerHistory(ticker=ticker, bars=window, quote=quote)

    def _intraday_price(self, ticker: str, pair: tuple[str, str] | None, bars: pd.DataFrame, exchange: str,
                        session: dt.date, now: dt.datetime) -> float:
        calendar = self._clock.calendar(exchange)
        opened = calendar.session_open(pd.Timestamp(session))
        closes = calendar.session_close(pd.Timestamp(session))
        elapsed = min(1.0, max(0.0, (pd.Timestamp(now) - opened) / (closes - opened)))
        minute = int(pd.Timestamp(now).timestamp() // 60)
        if pair:
            return intraday_rate(pair, self._history_start, session, self._clock, elapsed, minute)
        previous, target = _previous_close(bars), float(bars["close"].iloc[-1])
        wiggle = (_unit(f"{ticker}:{minute}") - 0.5) * 0.004 * (1.0 - elapsed)
        return round((previous + (target - previous) * elapsed) * (1.0 + wiggle), 4)


def _previous_close(bars: pd.DataFrame) -> float:
    """The close before the last bar, in the last bar's shares: on a split day the day before's close divided by
    the ratio, as Yahoo's regularMarketPreviousClose is (unadjusted, a 10:1 split showed as a -90 % day)."""
    split = float(bars["split"].iloc[-1])
    return float(bars["close"].iloc[-2]) / (split if split > 0 else 1.0)


def simulated_bars(ticker: str, exchange: str, start: dt.date, end: dt.date, clock: MarketClock) -> pd.DataFrame:
    """The full simulated history of one stock (not a pair: see `simulated_series`) up to `end`, in the major unit
    of its currency (VOD.L in GBP), as the provider serves it.

    Cached for a symbol quoted in a major unit: the same inputs give the same frame, which callers must not modify.
    """
    _, divisor = major_currency(listed_currency(ticker))
    return _in_major_unit(_listed_bars(ticker, exchange, start, end, clock), divisor)


def simulated_series(ticker: str, start: dt.date, end: dt.date, clock: MarketClock) -> tuple[pd.DataFrame, str]:
    """(the daily bars the provider serves for any symbol, exchange-rate pairs too, up to `end`; their currency),
    on the symbol's own calendar, without today's intraday move. SymbolNotFoundError for an unknown pair."""
    pair = fx_pair(ticker)
    if pair is None:
        exchange = exchange_for(ticker)
        return simulated_bars(ticker, exchange, start, end, clock), str(major_currency(listed_currency(ticker))[0])
    if not is_known(pair):
        raise SymbolNotFoundError(f"{ticker}: no such currency pair (demo)")
    return simulated_rates(pair, start, end, clock), pair[1]


def _in_major_unit(bars: pd.DataFrame, divisor: float) -> pd.DataFrame:
    if divisor == 1.0:
        return bars
    return bars.assign(close=bars["close"] / divisor, dividend=bars["dividend"] / divisor)


# Small: each entry is a whole history (~200 KB); regenerating one costs a few ms, holding 500 costs 100 MB.
@lru_cache(maxsize=64)
def _listed_bars(ticker: str, exchange: str, start: dt.date, end: dt.date, clock: MarketClock) -> pd.DataFrame:
    """The history in the unit the exchange quotes (VOD.L in pence), rounded there as the exchange would."""
    # The path is always generated through REFERENCE_DAY and then cut at `end`: the scaling below anchors on
    # that day, so a history that ends earlier is still a prefix of the one that ends later (cached bars and
    # a later tail fetch must agree).
    sessions = clock.sessions(exchange, start, max(end, REFERENCE_DAY.date()))
    rng = np.random.default_rng(_seed(ticker))
    annual_return = rng.uniform(0.02, 0.14)
    volatility = rng.uniform(0.010, 0.024)
    drawn = rng.uniform(25.0, 350.0)  # drawn for every symbol, so the returns below are the same whatever the level
    reference_price = REFERENCE_PRICES.get(ticker, drawn * PRICE_SCALE.get(listed_currency(ticker), 1.0))
    # Log-returns with the Ito correction, so the expected yearly growth is `annual_return`.
    drift = np.log1p(annual_return) / 252 - volatility**2 / 2
    returns = rng.normal(drift, volatility, size=len(sessions))
    value = np.exp(np.cumsum(returns))  # the worth of one original share, split-free
    split = np.ones(len(sessions))
    for day, ratio in KNOWN_SPLITS.get(ticker, ()):
        # A split before the first session is already in the prices; searchsorted would put it on day one.
        if len(sessions) and pd.Timestamp(day) < sessions[0]:
            continue
        position = sessions.searchsorted(pd.Timestamp(day))
        if position < len(sessions):
            split[position] = ratio
    raw = value / np.cumprod(split)  # as traded: each split divides the price from its day on
    # Scale so the price on the reference day is a plausible share price, whatever the path did before it.
    reference = min(sessions.searchsorted(REFERENCE_DAY), len(sessions) - 1) if len(sessions) else 0
    close = np.round(raw * reference_price / raw[reference], 4) if len(sessions) else raw
    dividend = np.zeros(len(sessions))
    # A generator of its own: drawn from `rng` after the returns, whether a symbol pays would depend on how
    # many sessions there are, so its dividends would come and go from one day to the next.
    dividend_rng = np.random.default_rng([_seed(ticker), 1])
    if dividend_rng.uniform() < 0.6:
        yield_per_quarter = dividend_rng.uniform(0.002, 0.008)
        months = sessions.month.to_numpy()
        first_of_month = np.r_[True, months[1:] != months[:-1]]
        paying = first_of_month & np.isin(months, DIVIDEND_MONTHS)
        dividend[paying] = np.round(close[paying] * yield_per_quarter, 4)
    bars = pd.DataFrame({"close": close, "dividend": dividend, "split": split},
                        index=pd.DatetimeIndex(sessions, name="date"))
    return bars.loc[bars.index <= pd.Timestamp(end)]
