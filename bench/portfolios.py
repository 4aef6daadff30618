"""Deterministic benchmark portfolios: small, seed-sized and large, as importable CSV.

Trades are priced from the demo provider's simulated closes, so gains look like a real ledger's; the same seed
always gives the same CSV.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from services.analytics import oversells
from services.csv_io import write_transactions_csv
from services.market_hours import MarketClock
from services.models import Transaction
from services.providers.demo import simulated_bars
from services.sample_data import SAMPLE_TICKERS


@dataclass(frozen=True)
class PortfolioSpec:
    name: str
    tickers: int
    transactions: int
    years: int


SPECS = {
    "small": PortfolioSpec("small", 20, 150, 5),
    "seed": PortfolioSpec("seed", 54, 2000, 3),
    "large": PortfolioSpec("large", 500, 20000, 10),
}


def ticker_names(count: int) -> list[str]:
    """Well-known names first, then synthetic ones shaped like Yahoo symbols (the demo prices any valid one)."""
    names = list(SAMPLE_TICKERS[:count])
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    index = 0
    while len(names) < count:
        candidate = "Q" + letters[index // 676 % 26] + letters[index // 26 % 26] + letters[index % 26]
        index += 1
        if candidate not in names:
            names.append(candidate)
    return names


def generate(spec: PortfolioSpec, clock: MarketClock, today: dt.date, seed: int = 2026) -> list[Transaction]:
    """About `spec.transactions` transactions over `spec.years` years: buys, partial sells and dividends."""
    rng = random.Random(f"{seed}:{spec.name}")
    start = today - dt.timedelta(days=365 * spec.years)
    tickers = ticker_names(spec.tickers)
    per_ticker = max(2, spec.transactions // spec.tickers)
    rows: list[Transaction] = []
    for ticker in tickers:
        bars = simulated_bars(ticker, "XNYS", dt.date(2000, 1, 1), today, clock)
        window = bars.loc[bars.index >= pd.Timestamp(start)]
        if len(window) < per_ticker + 2:
            continue
        positions = sorted(rng.sample(range(len(window) - 1), per_ticker))
        held = Decimal(0)
        for number, position in enumerate(positions):
            day = window.index[position].date()
            price = Decimal(str(round(float(window["close"].iloc[position]), 2)))
            if number > 0 and held > 2 and rng.random() < 0.25:
                quantity = Decimal(rng.randint(1, int(held) // 2))
                rows.append(Transaction(day, ticker, "SELL", quantity, price, Decimal("1.00")))
                held -= quantity
            elif number > 0 and held > 0 and rng.random() < 0.15:
                rows.append(Transaction(day, ticker, "DIVIDEND", held, Decimal("0.25")))
            else:
                quantity = Decimal(rng.randint(1, 50))
                rows.append(Transaction(day, ticker, "BUY", quantity, price, Decimal("1.00")))
                held += quantity
        for day, ratio in window.loc[window["split"] != 1.0, "split"].items():
            first = min((t.date for t in rows if t.ticker == ticker), default=None)
            if first is not None and first < day.date():
                rows.append(Transaction(day.date(), ticker, "SPLIT", Decimal(str(ratio)), Decimal(0)))
    # Splits first on their day, so a same-day sell sees the split quantity (as the demo prices do).
    order = {"SPLIT": 0, "BUY": 1, "DIVIDEND": 2, "SELL": 3}
    rows.sort(key=lambda t: (t.date, order[t.type]))
    return _drop_oversells(rows)


def _drop_oversells(rows: list[Transaction]) -> list[Transaction]:
    """Sells placed before a split can exceed what was held once the split re-orders them: drop those."""
    bad = {o.index for o in oversells(rows)}
    return [row for index, row in enumerate(rows) if index not in bad]


def generate_csv(name: str, clock: MarketClock, today: dt.date) -> str:
    return write_transactions_csv(generate(SPECS[name], clock, today))
