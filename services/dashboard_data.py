"""One builder per dashboard payload, shared by the Dash pages and the JSON API so the two never disagree.

Each builder returns plain JSON-ready dicts in the shapes of DESIGN.md. Initial data reads the cache only; holdings
data waits on missing quotes at most PRICE_WAIT_S; chart data answers 202 with progress while history is missing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress

from services import analytics
from services.chart_generator import BackgroundChartGenerator, price_needs
from services.config import Settings
from services.ledger import Ledger
from services.market_hours import DEFAULT_EXCHANGE, MarketClock, exchange_for
from services.models import Portfolio, PriceInfo, Transaction
from services.price_service import PriceService

MEMO_PORTFOLIOS = 16  # ledgers kept replayed in memory, per process
PAGE_STATUSES = ("fresh", "market_closed", "stale", "missing")


def price_block(infos: Mapping[str, PriceInfo], simulated: bool = False, fetching: Sequence[str] = ()) -> dict:
    """The page-level price status: one word if every price agrees, `partial` if they differ."""
    statuses = Counter(info.status for info in infos.values())
    if not statuses:
        status = "fresh"
    elif len(statuses) == 1:
        status = next(iter(statuses))
    else:
        status = "partial"
    priced = [info.as_of for info in infos.values() if info.as_of is not None]
    return {
        "status": status,
        # The oldest price on the page: the honest answer to "how fresh is this?".
        "as_of": min(priced).isoformat() if priced else None,
        "missing": sorted(t for t, info in infos.items() if info.status == "missing"),
        "stale": sorted(t for t, info in infos.items() if info.status == "stale"),
        "counts": {s: statuses.get(s, 0) for s in PAGE_STATUSES},
        "simulated": simulated,
        # Missing or stale tickers being fetched right now; the others failed and wait for their retry time.
        "fetching": sorted(fetching),
    }


class DashboardData:
    """The payload builders. Hand everything in, so tests can swap any part."""

    def __init__(self, ledger: Ledger, prices: PriceService, clock: MarketClock, settings: Settings,
                 charts: BackgroundChartGenerator):
        self.ledger, self.prices, self.clock, self.settings = ledger, prices, clock, settings
        self.charts = charts
        self._memo: dict[int, tuple[int, Sequence[Transaction], dict[str, analytics.Position]]] = {}
        self._memo_lock = threading.Lock()

    def _load(self, portfolio_id: int) -> tuple[Portfolio, Sequence[Transaction], dict[str, analytics.Position]]:
        """The portfolio, its ledger and positions; the last two memoized per ledger version in this process.

        Reading and replaying 20,000 transactions takes a few hundred ms; the version check takes one.
        """
        portfolio = self.ledger.get_portfolio(portfolio_id)  # NotFoundError for an unknown id
        version = self.ledger.version(portfolio_id)
        with self._memo_lock:
            memo = self._memo.get(portfolio_id)
        if memo is None or memo[0] != version:
            transactions = self.ledger.list_transactions(portfolio_id)
            memo = (version, transactions, analytics.replay(transactions))
            with self._memo_lock:
                self._memo[portfolio_id] = memo
                while len(self._memo) > MEMO_PORTFOLIOS:
                    self._memo.pop(next(iter(self._memo)))
        return portfolio, memo[1], memo[2]

    def _market(self, tickers: Sequence[str]) -> dict:
        exchanges = Counter(exchange_for(t) for t in tickers)
        exchange = exchanges.most_common(1)[0][0] if exchanges else DEFAULT_EXCHANGE
        try:
            return self.clock.state(exchange).to_json()
        except ValueError:  # a calendar that ends before today (exchange_calendars has a few): say so, not 500
            return {"exchange": exchange, "is_open": None, "next_open": None, "last_close": None}

    @property
    def _simulated(self) -> bool:
        return self.prices.simulated

    def initial_data(self, portfolio_id: int) -> dict:
        """Summary cards and the price badge, from the cache alone; missing prices are fetched in the background."""
        portfolio, transactions, positions = self._load(portfolio_id)
        open_tickers = [t for t, p in positions.items() if p.is_open]
        needs = price_needs(transactions, positions)
        self.prices.fetch_prices_parallel({t: needs[t] for t in open_tickers}, wait_s=0)
        infos = self.prices.prices(open_tickers)
        return {
            "portfolio": portfolio.to_json(),
            "summary": analytics.summary(positions, infos),
            "prices": self._price_block(infos),
            "market": self._market(open_tickers),
        }

    def holdings_data(self, portfolio_id: int, wait_s: float | None = None) -> dict:
        """The holdings table; waits at most `wait_s` (default PRICE_WAIT_S) for quotes that are not fresh."""
        _portfolio, transactions, positions = self._load(portfolio_id)
        open_tickers = [t for t, p in positions.items() if p.is_open]
        needs = price_needs(transactions, positions)
        wait = self.settings.price_wait_s if wait_s is None else wait_s
        self.prices.fetch_prices_parallel({t: needs[t] for t in open_tickers}, wait_s=wait)
        infos = self.prices.prices(open_tickers)
        return {"holdings": analytics.holdings_rows(positions, infos), "prices": self._price_block(infos)}

    def _price_block(self, infos: Mapping[str, PriceInfo]) -> dict:
        unsettled = [t for t, info in infos.items() if info.status in ("missing", "stale")]
        return price_block(infos, self._simulated, self.prices.in_flight(unsettled) if unsettled else ())

    def chart_data(self, portfolio_id: int, range_name: str = "1Y", wait_s: float | None = None) -> tuple[int, dict]:
        """(200, series) from the generated chart, or (202, progress) while it is generated.

        A missing or outdated chart is generated in the background; the request waits for it at most `wait_s`
        (default PRICE_WAIT_S). A chart whose prices have moved on since is served and regenerated behind.
        """
        if range_name not in analytics.RANGES:
            raise ValueError(f"range must be one of {', '.join(analytics.RANGES)}, got {range_name!r}")
        version = self.ledger.version(portfolio_id)  # NotFoundError for an unknown id
        entry = self.charts.store.get(portfolio_id)
        if entry is None or entry.ledger_version != version:
            future = self.charts.request(portfolio_id)
            wait = self.settings.price_wait_s if wait_s is None else wait_s
            with suppress(FutureTimeout):
                future.result(timeout=wait)
            entry = self.charts.store.get(portfolio_id)
            if entry is None or entry.ledger_version != version:
                progress = self.chart_progress(portfolio_id)
                return 202, {"status": "pending", "range": range_name, "progress": progress["progress"]}
        elif self._prices_moved_since(portfolio_id, entry.generated_at):
            self.charts.request(portfolio_id)
        return 200, {"status": "ready", "range": range_name, "series": entry.ranges[range_name],
                     "allocation": entry.allocation}

    def _prices_moved_since(self, portfolio_id: int, generated_at: dt.datetime) -> bool:
        return self.prices.quotes_newer_than(self.ledger.portfolio_tickers(portfolio_id), generated_at)

    def chart_progress(self, portfolio_id: int) -> dict:
        """The chart generator's state for one portfolio: idle, running, done or error, with a fraction."""
        version = self.ledger.version(portfolio_id)  # NotFoundError for an unknown id
        entry = self.charts.store.get(portfolio_id)
        progress = self.charts.store.progress(portfolio_id)
        if progress is not None and progress["state"] in ("running", "error"):
            return progress
        if entry is not None and entry.ledger_version == version:
            return {"state": "done", "progress": 1.0, "message": progress["message"] if progress else "ready"}
        return {"state": "idle", "progress": 0.0, "message": "chart not generated yet"}
