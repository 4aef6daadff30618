"""Exchange rates: prices of Yahoo currency pairs, read through the same cache-first price service as stocks.

A pair such as `EURUSD=X` is a ticker like any other: its daily bars and its quote are fetched, batched, counted
(/metrics), single-flighted, judged fresh by the market clock (XNYS, `exchange_for`) and warmed up exactly as a
stock's. This module only decides which pairs a conversion needs and does the arithmetic on what is cached; it
never asks the price source itself (callers add `needs_for(...)` to the needs they fetch).

The pair rule: every currency XXX other than USD is converted through `XXXUSD=X` (the price of 1 XXX in USD; Yahoo
quotes it for every currency, JPYUSD=X and GBPUSD=X included), and nothing else:

- XXX -> USD = close(XXXUSD=X)
- USD -> YYY = 1 / close(YYYUSD=X)
- XXX -> YYY = close(XXXUSD=X) / close(YYYUSD=X)   (a cross, through USD)
- XXX -> XXX = exactly 1, with no pair and no request.

One pair per currency keeps the cache small (n currencies need n - 1 pairs whatever the base) and every cross
consistent with its legs (EUR->GBP x GBP->USD is EUR->USD to the rate's precision).

Precision: a cached close (a float64) is read as the decimal it prints as (1.1 -> Decimal('1.1')), then the
rate is computed from the unrounded legs and rounded once to `RATE_DIGITS` (10) significant digits, half even.
Money is not rounded here: the analytics round it to the cent where they do today.

A rate is never made up: an unknown pair, a day before the first cached bar or a missing quote is None (the
caller shows `missing`), never 1. A day without a bar (a weekend, a holiday) takes the last EARLIER close, never
a later one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from services.models import PriceStatus
from services.price_planning import Need
from services.price_service import PriceService

__all__ = ["PIVOT", "RATE_DIGITS", "FxRates", "LatestRate", "pair_symbol"]

PIVOT = "USD"  # every pair is quoted against it
RATE_DIGITS = 10  # significant digits of every rate
RATE_CONTEXT = Context(prec=RATE_DIGITS, rounding=ROUND_HALF_EVEN)
ONE = Decimal(1)
_CODE = re.compile(r"[A-Z]{3}")
# The worse of two legs' freshness decides a cross's: a rate is as fresh as its older leg.
_STATUS_ORDER: tuple[PriceStatus, ...] = ("fresh", "market_closed", "stale", "missing")


def _code(currency: str) -> str:
    """A currency code as given, checked: three capital letters, the major unit (`GBp` pence is refused, since
    reading it as GBP would be 100 times off; the caller converts pence to pounds first)."""
    if not isinstance(currency, str) or not _CODE.fullmatch(currency):
        raise ValueError(f"not an ISO currency code in its major unit: {currency!r}")
    return currency


def pair_symbol(currency: str) -> str:
    """The Yahoo pair that prices 1 `currency` in USD (`EUR` -> `EURUSD=X`); USD itself has none."""
    code = _code(currency)
    if code == PIVOT:
        raise ValueError("USD is the pivot: it needs no pair")
    return f"{code}{PIVOT}=X"


def _legs(source: str, target: str) -> tuple[str | None, str | None]:
    """(numerator pair, denominator pair) of source -> target; None where that side is USD."""
    source, target = _code(source), _code(target)
    return (None if source == PIVOT else pair_symbol(source)), (None if target == PIVOT else pair_symbol(target))


def _decimal(value: float) -> Decimal | None:
    """A cached float as the Decimal it prints as; NaN, inf and non-positive prices are unknown."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return Decimal(repr(float(value)))


def _ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """numerator / denominator rounded once to RATE_DIGITS; None if either leg is unknown."""
    if numerator is None or denominator is None:
        return None
    return RATE_CONTEXT.divide(numerator, denominator)


def _days_ns(days: Sequence[dt.date]) -> np.ndarray:
    return pd.DatetimeIndex(pd.to_datetime(list(days))).normalize().as_unit("ns").asi8


class LatestRate(NamedTuple):
    """Today's rate from the cached quotes: the rate (None if unknown), when the market set it (the older leg's
    time; None for a same-currency rate) and its freshness, by the same rules as a stock's quote."""

    rate: Decimal | None
    as_of: dt.datetime | None
    status: PriceStatus


@dataclass(frozen=True)
class FxRates:
    """Exchange rates from the price service's cache. Reads only: fetching is the price service's job."""

    prices: PriceService

    # -- which pairs ------------------------------------------------------------------------------------------------
    def pairs_for(self, currencies: Iterable[str], base: str) -> list[str]:
        """The pair symbols needed to convert every currency into `base` (sorted, no duplicates; none when every
        currency is the base). Converting into a non-USD base also needs the base's own pair."""
        base = _code(base)
        wanted = {_code(c) for c in currencies} - {base}
        if wanted and base != PIVOT:
            wanted.add(base)
        return sorted(pair_symbol(c) for c in wanted if c != PIVOT)

    def needs_for(self, currencies: Iterable[str], base: str, start: dt.date) -> dict[str, Need]:
        """Price needs of those pairs from `start` with a current quote: what the warm-up and the loader merge
        into a portfolio's stock needs (`merge_needs`), so the pairs ride in the same batched requests."""
        return {pair: Need(start) for pair in self.pairs_for(currencies, base)}

    # -- rates on past days -----------------------------------------------------------------------------------------
    def rate(self, source: str, target: str, day: dt.date) -> Decimal | None:
        """source -> target at the close of `day`, or of the last earlier day with a close of each leg; None when
        unknown (never 1 unless source == target)."""
        return self.rates_on(source, target, [day])[0]

    def rates_on(self, source: str, target: str, days: Sequence[dt.date]) -> list[Decimal | None]:
        """`rate` for many days at once (a ledger's trade dates), reading each leg's cached closes once."""
        numerator, denominator = _legs(source, target)
        if source == target:
            return [ONE for _ in days]
        if not days:
            return []
        top = self._closes_at(numerator, days)
        bottom = self._closes_at(denominator, days)
        return [_ratio(a, b) for a, b in zip(top, bottom, strict=True)]

    def _closes_at(self, pair: str | None, days: Sequence[dt.date]) -> list[Decimal | None]:
        """The pair's close on each day or the last earlier one (1 for the USD side, which has no pair)."""
        if pair is None:
            return [ONE for _ in days]
        dates, closes = self._leg(pair)
        index = np.searchsorted(dates, _days_ns(days), side="right") - 1
        return [_decimal(closes[i]) if i >= 0 else None for i in index]

    def _leg(self, pair: str) -> tuple[np.ndarray, np.ndarray]:
        """(dates as int64 ns, closes) of a pair's cached bars, without unknown closes; empty if never cached."""
        stored = self.prices.cache.get_closes(pair)
        if stored is None:
            return np.empty(0, dtype="int64"), np.empty(0)
        dates, closes = np.asarray(stored[0], dtype="int64"), np.asarray(stored[1], dtype="float64")
        known = np.isfinite(closes) & (closes > 0)
        return dates[known], closes[known]

    # -- the value chart ----------------------------------------------------------------------------------------------
    def series(self, source: str, target: str, dates: pd.DatetimeIndex | None = None) -> pd.Series:
        """source -> target per day (float64, for the chart), indexed by `dates` (default: every day either leg has
        a bar). Each leg is forward-filled from earlier days only, so a day before a leg's first bar is NaN, and a
        weekend takes Friday's close. Same currency: 1.0 on every date."""
        numerator, denominator = _legs(source, target)
        legs = {pair: self._leg_series(pair) for pair in (numerator, denominator) if pair is not None}
        if dates is None:
            dates = pd.DatetimeIndex([], dtype="datetime64[ns]")
            for leg in legs.values():
                dates = dates.union(leg.index)
        index = pd.DatetimeIndex(dates, name="date").normalize()
        ones = pd.Series(1.0, index=index, dtype="float64")
        if source == target:
            return ones.rename(f"{source}{target}")

        def side(pair: str | None) -> pd.Series:
            return ones if pair is None else self._fill(legs[pair], index)

        return (side(numerator) / side(denominator)).rename(f"{source}{target}")

    def _leg_series(self, pair: str) -> pd.Series:
        dates, closes = self._leg(pair)
        return pd.Series(closes, index=pd.DatetimeIndex(dates.view("datetime64[ns]")), dtype="float64")

    @staticmethod
    def _fill(leg: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
        """`leg` on `index`, each date taking the last close on or before it (never a later one)."""
        union = leg.index.union(index)
        return leg.reindex(union).ffill().reindex(index).set_axis(index)

    # -- today ---------------------------------------------------------------------------------------------------------
    def latest(self, source: str, target: str) -> LatestRate:
        """source -> target from the cached quotes of its pairs, with their freshness (the cache only: a missing
        quote is `missing`, and is fetched by whoever fetches the portfolio's needs)."""
        numerator, denominator = _legs(source, target)
        if source == target:
            return LatestRate(ONE, None, "fresh")
        pairs = [p for p in (numerator, denominator) if p is not None]
        infos = self.prices.prices(pairs)
        values: dict[str, Decimal | None] = {p: _decimal(infos[p].price) for p in pairs}
        statuses = [infos[p].status if values[p] is not None else "missing" for p in pairs]
        status = max(statuses, key=_STATUS_ORDER.index)
        if status == "missing":
            return LatestRate(None, None, "missing")
        top = values[numerator] if numerator else ONE
        bottom = values[denominator] if denominator else ONE
        times = [infos[p].as_of for p in pairs if infos[p].as_of is not None]
        return LatestRate(_ratio(top, bottom), min(times) if times else None, status)
