"""A holding's day change on its own trading day, trades of the day included (issue 15; DESIGN.md, "Day change,
splits and import hygiene").

Day change = shares held at the previous close (and still held) x (price - previous close) + shares bought today
x (price - buy price) + shares sold today x (sale price - previous close). Added up, that is the value now plus
the day's sale proceeds minus the value at the previous close and the day's purchases:

    change = quantity now x price - held at the previous close x previous close + proceeds - purchases

which is what `day_change` computes (so a sale of shares bought the same day is counted once, whichever shares
it took). Fees are not in it. In the base currency the prices are x the rate now and the previous close x the
rate then, while purchases and proceeds are the base ledger's (each at its trade date's rate).

"Today" for a holding is the trading day its quote belongs to: the date at the ticker's exchange of the quote's
market time (`market_calendar.exchange_date`), else the exchange's date now. Trades dated on or after that day
are today's (a Monday pre-open buy against Friday's quote is bought today); the earlier ones make up the shares
held at the previous close. A split dated today is applied to those shares too, as the previous close a quote
carries is split-adjusted. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.market_calendar import exchange_date
from services.models import PriceInfo, Transaction
from services.replay import Oversell, walk

ZERO = Decimal(0)


@dataclass(frozen=True)
class DayTrades:
    """One ticker's shares at the previous close and its trades on (or after) its trading day `day`, in shares
    after any split of the day; `bought_cost` and `proceeds` are quantity x price without fees."""

    day: dt.date
    held: Decimal = ZERO
    bought: Decimal = ZERO
    bought_cost: Decimal = ZERO
    sold: Decimal = ZERO
    proceeds: Decimal = ZERO

    @property
    def traded(self) -> bool:
        return bool(self.bought or self.sold)


def trading_day(ticker: str, info: PriceInfo | None, now: dt.datetime | None = None) -> dt.date:
    """The day a ticker's quote belongs to at its exchange; without a quote time, the exchange's date `now`."""
    moment = info.as_of if info is not None and info.as_of is not None else now
    return exchange_date(ticker, moment)


def day_trades(transactions: Sequence[Transaction], days: Mapping[str, dt.date]) -> dict[str, DayTrades]:
    """Each ticker of `days` with its shares at the previous close and its trades dated on or after its day.

    The ledger is walked as the replay walks it (services/replay.py: same order, oversold SELLs skipped), so
    `held + bought - sold` is the replayed quantity.
    """
    state: dict[str, list[Decimal]] = {}  # ticker -> [held, bought, bought_cost, sold, proceeds]
    found: list[Oversell] = []
    for txn, book in walk(transactions, found):
        day = days.get(txn.ticker)
        if day is None:
            continue
        s = state.setdefault(txn.ticker, [ZERO] * 5)
        if txn.date < day:
            s[0] = book.quantity  # the book after this transaction: the last one before the day wins
        elif txn.type == "SPLIT":  # every share counted so far is split too (exactly, for an `N:M` ratio)
            ratio = getattr(txn, "ratio", None)
            s[0], s[1], s[3] = (ratio.apply(x) if ratio is not None else x * txn.quantity for x in (s[0], s[1], s[3]))
        elif txn.type == "BUY":
            s[1] += txn.quantity
            s[2] += txn.quantity * txn.price
        elif txn.type == "SELL":
            s[3] += txn.quantity
            s[4] += txn.quantity * txn.price
    return {t: DayTrades(day, *state[t]) if t in state else DayTrades(day) for t, day in days.items()}


def day_change(trades: DayTrades, quantity: Decimal, price: Decimal | None, previous: Decimal | None,
               now: Decimal | None = Decimal(1), then: Decimal | None = Decimal(1),
               ) -> tuple[Decimal | None, Decimal | None]:
    """(day change, what it is a fraction of) of one ticker, None where a needed price or rate is unknown.

    The base is the money at stake on the day: shares held at the previous close x previous close + today's
    purchases. A price (and the rate now) is needed only while shares are held, the previous close (and the rate
    then) only when shares were held at it: a position bought today needs no previous close.
    """
    value_now = ZERO
    if quantity:
        if price is None or now is None:
            return None, None
        value_now = quantity * price * now
    value_then = ZERO
    if trades.held:
        if previous is None or then is None:
            return None, None
        value_then = trades.held * previous * then
    base = value_then + trades.bought_cost
    return value_now - value_then + trades.proceeds - trades.bought_cost, base
