"""One builder per dashboard payload, shared by the Dash pages and the JSON API so the two never disagree.

Each builder returns plain JSON-ready dicts in the shapes of DESIGN.md. Initial data reads the cache only; holdings
data waits on missing quotes at most PRICE_WAIT_S; chart data answers 202 with progress while history is missing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd

from services import analytics
from services.config import Settings
from services.ledger import Ledger
from services.market_hours import DEFAULT_EXCHANGE, MarketClock, exchange_for
from services.models import PriceInfo, Transaction
from services.price_service import Need, PriceService

PAGE_STATUSES = ("fresh", "market_closed", "stale", "missing")


def price_block(infos: Mapping[str, PriceInfo], simulated: bool = False) -> dict:
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
    }


def price_needs(transactions: Sequence[Transaction], positions: Mapping[str, analytics.Position]) -> dict[str, Need]:
    """What the chart needs of every ticker ever held: open ones up to now, closed ones up to their last trade."""
    last_trade: dict[str, dt.date] = {}
    for txn in transactions:
        last_trade[txn.ticker] = max(txn.date, last_trade.get(txn.ticker, txn.date))
    return {
        ticker: Need(position.first_date, None if position.is_open else last_trade[ticker])
        for ticker, position in positions.items()
    }


class DashboardData:
    """The payload builders. Hand everything in, so tests can swap any part."""

    def __init__(self, ledger: Ledger, prices: PriceService, clock: MarketClock, settings: Settings):
        self.ledger, self.prices, self.clock, self.settings = ledger, prices, clock, settings

    def _load(self, portfolio_id: int):
        portfolio = self.ledger.get_portfolio(portfolio_id)  # NotFoundError for an unknown id
        transactions = self.ledger.list_transactions(portfolio_id)
        positions = analytics.replay(transactions)
        return portfolio, transactions, positions

    def _market(self, tickers: Sequence[str]) -> dict:
        exchanges = Counter(exchange_for(t) for t in tickers)
        exchange = exchanges.most_common(1)[0][0] if exchanges else DEFAULT_EXCHANGE
        return self.clock.state(exchange).to_json()

    @property
    def _simulated(self) -> bool:
        return bool(getattr(self.prices.provider, "simulated", False))

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
            "prices": price_block(infos, self._simulated),
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
        return {"holdings": analytics.holdings_rows(positions, infos), "prices": price_block(infos, self._simulated)}

    def chart_data(self, portfolio_id: int, range_name: str = "1Y", wait_s: float | None = None) -> tuple[int, dict]:
        """(200, series) when every ticker's history is cached, else (202, progress) while it is fetched."""
        if range_name not in analytics.RANGES:
            raise ValueError(f"range must be one of {', '.join(analytics.RANGES)}, got {range_name!r}")
        _portfolio, transactions, positions = self._load(portfolio_id)
        needs = price_needs(transactions, positions)
        wait = self.settings.price_wait_s if wait_s is None else wait_s
        report = self.prices.fetch_prices_parallel(needs, wait_s=wait)
        without_history = [t for t in report.pending if self.prices.cache.get_bars(t) is None]
        if without_history:
            ready = 1.0 - len(without_history) / max(1, len(needs))
            return 202, {"status": "pending", "range": range_name, "progress": round(ready, 4)}
        today = self.clock.now().date()
        series = self._series(transactions, needs, range_name, today)
        infos = self.prices.prices([t for t, p in positions.items() if p.is_open])
        rows = analytics.holdings_rows(positions, infos)
        return 200, {"status": "ready", "range": range_name, "series": series,
                     "allocation": analytics.allocation(rows)}

    def chart_progress(self, portfolio_id: int) -> dict:
        """How far the chart's history is: `done` when every ticker has cached bars, `running` while fetching."""
        _portfolio, transactions, positions = self._load(portfolio_id)
        needs = price_needs(transactions, positions)
        if not needs:
            return {"state": "done", "progress": 1.0, "message": "no transactions yet"}
        have = sum(self.prices.cache.get_bars(t) is not None for t in needs)
        fetching = self.prices.in_flight(needs)
        progress = round(have / len(needs), 4)
        if have == len(needs):
            return {"state": "done", "progress": 1.0, "message": f"history of {have} tickers ready"}
        state = "running" if fetching else "idle"
        return {"state": state, "progress": progress, "message": f"history of {have} of {len(needs)} tickers ready"}

    def _series(self, transactions: Sequence[Transaction], needs: Mapping[str, Need], range_name: str,
                today: dt.date) -> dict:
        if not transactions:
            return {"dates": [], "market_value": [], "cost_basis": []}
        first = min(t.date for t in transactions)
        start = analytics.range_start(range_name, today, first)
        closes = self.prices.closes(needs)
        frame = analytics.value_series(transactions, closes, start=max(start, first), end=today)
        return series_json(frame)


def series_json(frame: pd.DataFrame) -> dict:
    """A value series as JSON lists (ISO dates, money rounded to cents, unknown values as null)."""
    values = frame.round(2).astype(object).where(frame.notna(), None)
    return {
        "dates": [d.date().isoformat() for d in frame.index],
        "market_value": values["market_value"].tolist() if len(frame) else [],
        "cost_basis": values["cost_basis"].tolist() if len(frame) else [],
    }
