"""The closed positions of a portfolio (issue 15): every ticker whose shares were all sold, with what it made.

Pure: built from a loaded portfolio and the holdings payload. The payload's own `closed` list (the valuation's,
services/analytics.py) is used when it has one; otherwise the replayed positions give the same figures, to the
cent. Money is in the portfolio's base currency; `total` = realized gain + dividends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from services.holding_detail import add_known, cents, entry_field, given_or
from services.payloads import OMIT_IF_NONE, HoldingsData, Money, Payload, PortfolioInfo
from services.portfolio_load import LoadedPortfolio


@dataclass(frozen=True)
class ClosedRow(Payload):
    """One closed position; `day_change` only when it was closed today (its last day's move)."""

    ticker: str
    closed_on: dt.date | None
    realized_gain: Money
    dividends: Money
    total: Money
    day_change: Money = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class ClosedPositions(Payload):
    """GET /api/portfolios/<id>/closed-positions: most recently closed first."""

    portfolio: PortfolioInfo
    closed: tuple[ClosedRow, ...]


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def closed_positions(loaded: LoadedPortfolio, holdings: HoldingsData) -> ClosedPositions:
    """Every position of `loaded` with no shares left, newest close first (then by ticker)."""
    given = {entry_field(e, "ticker"): e for e in (getattr(holdings, "closed", None) or ())}
    rows = []
    for ticker, position in loaded.positions.items():
        if position.is_open:
            continue
        entry = given.get(ticker)
        realized = given_or(entry, "realized_gain", cents(position.realized_gain))
        dividends = given_or(entry, "dividends", cents(position.dividends))
        closed_on = _as_date(entry_field(entry, "closed_on")) or position.closed_on or position.last_date
        rows.append(ClosedRow(ticker, closed_on, realized, dividends, add_known(realized, dividends),
                              entry_field(entry, "day_change")))
    rows.sort(key=lambda r: r.ticker)
    rows.sort(key=lambda r: r.closed_on or dt.date.min, reverse=True)
    return ClosedPositions(PortfolioInfo.of(loaded.portfolio), tuple(rows))


def closed_of(dashboard: Any, portfolio_id: int) -> ClosedPositions:
    """The closed positions of one portfolio through `dashboard` (DashboardData of the asking owner), cache only."""
    holdings = dashboard.holdings(portfolio_id, wait_s=0)
    return closed_positions(dashboard.load(portfolio_id), holdings)
