"""The sample portfolio a demo database starts with: 20 well-known tickers, about 150 transactions over five years.

Deterministic (seeded), priced from the demo provider's simulated closes so its gains look like a real ledger's,
with partial sells, a closed and reopened position, quarterly dividends and the real splits of the period.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pandas as pd

from services.csv_io import write_transactions_csv
from services.market_hours import MarketClock
from services.models import Transaction
from services.providers.demo import KNOWN_SPLITS, simulated_bars
from services.replay import replay

SAMPLE_NAME = "Sample portfolio (simulated prices)"
SAMPLE_TICKERS = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "JNJ",
    "PG", "KO", "PEP", "XOM", "WMT", "DIS", "NFLX", "COST", "HD", "AVGO",
)
# Cash per share each quarter, as the user would copy it from a broker statement.
DIVIDENDS_PER_SHARE = {"KO": "0.46", "PG": "0.94", "JNJ": "1.19", "XOM": "0.95"}


def sample_transactions(clock: MarketClock, today: dt.date, seed: int = 7) -> list[Transaction]:
    """The sample ledger, in date order."""
    rng = random.Random(seed)
    start = today - dt.timedelta(days=5 * 365)
    rows: list[Transaction] = []
    for ticker in SAMPLE_TICKERS:
        bars = simulated_bars(ticker, "XNYS", dt.date(2000, 1, 1), today, clock)
        window = bars.loc[bars.index >= pd.Timestamp(start)]
        if len(window) < 30:
            continue
        days = sorted(rng.sample(range(len(window) - 5), 3))
        held = Decimal(0)
        for position in days:
            day = window.index[position].date()
            quantity = Decimal(rng.choice([5, 10, 15, 20, 25, 40]))
            rows.append(Transaction(day, ticker, "BUY", quantity, _price(window, position), Decimal("4.95")))
            held += quantity
        if ticker in ("NFLX", "DIS"):  # closed completely, then reopened
            close_at = min(days[-1] + 40, len(window) - 4)
            rows.append(Transaction(window.index[close_at].date(), ticker, "SELL", held,
                                    _price(window, close_at), Decimal("4.95"), "closed position"))
            rows.append(Transaction(window.index[close_at + 2].date(), ticker, "BUY", Decimal(8),
                                    _price(window, close_at + 2), Decimal("4.95"), "reopened"))
        elif rng.random() < 0.55:  # a partial sell
            sell_at = min(days[-1] + rng.randint(5, 120), len(window) - 2)
            rows.append(Transaction(window.index[sell_at].date(), ticker, "SELL", (held / 2).quantize(Decimal(1)),
                                    _price(window, sell_at), Decimal("4.95"), "trim"))
        for day, ratio in KNOWN_SPLITS.get(ticker, ()):
            split_day = dt.date.fromisoformat(day)
            if window.index[days[0]].date() < split_day <= today:
                rows.append(Transaction(split_day, ticker, "SPLIT", Decimal(str(ratio)), Decimal(0), Decimal(0),
                                        f"{ratio:g}-for-1 split"))
        if ticker in DIVIDENDS_PER_SHARE:
            rows.extend(_dividends(ticker, window, window.index[days[0]].date(), rows))
    rows.sort(key=lambda t: (t.date, {"SPLIT": 0, "BUY": 1, "DIVIDEND": 2, "SELL": 3}[t.type]))
    return rows


def _price(window, position: int):
    return Decimal(str(round(float(window["close"].iloc[position]), 2)))


def _dividends(ticker: str, window, first_buy: dt.date, rows: list[Transaction]) -> list[Transaction]:
    """Quarterly dividends on the shares held at each payment date (mid Feb, May, Aug, Nov)."""
    mine = sorted((t for t in rows if t.ticker == ticker), key=lambda t: t.date)
    paid: list[Transaction] = []
    for session in window.index:
        day = session.date()
        if day <= first_buy or day.month not in (2, 5, 8, 11) or not 15 <= day.day <= 21 or day.weekday() != 2:
            continue
        position = replay([t for t in mine if t.date <= day]).get(ticker)
        held = position.quantity if position else Decimal(0)
        if held > 0:
            paid.append(Transaction(day, ticker, "DIVIDEND", held, Decimal(DIVIDENDS_PER_SHARE[ticker]),
                                    Decimal(0), "quarterly dividend"))
    return paid


def sample_csv(clock: MarketClock, today: dt.date) -> str:
    """The sample ledger as an importable CSV (the seed goes through the same validation as any import)."""
    return write_transactions_csv(sample_transactions(clock, today))
