"""A loaded portfolio's ledger in its base currency: the quote currency of each ticker, the converted ledger, its
two replays and the exchange-rate pairs it needs (issue 14; the arithmetic is services/base_currency.py's).

Quote currencies come from the cached quotes (`Quote.currency`, the major unit), else from the suffix table's
guess (`listed_currency`), so a cold load knows every pair it needs before the first request and fetches
stocks and pairs in one round. Rates come from the cache only (`FxRates.rates_on`, one read per pair).

A conversion depends on the ledger's version, the base currency and, while something was unknown, on quotes not
cached yet: `watch` names the symbols whose quote may change it (tickers whose currency was guessed, and every
pair when a rate was missing) and `fingerprint` when each of them was fetched, so the loader recomputes it once
one of those quotes lands, and never otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from services.base_currency import ONE, ConvertedLedger, FxView, HoldingRate, convert_ledger, rates_needed
from services.fx import FxRates
from services.models import Transaction
from services.price_planning import Need
from services.price_service import PriceService
from services.providers.currency import listed_currency, major_currency
from services.replay import Position, replay

Fingerprint = tuple[tuple[str, dt.datetime | None], ...]


@dataclass(frozen=True)
class Conversion:
    """One ledger in one base currency. `ledger` is None when every amount is in the base already (a USD
    portfolio of US stocks): then the positions are the plain replay and nothing is converted or fetched."""

    base: str
    currencies: Mapping[str, str]  # ticker -> quote currency (major unit)
    ledger: ConvertedLedger | None
    positions: Mapping[str, Position]  # in the base currency
    local: Mapping[str, Position]  # in each quote currency
    pair_needs: Mapping[str, Need]
    fingerprint: Fingerprint = field(default=())

    @property
    def in_base(self) -> bool:
        return self.ledger is None

    @property
    def missing(self) -> frozenset[str]:
        return frozenset() if self.ledger is None else self.ledger.missing

    def view(self, rates: Mapping[str, HoldingRate]) -> FxView:
        """What analytics.holdings_rows / summary take, with today's rates."""
        if self.ledger is None:
            return FxView(rates, self.local)
        return FxView(rates, self.local, self.ledger.missing, self.ledger.missing_local)


def quote_currencies(prices: PriceService, tickers: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """(ticker -> quote currency, the tickers whose currency is the suffix table's guess)."""
    currencies, guessed = {}, set()
    for ticker in tickers:
        quote = prices.cache.get_quote(ticker)
        known = quote.currency if quote is not None else None
        if known is None:
            guessed.add(ticker)
            known = listed_currency(ticker)
        currencies[ticker] = major_currency(known)[0] or "USD"
    return currencies, guessed


def fingerprint(prices: PriceService, symbols: Sequence[str]) -> Fingerprint:
    """When each symbol's cached quote was fetched (None: not cached): changes when one of them lands."""
    stamps = []
    for symbol in symbols:
        quote = prices.cache.get_quote(symbol)
        stamps.append((symbol, quote.fetched_at if quote is not None else None))
    return tuple(stamps)


def still_valid(prices: PriceService, conversion: Conversion) -> bool:
    return fingerprint(prices, [s for s, _ in conversion.fingerprint]) == conversion.fingerprint


def convert(fx: FxRates, transactions: Sequence[Transaction], positions: Mapping[str, Position],
            base: str) -> Conversion:
    """The ledger (and its replay `positions`) in `base`, from the cache alone."""
    tickers = list(dict.fromkeys(t.ticker for t in transactions))
    currencies, guessed = quote_currencies(fx.prices, tickers)
    used = set(currencies.values()) | {t.currency for t in transactions if t.currency}
    start = min((t.date for t in transactions), default=None)
    pair_needs = fx.needs_for(used, base, start) if start is not None else {}
    # Stamped before the rates are read: a pair landing meanwhile then changes the fingerprint.
    before = dict(fingerprint(fx.prices, sorted(guessed | set(pair_needs))))
    if used <= {base}:
        watch = sorted(guessed)
        return Conversion(base, currencies, None, positions, positions, pair_needs,
                          tuple((s, before[s]) for s in watch))
    table: dict[tuple[str, str, dt.date], Decimal | None] = {}
    for (source, target), days in rates_needed(transactions, currencies.get, base).items():
        table.update(((source, target, day), rate) for day, rate in zip(days, fx.rates_on(source, target, days),
                                                                         strict=True))
    ledger = convert_ledger(transactions, currencies.get, base, lambda s, t, d: table.get((s, t, d)))
    watch = sorted(guessed | (set(pair_needs) if ledger.missing or ledger.missing_local else set()))
    return Conversion(base, currencies, ledger, replay(ledger.in_base), replay(ledger.in_quote), pair_needs,
                      tuple((s, before[s]) for s in watch))


def holding_rate(fx: FxRates, currency: str, base: str) -> HoldingRate:
    """The rate now (the pairs' cached quotes) and at the previous close (the last close before the quote's day,
    a weekend's Friday); never 1 but from a currency to itself."""
    if currency == base:
        return HoldingRate(currency, ONE, ONE, "fresh")
    latest = fx.latest(currency, base)
    previous = None
    if latest.rate is not None and latest.as_of is not None:
        previous = fx.rate(currency, base, latest.as_of.astimezone(dt.UTC).date() - dt.timedelta(days=1))
    return HoldingRate.of(currency, latest, previous)


def today_view(fx: FxRates, conversion: Conversion | None, tickers: Sequence[str], base: str,
               positions: Mapping[str, Position]) -> FxView:
    """The FxView of the open `tickers` at today's rates (one lookup per currency); without a conversion every
    ticker is taken as quoted in the base (`positions` are then the local ones too)."""
    currencies = conversion.currencies if conversion is not None else {}
    by_currency: dict[str, HoldingRate] = {}
    rates = {}
    for ticker in tickers:
        currency = currencies.get(ticker, base)
        if currency not in by_currency:
            by_currency[currency] = holding_rate(fx, currency, base)
        rates[ticker] = by_currency[currency]
    return conversion.view(rates) if conversion is not None else FxView(rates, positions)
