"""Pure decisions of the cold path: when a part needs the background wait, how far it is, when to stop.

Warm data is served by normal callbacks (a background callback costs a forked process and at least one poll,
about 130 ms at interval=100 in Dash 4.4.1). A part goes through the cold path only when its payload says data
is still arriving: quotes missing or stale (prices), or history not cached yet (chart, HTTP 202).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from services.payloads import PriceBlock

POLL_S = 0.1  # how often a background wait reads the cache again
POLL_INTERVAL_MS = 100  # how often the browser asks a background callback for progress
MAX_WAIT_S = 30.0  # a wait never runs longer than this, whatever happens upstream


@dataclass(frozen=True)
class PriceProgress:
    """How many of a portfolio's open holdings have a settled price (fresh or last close)."""

    settled: int
    total: int
    unsettled: tuple[str, ...]

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else round(100 * self.settled / self.total)

    @property
    def label(self) -> str:
        return f"{self.settled}/{self.total}"


def price_progress(prices: PriceBlock | Mapping) -> PriceProgress:
    """Progress from a payload's price block: missing and stale prices are not settled yet.

    The block as the builders return it, or as the API answers it (JSON).
    """
    if isinstance(prices, PriceBlock):
        counts, missing, stale = prices.counts, prices.missing, prices.stale
    else:
        counts, missing, stale = prices.get("counts") or {}, prices.get("missing", ()), prices.get("stale", ())
    total = sum(int(v) for v in counts.values())
    unsettled = tuple(sorted({*missing, *stale}))
    return PriceProgress(settled=max(0, total - len(unsettled)), total=total, unsettled=unsettled)


def wait_request(portfolio_id: int, **details) -> dict:
    """The data of a *_PENDING store: what to wait for, with a fresh nonce (a background callback with the
    same arguments would answer from Dash's result cache instead of running)."""
    return {"portfolio_id": portfolio_id, "nonce": uuid.uuid4().hex, **details}


@dataclass(frozen=True)
class Stall:
    """When to give up waiting: nothing changed for `quiet_s` seconds, or `max_s` seconds in all."""

    quiet_s: float
    max_s: float = MAX_WAIT_S

    def over(self, elapsed_s: float, since_change_s: float) -> bool:
        return elapsed_s >= self.max_s or since_change_s >= self.quiet_s
