"""Money in the portfolio's base currency: a ledger converted at each transaction's own date, and the rates the
holdings are valued at today. The shared design (DESIGN.md), "Money in several currencies".

Pure: no I/O. Rates are handed in (`services.fx.FxRates.rate` is the lookup the app passes), so these functions
never ask a price source and never make a rate up: a rate they cannot get leaves the value unknown (the holding
is `missing`), never converted at 1 (1 only from a currency to itself).

Each transaction's currency is `txn.currency` (the major unit, as the ledger stores it) or else the instrument's
quote currency. Its rate into the base currency is 1 when it is the base, else `txn.fx_rate` when the user gave
one, else the lookup's rate on `txn.date`. A BUY's cost (price x quantity + fees), a SELL's proceeds and a
DIVIDEND's cash are each converted at their own date's rate: the cost basis and the realized gain are fixed at
the trade date's rate, the proceeds at the sale date's, dividends at theirs. A SPLIT has no price, needs no rate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

from services.models import PriceStatus, Transaction
from services.replay import Position, replay

__all__ = ["NO_RATE", "ConvertedLedger", "FxView", "HoldingRate", "RateLookup", "convert_ledger", "fx_view",
           "rate_digits", "rates_needed", "worse_status"]

RateLookup = Callable[[str, str, dt.date], Decimal | None]  # (source, target, day) -> rate, None if unknown
ONE = Decimal(1)
ZERO = Decimal(0)
RATE_DIGITS = 10  # significant digits a rate is shown with (as services/fx.py computes them)
_STATUS_ORDER: tuple[PriceStatus, ...] = ("fresh", "market_closed", "stale", "missing")


def rate_digits(rate: Decimal) -> float:
    """A rate for the payload: 10 significant digits."""
    return float(Context(prec=RATE_DIGITS, rounding=ROUND_HALF_EVEN).plus(rate))


def worse_status(*statuses: PriceStatus) -> PriceStatus:
    """The least fresh of the statuses: a value is as fresh as the older of its price and its rate."""
    return max(statuses, key=_STATUS_ORDER.index)


@dataclass(frozen=True)
class ConvertedLedger:
    """One ledger in two currencies, in the input's order.

    `in_base`: price and fees x the transaction's rate into the base currency (currency = base, fx_rate = None),
    for the replay of the base positions and the value chart's cost basis. `in_quote`: price and fees in each
    instrument's quote currency (a transaction entered in another currency converted at its date), for the
    replay of the local positions, whose cost at today's rate splits the unrealized gain (`fx_gain`).

    A transaction whose rate is unknown keeps its quantity (so quantities replay right) with price and fees 0 as
    placeholders, and its ticker is named: `missing` (no rate into the base: none of that ticker's money can be
    shown) or `missing_local` (no rate into the quote currency: only its `fx_gain` is unknown).
    """

    base: str
    in_base: tuple[Transaction, ...]
    in_quote: tuple[Transaction, ...]
    currencies: Mapping[str, str | None]  # ticker -> quote currency (None: unknown)
    missing: frozenset[str]
    missing_local: frozenset[str]


def _scaled(txn: Transaction, rate: Decimal | None, currency: str | None) -> Transaction:
    """`txn` with price and fees x rate (exact), stated in `currency`; the placeholders when the rate is unknown."""
    if rate is None:
        return dataclasses.replace(txn, price=ZERO, fees=ZERO, currency=currency, fx_rate=None)
    return dataclasses.replace(txn, price=txn.price * rate, fees=txn.fees * rate, currency=currency, fx_rate=None)


def _rate(source: str | None, target: str | None, day: dt.date, rate: RateLookup) -> Decimal | None:
    if source is None or target is None:
        return None
    return ONE if source == target else rate(source, target, day)


def convert_ledger(transactions: Sequence[Transaction], quote_currency: Callable[[str], str | None], base: str,
                   rate: RateLookup) -> ConvertedLedger:
    """The ledger in the base currency and in each instrument's quote currency (see ConvertedLedger).

    `quote_currency(ticker)` is the instrument's quote currency in its major unit (None: not known yet);
    `rate(source, target, day)` a rate on a day (the last earlier close; None: unknown). Rates are asked once
    per (source, target, day).
    """
    quotes: dict[str, str | None] = {}
    asked: dict[tuple[str, str, dt.date], Decimal | None] = {}

    def lookup(source: str, target: str, day: dt.date) -> Decimal | None:
        key = (source, target, day)
        if key not in asked:
            asked[key] = rate(source, target, day)
        return asked[key]

    in_base, in_quote, missing, missing_local = [], [], set(), set()
    for txn in transactions:
        if txn.ticker not in quotes:
            quotes[txn.ticker] = quote_currency(txn.ticker)
        quote = quotes[txn.ticker]
        if txn.type == "SPLIT":  # no price, no rate
            in_base.append(dataclasses.replace(txn, currency=base, fx_rate=None))
            in_quote.append(dataclasses.replace(txn, currency=quote, fx_rate=None))
            continue
        currency = txn.currency or quote
        # A currency into itself is exactly 1 (a stored fx_rate then names another base: the ledger's before a
        # change of base currency); otherwise the user's rate, else the day's rate.
        to_base = (ONE if currency == base else txn.fx_rate if txn.fx_rate is not None
                   else _rate(currency, base, txn.date, lookup))
        to_quote = _rate(currency, quote, txn.date, lookup)
        if to_base is None:
            missing.add(txn.ticker)
        if to_quote is None:
            missing_local.add(txn.ticker)
        in_base.append(_scaled(txn, to_base, base))
        in_quote.append(_scaled(txn, to_quote, quote))
    return ConvertedLedger(base, tuple(in_base), tuple(in_quote), quotes, frozenset(missing),
                           frozenset(missing_local))


def rates_needed(transactions: Sequence[Transaction], quote_currency: Callable[[str], str | None],
                 base: str) -> dict[tuple[str, str], list[dt.date]]:
    """Every (source, target) pair `convert_ledger` will look up, with its sorted days: for a caller that reads
    them in bulk (`FxRates.rates_on(source, target, days)`, one cache read per pair) and then hands
    `convert_ledger` a dict lookup. No rate of a currency into itself, none for a SPLIT or a given fx_rate."""
    wanted: dict[tuple[str, str], set[dt.date]] = {}
    for txn in transactions:
        quote = quote_currency(txn.ticker)
        currency = txn.currency or quote
        if txn.type == "SPLIT" or currency is None:
            continue
        if currency != base and txn.fx_rate is None:
            wanted.setdefault((currency, base), set()).add(txn.date)
        if quote is not None and currency != quote:
            wanted.setdefault((currency, quote), set()).add(txn.date)
    return {pair: sorted(days) for pair, days in sorted(wanted.items())}


@dataclass(frozen=True)
class HoldingRate:
    """What one holding is valued at today: its quote currency, the rate quote -> base now (at the price's time)
    and at the previous close, and the rate's freshness. None: unknown (the holding is then `missing`)."""

    currency: str | None
    rate: Decimal | None
    previous: Decimal | None
    status: PriceStatus = "fresh"

    @classmethod
    def of(cls, currency: str | None, latest, previous: Decimal | None) -> HoldingRate:
        """From `services.fx.LatestRate` (anything with `.rate` and `.status`) and the previous close's rate."""
        return cls(currency, latest.rate, previous, latest.status if latest.rate is not None else "missing")


NO_RATE = HoldingRate(None, None, None, "missing")


@dataclass(frozen=True)
class FxView:
    """What `analytics.holdings_rows` / `summary` need to show a ledger in its base currency: per ticker the rate
    of its quote currency, the positions in the quote currencies (the replay of `ConvertedLedger.in_quote`) and
    the tickers whose money in the base currency (`missing`) or whose local cost (`missing_local`) is unknown.
    The positions handed next to it are the replay of `ConvertedLedger.in_base`."""

    rates: Mapping[str, HoldingRate]
    local: Mapping[str, Position]
    missing: frozenset[str] = field(default_factory=frozenset)
    missing_local: frozenset[str] = field(default_factory=frozenset)

    def rate_of(self, ticker: str) -> HoldingRate:
        return self.rates.get(ticker, NO_RATE)


def fx_view(ledger: ConvertedLedger, rates: Mapping[str, HoldingRate]) -> tuple[dict[str, Position], FxView]:
    """(the base positions, the view) of a converted ledger and today's rates: the two replays in one call."""
    return replay(ledger.in_base), FxView(rates, replay(ledger.in_quote), ledger.missing, ledger.missing_local)
