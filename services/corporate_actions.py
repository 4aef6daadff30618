"""Splits checked against the price source: the source's split events held against the ledger's SPLIT rows.

DESIGN.md, "Day change, splits and import hygiene": `GET /api/portfolios/<id>/corporate-actions` answers
`{"splits": [{"ticker", "date", "ratio", "status"}]}`. Statuses:

- `recorded`: the ledger has a SPLIT of the source's ratio on the source's date;
- `missing`: the source split the ticker on a day it was held (shares held before that day > 0) and the ledger
  has no SPLIT of that ratio near it (a same-day SPLIT of another ratio is named by `transaction_id`: the fix
  changes its ratio rather than adding a second one);
- `misdated`: a ledger SPLIT of the same ratio lies within MISDATED_WINDOW_DAYS of the source's date but not on it
  (`ledger_date` and `transaction_id` say which one, so it can be moved);
- `unconfirmed` (a fourth status, added compatibly): a ledger SPLIT on a day the cached bars cover, with no source
  split of any ratio near it. Nothing is fixed automatically: only the investor knows whether it is real.

`date` and `ratio` are always the source's (for `unconfirmed`: the ledger's). Reading is cache-only: a ticker with
no cached bars yet has no events and is listed in `unchecked`. Pure comparison (`compare_splits`) plus a small
builder over a ledger and a price cache (`corporate_actions`) and the fix (`apply_fix`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from services.models import Transaction, ValidationError
from services.replay import walk
from services.store import BARS

SplitStatus = Literal["recorded", "missing", "misdated", "unconfirmed"]
SPLIT_STATUSES: tuple[str, ...] = ("recorded", "missing", "misdated", "unconfirmed")
FIXABLE: tuple[str, ...] = ("missing", "misdated")
MISDATED_WINDOW_DAYS = 30  # a same-ratio SPLIT this close to the source's date is the same event, misdated
RATIO_DENOMINATOR = 1000  # ratios are compared and shown as fractions with denominators up to this


def ratio_fraction(value: Decimal | float | str) -> Fraction:
    """A split ratio (new shares per old share) as the nearest simple fraction: 0.33333333 -> 1/3."""
    return Fraction(Decimal(str(value))).limit_denominator(RATIO_DENOMINATOR)


def ledger_ratio(txn: Transaction) -> Fraction:
    """A ledger SPLIT's ratio: its exact `N:M` when it has one (issue 15's exact ratios), else its quantity."""
    exact = getattr(txn, "ratio", None)
    if exact is not None:
        numerator, _, denominator = str(exact).partition(":")
        return Fraction(int(numerator), int(denominator or 1))
    return ratio_fraction(txn.quantity)


def ratio_text(value: Decimal | float | str) -> str:
    """A split ratio as "N:M" text (N new shares for M old): 4 -> "4:1", 0.5 -> "1:2"."""
    fraction = ratio_fraction(value)
    return f"{fraction.numerator}:{fraction.denominator}"


@dataclass(frozen=True)
class SplitCheck:
    """One split event and how the ledger holds it; `transaction_id`/`ledger_date` name the ledger's SPLIT."""

    ticker: str
    date: dt.date
    ratio: str
    status: SplitStatus
    transaction_id: int | None = None
    ledger_date: dt.date | None = None
    ledger_ratio: str | None = None

    @property
    def fixable(self) -> bool:
        return self.status in FIXABLE

    def to_json(self) -> dict:
        return {"ticker": self.ticker, "date": self.date.isoformat(), "ratio": self.ratio, "status": self.status,
                "transaction_id": self.transaction_id,
                "ledger_date": None if self.ledger_date is None else self.ledger_date.isoformat(),
                "ledger_ratio": self.ledger_ratio}


@dataclass(frozen=True)
class CorporateActions:
    """Every split check of a portfolio (by ticker, then date), and the tickers with no cached bars yet."""

    splits: tuple[SplitCheck, ...] = ()
    unchecked: tuple[str, ...] = field(default=())

    @property
    def problems(self) -> tuple[SplitCheck, ...]:
        """The checks the UI warns about (every status but `recorded`)."""
        return tuple(check for check in self.splits if check.status != "recorded")

    def to_json(self) -> dict:
        return {"splits": [check.to_json() for check in self.splits], "unchecked": list(self.unchecked)}


@dataclass(frozen=True)
class SourceSplits:
    """What the source says of one ticker: its split days with their ratios, and the days its cached bars cover."""

    events: tuple[tuple[dt.date, Fraction], ...] = ()
    first: dt.date | None = None
    last: dt.date | None = None

    @classmethod
    def from_arrays(cls, dates_ns: np.ndarray, split: np.ndarray) -> SourceSplits:
        """From the bars' arrays as the cache stores them (dates as int64 ns): no DataFrame per ticker."""
        if not len(dates_ns):
            return cls()
        split = np.asarray(split, dtype="float64")
        rows = np.nonzero(np.isfinite(split) & (split > 0) & (split != 1.0))[0]
        day = _day_of_ns
        return cls(tuple((day(dates_ns[i]), ratio_fraction(float(split[i]))) for i in rows),
                   day(dates_ns[0]), day(dates_ns[-1]))

    @classmethod
    def from_bars(cls, bars: pd.DataFrame) -> SourceSplits:
        """From a bars frame (services/providers/base.py TickerHistory: `split` is new shares per old share)."""
        return cls.from_arrays(bars.index.to_numpy(dtype="datetime64[ns]").view("int64"),
                               bars["split"].to_numpy(dtype="float64"))


def _day_of_ns(value: int) -> dt.date:
    return pd.Timestamp(int(value)).date()


def _held_before(transactions: Sequence[Transaction]) -> dict[str, list[tuple[dt.date, Decimal]]]:
    """Per ticker, (date, shares held after that transaction) in ledger order (oversold SELLs skipped)."""
    held: dict[str, list[tuple[dt.date, Decimal]]] = {}
    for txn, book in walk(transactions, []):
        held.setdefault(txn.ticker, []).append((txn.date, book.quantity))
    return held


def _shares_before(history: list[tuple[dt.date, Decimal]], day: dt.date) -> Decimal:
    shares = Decimal(0)
    for date, quantity in history:
        if date >= day:
            break
        shares = quantity
    return shares


def compare_splits(transactions: Sequence[Transaction], bars: Mapping[str, SourceSplits | pd.DataFrame | None],
                   window_days: int = MISDATED_WINDOW_DAYS) -> CorporateActions:
    """Hold the source's splits (`bars`: per ticker its cached bars or their SourceSplits, None if none yet) against
    the ledger."""
    by_ticker: dict[str, list[Transaction]] = {}
    for txn in transactions:
        by_ticker.setdefault(txn.ticker, []).append(txn)
    source = {ticker: _as_splits(bars.get(ticker)) for ticker in by_ticker}
    # Shares held are only needed where the source split: most tickers never did, and a walk of 20,000 rows costs.
    held = _held_before([txn for txn in transactions if source[txn.ticker] and source[txn.ticker].events])
    checks: list[SplitCheck] = []
    unchecked: list[str] = []
    for ticker in sorted(by_ticker):
        splits = source[ticker]
        if splits is None:
            unchecked.append(ticker)
            continue
        ledger = [txn for txn in by_ticker[ticker] if txn.type == "SPLIT"]
        checks.extend(_check_ticker(ticker, ledger, splits, held.get(ticker, []), window_days))
    checks.sort(key=lambda c: (c.ticker, c.date))
    return CorporateActions(tuple(checks), tuple(unchecked))


def _as_splits(bars: SourceSplits | pd.DataFrame | None) -> SourceSplits | None:
    return SourceSplits.from_bars(bars) if isinstance(bars, pd.DataFrame) else bars


def _check_ticker(ticker: str, ledger: list[Transaction], source: SourceSplits,
                  held: list[tuple[dt.date, Decimal]], window_days: int) -> list[SplitCheck]:
    events = source.events
    unmatched = list(ledger)
    checks: list[SplitCheck] = []
    # Exact matches first, so a correct SPLIT is never taken as another event's misdated one.
    pending: list[tuple[dt.date, Fraction]] = []
    for day, ratio in events:
        same = next((t for t in unmatched if t.date == day and ledger_ratio(t) == ratio), None)
        if same is None:
            pending.append((day, ratio))
            continue
        unmatched.remove(same)
        checks.append(SplitCheck(ticker, day, _text(ratio), "recorded", same.id, same.date, _text(ratio)))
    for day, ratio in pending:
        near = [t for t in unmatched if ledger_ratio(t) == ratio
                and abs((t.date - day).days) <= window_days]
        if near:
            moved = min(near, key=lambda t: abs((t.date - day).days))
            unmatched.remove(moved)
            checks.append(SplitCheck(ticker, day, _text(ratio), "misdated", moved.id, moved.date, _text(ratio)))
            continue
        if _shares_before(held, day) <= 0:
            continue  # not held when it split: nothing to record
        wrong = next((t for t in unmatched if t.date == day), None)
        if wrong is not None:
            unmatched.remove(wrong)
        checks.append(SplitCheck(ticker, day, _text(ratio), "missing",
                                 None if wrong is None else wrong.id, None if wrong is None else wrong.date,
                                 None if wrong is None else _text(ledger_ratio(wrong))))
    first, last = source.first, source.last
    for txn in unmatched:
        covered = first is not None and last is not None and first <= txn.date <= last
        near_event = any(abs((txn.date - day).days) <= window_days for day, _ in events)
        if covered and not near_event:
            text = _text(ledger_ratio(txn))
            checks.append(SplitCheck(ticker, txn.date, text, "unconfirmed", txn.id, txn.date, text))
    return checks


def _text(ratio: Fraction) -> str:
    return f"{ratio.numerator}:{ratio.denominator}"


# -- the builder and the fix -------------------------------------------------------------------------------------
class _Ledger(Protocol):
    def list_transactions(self, portfolio_id: int) -> list[Transaction]: ...
    def add_transaction(self, portfolio_id: int, data: Mapping[str, object]) -> Transaction: ...
    def update_transaction(self, portfolio_id: int, transaction_id: int,
                           data: Mapping[str, object]) -> Transaction: ...


class _Store(Protocol):
    def get(self, key: str, default: object = None) -> object: ...


def cached_splits(cache: _Store, ticker: str) -> SourceSplits | None:
    """The source's splits of `ticker` from the price cache's stored arrays (None: never fetched). Read without
    building a frame: ~0.05 ms a ticker, where `PriceCache.get_bars` and a pandas filter took ~2 ms."""
    stored = cache.get(BARS.key(ticker))
    if stored is None:
        return None
    if isinstance(stored, pd.DataFrame):  # written by an earlier version of the cache
        return SourceSplits.from_bars(stored)
    return SourceSplits.from_arrays(stored["date"], stored["split"])


def corporate_actions(ledger: _Ledger, cache: _Store, portfolio_id: int,
                      transactions: Sequence[Transaction] | None = None) -> CorporateActions:
    """The split checks of one portfolio, from its (owner-scoped) ledger and the cached bars alone.

    `transactions`: the ledger already read (the dashboard's loader memoizes it per version), else it is listed."""
    if transactions is None:
        transactions = ledger.list_transactions(portfolio_id)
    tickers = sorted({txn.ticker for txn in transactions})
    return compare_splits(transactions, {ticker: cached_splits(cache, ticker) for ticker in tickers})


def find_check(actions: CorporateActions, ticker: str, date: str | dt.date) -> SplitCheck | None:
    """The check of `ticker`'s source split on `date` (ISO text or a date), if there is one."""
    day = dt.date.fromisoformat(date) if isinstance(date, str) else date
    return next((c for c in actions.splits if c.ticker == ticker and c.date == day), None)


def fix_values(check: SplitCheck) -> dict[str, object]:
    """The transaction values that make the ledger agree with the source for a fixable check."""
    if not check.fixable:
        raise ValueError(f"a {check.status} split of {check.ticker} on {check.date} has nothing to fix")
    return {"date": check.date.isoformat(), "ticker": check.ticker, "type": "SPLIT", "quantity": check.ratio}


def apply_fix(ledger: _Ledger, portfolio_id: int, check: SplitCheck) -> Transaction:
    """Add the missing SPLIT, or move (and re-ratio) the ledger's one, through the ledger's own add/update, so
    validation, owner scoping and versions apply. The ratio goes as "N:M" text; a ledger that does not take that
    form yet gets the decimal (exact for N:1, 8 places otherwise)."""
    values = fix_values(check)
    for attempt in _quantity_forms(check.ratio):
        data = {**values, "quantity": attempt}
        try:
            if check.transaction_id is None:
                return ledger.add_transaction(portfolio_id, data)
            return ledger.update_transaction(portfolio_id, check.transaction_id, data)
        except ValidationError as error:
            if attempt == _quantity_forms(check.ratio)[-1] or not _only_quantity(error.errors):
                raise
    raise AssertionError("unreachable")


def _quantity_forms(ratio: str) -> list[str]:
    numerator, denominator = (int(part) for part in ratio.split(":"))
    if denominator == 1:
        return [str(numerator)]
    return [ratio, str(round(Decimal(numerator) / Decimal(denominator), 8))]


def _only_quantity(errors: Iterable[object]) -> bool:
    return all(getattr(error, "field", None) == "quantity" for error in errors)
