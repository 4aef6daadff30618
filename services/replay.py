"""Replaying a ledger into positions (average-cost method): docs/ARCHITECTURE.md, "Ledger semantics".

Pure functions over `services.models` values: no I/O. Amounts accumulate as exact Decimals. The order transactions
apply in is `ledger_order`, the one rule the ledger's listing, the replay, the value series and the checks share:
by date; on one date by `time` where given (a row without one counts as the start of the day); then SPLIT, BUY,
DIVIDEND, SELL (a broker's newest-first file lists a SELL above its same-day BUY); then the order given.

- A DIVIDEND adds quantity x price - fees (`fees` is the withholding tax).
- A SPLIT `N:M` (`Transaction.ratio`) multiplies the shares by N/M exactly when the result is a finite decimal
  (99 -> 33); otherwise to 28 significant digits (100 1:3 -> 33.333...). A plain SPLIT quantity multiplies as is.
- Brokers keep the fraction a ratio leaves, and print it to a few places: a SELL within `SHARE_DUST` (one unit of
  the 8th place, the finest quantity a row can write) of the shares held sells all of them and closes the
  position, and is no oversell. So 100 shares, 1:3, SELL 33.33333333 leaves nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.models import Transaction

ZERO = Decimal(0)
SHARE_DUST = Decimal("1e-8")
# Same date, same time (or none): the order a day's rows of one ticker apply in.
TYPE_ORDER = {"SPLIT": 0, "BUY": 1, "DIVIDEND": 2, "SELL": 3}
_START_OF_DAY = dt.time(0, 0)


def order_key(transaction: Transaction) -> tuple[dt.date, dt.time, int]:
    """Where `transaction` goes in the ledger (ties keep the order given: sort stably)."""
    return (transaction.date, transaction.time or _START_OF_DAY, TYPE_ORDER.get(transaction.type, len(TYPE_ORDER)))


def ledger_order(transactions: Sequence[Transaction]) -> list[int]:
    """The indexes of `transactions` in the order they apply (see the module's docstring)."""
    keys = list(map(order_key, transactions))  # one key per row, looked up by index (a lambda per row: 40% slower)
    return sorted(range(len(keys)), key=keys.__getitem__)


def in_ledger_order(transactions: Sequence[Transaction]) -> list[Transaction]:
    return [transactions[i] for i in ledger_order(transactions)]


def sells_all(quantity: Decimal, held: Decimal) -> bool:
    """A SELL of `quantity` takes every share of `held` (exactly, or within SHARE_DUST of a split's fraction)."""
    return held > 0 and abs(quantity - held) < SHARE_DUST


@dataclass(frozen=True)
class Position:
    """One ticker after replaying the ledger (average-cost method)."""

    ticker: str
    quantity: Decimal
    cost_basis: Decimal
    realized_gain: Decimal
    dividends: Decimal
    first_date: dt.date  # first transaction of this ticker, even if the position was closed since
    last_date: dt.date | None = None  # its latest transaction
    closed_on: dt.date | None = None  # the day the quantity last fell to zero; None while open

    @property
    def avg_cost(self) -> Decimal | None:
        return self.cost_basis / self.quantity if self.quantity else None

    @property
    def is_open(self) -> bool:
        return self.quantity != 0


@dataclass(frozen=True)
class Oversell:
    """A SELL of more shares than were held at that point; `index` is its position in the input."""

    index: int
    ticker: str
    date: dt.date
    held: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class UnheldDividend:
    """A DIVIDEND on a ticker of which no share was held on or before its date; `index` in the input."""

    index: int
    ticker: str
    date: dt.date


class OversellError(ValueError):
    """The ledger sells shares it does not hold; `oversells` names every such SELL."""

    def __init__(self, oversells: list[Oversell]):
        first = oversells[0]
        super().__init__(
            f"{len(oversells)} SELL(s) of more shares than held, first: {first.ticker} on "
            f"{first.date.isoformat()} sells {first.quantity}, holds {first.held}"
        )
        self.oversells = oversells


@dataclass(slots=True)
class _Book:
    """Running state of one ticker while the ledger is replayed (mutable, private)."""

    ticker: str
    first_date: dt.date
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_gain: Decimal = ZERO
    dividends: Decimal = ZERO
    last_date: dt.date | None = None
    closed_on: dt.date | None = None
    ever_held: bool = False

    def apply(self, txn: Transaction) -> None:
        self.last_date = txn.date
        if txn.type == "BUY":
            self.quantity += txn.quantity
            self.cost_basis += txn.quantity * txn.price + txn.fees
        elif txn.type == "SELL":
            if sells_all(txn.quantity, self.quantity):
                released, self.quantity = self.cost_basis, ZERO  # a split's fraction goes with the rest
            else:
                # cost * sold / held is avg_cost * sold.
                released = self.cost_basis * txn.quantity / self.quantity if txn.quantity else ZERO
                self.quantity -= txn.quantity
            self.realized_gain += txn.quantity * txn.price - txn.fees - released
            self.cost_basis -= released
        elif txn.type == "DIVIDEND":
            self.dividends += txn.quantity * txn.price - txn.fees
        elif txn.type == "SPLIT":
            self.quantity = txn.ratio.apply(self.quantity) if txn.ratio is not None else self.quantity * txn.quantity
        else:
            raise ValueError(f"unknown transaction type {txn.type!r}")
        if self.quantity > 0:
            self.ever_held = True
        if self.quantity == 0:
            self.cost_basis = ZERO  # closed: a later BUY starts a fresh position
            if txn.type == "SELL":
                self.closed_on = txn.date
        else:
            self.closed_on = None

    def position(self) -> Position:
        return Position(self.ticker, self.quantity, self.cost_basis, self.realized_gain, self.dividends,
                        self.first_date, self.last_date, self.closed_on)


def walk(transactions: Sequence[Transaction], found: list[Oversell],
         unheld: list[UnheldDividend] | None = None) -> Iterator[tuple[Transaction, _Book]]:
    """Apply the transactions in `ledger_order`; yield each one with its ticker's book after it.

    A SELL of more than is held is recorded in `found` and skipped, so each oversell is judged on its own. A
    DIVIDEND on a ticker never held yet is recorded in `unheld` (when given) and still counted: data older than
    that check must still render.
    """
    books: dict[str, _Book] = {}
    for index in ledger_order(transactions):
        txn = transactions[index]
        book = books.get(txn.ticker)
        if book is None:
            book = books[txn.ticker] = _Book(txn.ticker, txn.date)
        if txn.type == "SELL" and txn.quantity > book.quantity and not sells_all(txn.quantity, book.quantity):
            found.append(Oversell(index, txn.ticker, txn.date, book.quantity, txn.quantity))
            continue
        if txn.type == "DIVIDEND" and not book.ever_held and unheld is not None:
            unheld.append(UnheldDividend(index, txn.ticker, txn.date))
        book.apply(txn)
        yield txn, book


def oversells(transactions: Sequence[Transaction]) -> list[Oversell]:
    """Every SELL of more shares than held at that point, in date order (each judged without the others)."""
    found: list[Oversell] = []
    for _step in walk(transactions, found):
        pass
    return found


def problems(transactions: Sequence[Transaction]) -> tuple[list[Oversell], list[UnheldDividend]]:
    """`oversells` and `unheld_dividends` of one ledger in one walk (an import judges 100k rows: each walk ~0.3 s)."""
    found: list[Oversell] = []
    unheld: list[UnheldDividend] = []
    for _step in walk(transactions, found, unheld):
        pass
    return found, unheld


def unheld_dividends(transactions: Sequence[Transaction]) -> list[UnheldDividend]:
    """Every DIVIDEND on a ticker of which no share was held on or before its date (in ledger order)."""
    found: list[Oversell] = []
    unheld: list[UnheldDividend] = []
    for _step in walk(transactions, found, unheld):
        pass
    return unheld


def replay(transactions: Sequence[Transaction], *, strict: bool = False) -> dict[str, Position]:
    """Positions of every ticker ever traded, closed ones included.

    An oversold SELL is skipped, as `oversells` judges it: the ledger refuses new ones, but data older than
    that check must still render. With `strict=True` it raises OversellError instead.
    """
    found: list[Oversell] = []
    books = {txn.ticker: book for txn, book in walk(transactions, found)}
    if found and strict:
        raise OversellError(found)
    return {ticker: book.position() for ticker, book in sorted(books.items())}
