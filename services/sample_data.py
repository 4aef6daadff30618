"""The sample portfolios a demo database starts with.

The first (USD): 20 well-known US tickers, about 150 transactions over five years, plus a London stock (VOD.L)
bought in pence as a broker prints them (`GBp` in the CSV, stored as GBP / 100) with a GBP dividend, and a German
one (SAP.DE) bought in euros, one row with the `fx_rate` of the broker's statement. The second (EUR): a few
holdings, one US, one German, one London, in a euro base currency.

Deterministic (seeded), priced from the demo provider's simulated closes on each stock's own calendar and in its
own currency, so its gains look like a real ledger's, with partial sells, a closed and reopened position,
dividends and the real splits of the period.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal

import pandas as pd

from services.csv_io import escape_cell, write_transactions_csv
from services.market_hours import MarketClock
from services.models import MINOR_UNITS_PER_MAJOR, Transaction, in_major_unit, plain_decimal
from services.providers.demo import KNOWN_SPLITS, simulated_bars, simulated_series
from services.replay import replay

SAMPLE_NAME = "Sample portfolio (simulated prices)"
SAMPLE_TICKERS = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "JNJ",
    "PG", "KO", "PEP", "XOM", "WMT", "DIS", "NFLX", "COST", "HD", "AVGO",
)
# Cash per share each quarter, as the user would copy it from a broker statement.
DIVIDENDS_PER_SHARE = {"KO": "0.46", "PG": "0.94", "JNJ": "1.19", "XOM": "0.95"}
# The foreign holdings of the USD sample (SAMPLE_TICKERS stays the US list: the bench builds on it).
SAMPLE_FOREIGN_TICKERS = ("VOD.L", "SAP.DE")

SAMPLE_EUR_NAME = "Sample portfolio in euros (simulated prices)"
SAMPLE_EUR_BASE = "EUR"
SAMPLE_EUR_TICKERS = ("AAPL", "SAP.DE", "VOD.L")

# Shares per lot, fees per trade (in the trade's currency, major unit) and the cash per share of the twice-yearly
# dividend (paid in the first session of February and August; in the major unit, GBP for a London stock).
_LOTS = {"VOD.L": (500, 1000, 1500, 2000, 3000), "SAP.DE": (5, 8, 10, 15, 20), "AAPL": (5, 10, 15, 20)}
_FEES = {"GBP": Decimal("11.95"), "EUR": Decimal("4.90"), "USD": Decimal("4.95")}
_HALF_YEARLY_DIVIDENDS = {"VOD.L": Decimal("0.0225"), "SAP.DE": Decimal("1.10")}


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


def sample_transactions_all(clock: MarketClock, today: dt.date) -> list[Transaction]:
    """The USD sample ledger with its foreign holdings, in date order, as the ledger stores it (major units)."""
    rows = sample_transactions(clock, today)
    start = today - dt.timedelta(days=5 * 365)
    rng = random.Random(11)
    rows += _foreign_holding("VOD.L", rng, start, today, clock, base="USD", rate_on=None)
    rows += _foreign_holding("SAP.DE", rng, start, today, clock, base="USD", rate_on=1)
    return _in_order(rows)


def sample_eur_transactions(clock: MarketClock, today: dt.date, seed: int = 13) -> list[Transaction]:
    """The EUR sample ledger (a US, a German and a London holding over three years), in date order."""
    rng = random.Random(seed)
    start = today - dt.timedelta(days=3 * 365)
    rows: list[Transaction] = []
    rows += _foreign_holding("AAPL", rng, start, today, clock, base=SAMPLE_EUR_BASE, rate_on=0)
    rows += _foreign_holding("SAP.DE", rng, start, today, clock, base=SAMPLE_EUR_BASE, rate_on=None)
    rows += _foreign_holding("VOD.L", rng, start, today, clock, base=SAMPLE_EUR_BASE, rate_on=None)
    return _in_order(rows)


def _in_order(rows: list[Transaction]) -> list[Transaction]:
    return sorted(rows, key=lambda t: (t.date, {"SPLIT": 0, "BUY": 1, "DIVIDEND": 2, "SELL": 3}[t.type]))


def _foreign_holding(ticker: str, rng: random.Random, start: dt.date, today: dt.date, clock: MarketClock, *,
                     base: str, rate_on: int | None) -> list[Transaction]:
    """Three buys at the day's simulated close in the stock's own currency, a partial sell, and (for a payer in
    `_HALF_YEARLY_DIVIDENDS`) its dividends. `rate_on`: the buy (0, 1, 2) that carries an explicit `fx_rate`
    to `base`, the pair's simulated close that day rounded to 4 places as a statement prints it."""
    bars, currency = simulated_series(ticker, dt.date(2000, 1, 1), today, clock)
    window = bars.loc[bars.index >= pd.Timestamp(start)]
    if len(window) < 30:
        return []
    # Leave the last weeks free, so the sell comes after every buy and before today.
    days = sorted(rng.sample(range(len(window) - 40), 3))
    fees = _FEES.get(currency, Decimal(0))
    rows: list[Transaction] = []
    held = Decimal(0)
    for number, position in enumerate(days):
        day = window.index[position].date()
        quantity = Decimal(rng.choice(_LOTS[ticker]))
        rate = _rate(currency, base, day, today, clock) if number == rate_on else None
        rows.append(Transaction(day, ticker, "BUY", quantity, _local_price(window, position, currency), fees,
                                currency=currency, fx_rate=rate))
        held += quantity
    sell_at = min(days[-1] + rng.randint(5, 120), len(window) - 2)
    rows.append(Transaction(window.index[sell_at].date(), ticker, "SELL", (held / 2).quantize(Decimal(1)),
                            _local_price(window, sell_at, currency), fees, "trim", currency=currency))
    per_share = _HALF_YEARLY_DIVIDENDS.get(ticker)
    if per_share is not None:
        rows.extend(_half_yearly_dividends(ticker, window, rows, per_share, currency))
    return rows


def _local_price(window, position: int, currency: str) -> Decimal:
    """The day's close as the broker prints it, in the major unit: London's in whole hundredths of a penny."""
    close = float(window["close"].iloc[position])
    if currency == "GBP":
        return in_major_unit(Decimal(str(round(close * MINOR_UNITS_PER_MAJOR, 2))))
    return Decimal(str(round(close, 2)))


def _rate(currency: str, base: str, day: dt.date, today: dt.date, clock: MarketClock) -> Decimal | None:
    """The simulated rate from `currency` to `base` on `day` (the last one on or before it), 4 places."""
    if currency == base:
        return None
    rates, _ = simulated_series(f"{currency}{base}=X", day - dt.timedelta(days=10), today, clock)
    known = rates.loc[rates.index <= pd.Timestamp(day), "close"]
    return Decimal(str(round(float(known.iloc[-1]), 4)))


def _half_yearly_dividends(ticker: str, window, rows: list[Transaction], per_share: Decimal,
                           currency: str) -> list[Transaction]:
    """A dividend in the first session of February and August on the shares held that day."""
    mine = sorted(rows, key=lambda t: t.date)
    first_buy = mine[0].date
    paid: list[Transaction] = []
    months = window.index.month
    first_of_month = [True, *(months[1:] != months[:-1])]
    for session, first in zip(window.index, first_of_month, strict=True):
        day = session.date()
        if not first or day.month not in (2, 8) or day <= first_buy:
            continue
        position = replay([t for t in mine if t.date <= day]).get(ticker)
        held = position.quantity if position else Decimal(0)
        if held > 0:
            paid.append(Transaction(day, ticker, "DIVIDEND", held, per_share, Decimal(0), "half-yearly dividend",
                                    currency=currency))
    return paid


def sample_csv(clock: MarketClock, today: dt.date) -> str:
    """The sample ledger as an importable CSV (the seed goes through the same validation as any import): London
    trades in pence (`GBp`), as a broker prints them."""
    return _broker_csv(sample_transactions_all(clock, today))


def sample_eur_csv(clock: MarketClock, today: dt.date) -> str:
    """The EUR sample ledger as an importable CSV, for a portfolio of base currency SAMPLE_EUR_BASE."""
    return _broker_csv(sample_eur_transactions(clock, today))


def _broker_csv(transactions: list[Transaction]) -> str:
    """`write_transactions_csv`, except that a London BUY or SELL is written in pence (price and fees x 100,
    currency `GBp`) as the broker's contract note shows it; the import divides them by 100 back to the same
    ledger exactly."""
    pence = [_in_pence(t) if t.currency == "GBP" and t.type in ("BUY", "SELL") else None for t in transactions]
    text = write_transactions_csv(transactions)
    if not any(pence):
        return text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for index, cells in enumerate(pence, start=1):
        if cells is not None:
            rows[index] = cells
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _in_pence(t: Transaction) -> list[str]:
    """The CSV cells of a GBP trade written in pence."""
    return [t.date.isoformat(), escape_cell(t.ticker), t.type, plain_decimal(t.quantity),
            plain_decimal(t.price * MINOR_UNITS_PER_MAJOR), plain_decimal(t.fees * MINOR_UNITS_PER_MAJOR),
            escape_cell(t.note), "GBp", "" if t.fx_rate is None else plain_decimal(t.fx_rate)]
