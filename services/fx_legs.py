"""`LegMemoFxRates`: `FxRates` whose pairs' cached closes are decoded once per write of their bars, not per read.

Every dashboard payload values its foreign holdings at today's rate and at the previous close (`holding_rate`),
and the previous close is read from the pair's whole cached history: on Redis a GET of every bar of the pair
(tens of KB) and an unpickle, per pair and per request, for a rate that changes once a day. The bars are written
with a stamp (`bars-stamp:`, set in the same transaction: price_cache's `_merge_bars`), which the price cache
already trusts to memoize a ticker's last bar date (`bars_tail`). So here a leg is read as: its stamp (a few
bytes), then the closes kept for that stamp, or the bars when the stamp is new. A write by any process of any
machine changes the stamp, so the next read sees it; nothing is kept past that.

The days asked for (a previous close: one day) are turned into the bars' int64 nanoseconds with numpy when they are
plain dates; pandas' `to_datetime` of a one-item list cost more than the rest of the rate.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from services.forksafe import reset_in_child
from services.fx import FxRates, _decimal
from services.store import BARS_STAMP

LEGS_KEPT = 64  # pairs whose closes are kept per process (one per currency in use: a few)


@dataclass(frozen=True, eq=False)
class LegMemoFxRates(FxRates):
    """`FxRates` with each pair's closes kept per bars stamp (see the module's docstring)."""

    _legs: dict[str, tuple[float, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict, repr=False)
    _lock: list[threading.Lock] = field(default_factory=lambda: [threading.Lock()], repr=False)

    def __post_init__(self) -> None:
        reset_in_child(self._reset_after_fork)

    def _reset_after_fork(self) -> None:
        self._lock[0] = threading.Lock()  # a fork while a thread held it would leave it held

    def _closes_at(self, pair: str | None, days: Sequence[dt.date]) -> list[Decimal | None]:
        if pair is None or not all(type(day) is dt.date for day in days):  # datetimes: FxRates' own conversion
            return super()._closes_at(pair, days)
        dates, closes = self._leg(pair)
        wanted = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]").view("int64")
        index = np.searchsorted(dates, wanted, side="right") - 1  # the close of the day, or the last earlier one
        return [_decimal(closes[i]) if i >= 0 else None for i in index]

    def _leg(self, pair: str) -> tuple[np.ndarray, np.ndarray]:
        stamp = self.prices.cache.get(BARS_STAMP.key(pair))
        if stamp is None:  # never cached (or a store that keeps no stamp): read as FxRates does
            return super()._leg(pair)
        with self._lock[0]:
            kept = self._legs.get(pair)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        leg = super()._leg(pair)
        for array in leg:
            array.flags.writeable = False  # shared by every request from now on
        with self._lock[0]:
            self._legs.pop(pair, None)
            self._legs[pair] = (stamp, leg)
            while len(self._legs) > LEGS_KEPT:
                self._legs.pop(next(iter(self._legs)))
        return leg
