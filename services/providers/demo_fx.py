"""Simulated exchange rates for the demo provider: Yahoo-style pairs (`EURUSD=X`, `USDJPY=X`, `JPY=X`).

Each known currency has a simulated worth in US dollars per weekday; a pair's rate is the ratio of its two
currencies' worths on the same day, so every cross agrees with the dollar pairs (EURGBP = EURUSD / GBPUSD) and a
pair and its inverse multiply to 1. Each worth is a common dollar factor plus the currency's own move, both
mean-reverting around a level of early 2025, so the rates stay plausible over 25 years with daily moves of
~0.3-0.6 % (a pegged HKD hardly moves). Deterministic like the demo's prices: seeded by name, and a history that
ends earlier is a prefix of one that ends later. FX trades every weekday, holidays included (the `24/5` calendar).
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from functools import lru_cache

import numpy as np
import pandas as pd

from services.market_hours import MarketClock

FX_EXCHANGE = "24/5"  # exchange_calendars' every-weekday calendar, open 00:00 to 24:00 UTC
MEAN_REVERSION = 0.99  # of each daily log-deviation, per day: a half-life of ~69 weekdays
DOLLAR_SD = 0.0035  # the daily move common to every currency against the dollar
INTRADAY_WIGGLE = 0.5  # each currency's minute-by-minute noise at the open, in its daily sds, fading by the close

# Units of the currency per US dollar around which it moves, its own daily sd, and how much it follows the
# dollar factor (a 0 is a peg).
CURRENCIES: dict[str, tuple[float, float, float]] = {
    "USD": (1.0, 0.0, 0.0),
    "EUR": (0.92, 0.0030, 1.0),  # EURUSD ~1.09
    "GBP": (0.79, 0.0032, 1.0),  # GBPUSD ~1.27
    "JPY": (148.0, 0.0040, 1.0),
    "CHF": (0.88, 0.0030, 1.0),
    "CAD": (1.36, 0.0025, 0.6),
    "AUD": (1.52, 0.0035, 1.0),  # AUDUSD ~0.66
    "NZD": (1.65, 0.0035, 1.0),
    "HKD": (7.80, 0.0002, 0.0),
    "ZAR": (18.2, 0.0050, 1.0),
    "ILS": (3.70, 0.0035, 0.8),
    "SEK": (10.6, 0.0035, 1.0),
    "NOK": (10.7, 0.0040, 1.0),
    "DKK": (6.86, 0.0031, 1.0),
    "PLN": (4.00, 0.0040, 1.0),
    "CNY": (7.20, 0.0010, 0.3),
    "INR": (83.0, 0.0020, 0.3),
    "SGD": (1.34, 0.0020, 0.6),
    "KRW": (1350.0, 0.0040, 0.8),
    "MXN": (18.0, 0.0060, 1.0),
    "BRL": (5.20, 0.0070, 1.0),
}


def is_known(pair: tuple[str, str]) -> bool:
    """True for a pair of two different currencies the demo simulates."""
    base, quote = pair
    return base != quote and base in CURRENCIES and quote in CURRENCIES


def _seed(name: str) -> int:
    return zlib.crc32(f"fx:{name}".encode())


def _mean_reverting(name: str, sd: float, count: int) -> np.ndarray:
    """x[t] = MEAN_REVERSION * x[t-1] + e[t], e ~ N(0, sd), from x = 0 before the first day."""
    shocks = np.random.default_rng(_seed(name)).normal(0.0, sd, size=count).tolist()
    path, level = [], 0.0
    for shock in shocks:  # ~1 ms for 25 years of weekdays, once per cached history
        level = MEAN_REVERSION * level + shock
        path.append(level)
    return np.array(path, dtype="float64")


@lru_cache(maxsize=64)
def _log_worths(code: str, start: dt.date, end: dt.date, clock: MarketClock) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """(the weekdays from `start` to `end`, log of the currency's worth in dollars on each). Cached: read only."""
    sessions = clock.sessions(FX_EXCHANGE, start, end)
    per_dollar, own_sd, beta = CURRENCIES[code]
    if code == "USD":
        return sessions, np.zeros(len(sessions))
    dollar = _mean_reverting("dollar", DOLLAR_SD, len(sessions))
    own = _mean_reverting(code, own_sd, len(sessions))
    return sessions, -math.log(per_dollar) + beta * dollar + own


def simulated_rates(pair: tuple[str, str], start: dt.date, end: dt.date, clock: MarketClock) -> pd.DataFrame:
    """Daily bars of a pair (units of its second currency per one of its first) from `start` to `end`, every
    weekday; no dividends, no splits."""
    base, quote = pair
    sessions, base_worth = _log_worths(base, start, end, clock)
    _, quote_worth = _log_worths(quote, start, end, clock)
    return pd.DataFrame(
        {"close": np.exp(base_worth - quote_worth), "dividend": 0.0, "split": 1.0},
        index=pd.DatetimeIndex(sessions, name="date"),
    )


def intraday_rate(pair: tuple[str, str], start: dt.date, session: dt.date, clock: MarketClock, elapsed: float,
                  minute: int) -> float:
    """The rate `elapsed` (0 to 1) into `session`: each currency moves from the day before's worth towards the
    day's, with a wiggle of its own that fades by the close, so crosses agree at every minute too."""

    def worth_now(code: str) -> float:
        _, worths = _log_worths(code, start, session, clock)
        if code == "USD" or not len(worths):
            return 0.0
        previous = worths[-2] if len(worths) >= 2 else worths[-1]
        unit = zlib.crc32(f"fx:{code}:{minute}".encode()) / 2**32
        _, own_sd, beta = CURRENCIES[code]
        wiggle = (unit - 0.5) * INTRADAY_WIGGLE * math.hypot(beta * DOLLAR_SD, own_sd) * (1.0 - elapsed)
        return previous + (worths[-1] - previous) * elapsed + wiggle

    base, quote = pair
    return math.exp(worth_now(base) - worth_now(quote))
