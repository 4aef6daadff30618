"""Replaying a ledger into positions (average-cost method): docs/ARCHITECTURE.md, "Ledger semantics".

Pure functions over `services.models` values: no I/O. Amounts accumulate as exact Decimals. Transactions are applied
in date order; transactions on the same date keep the order they were given in (a stable sort), so a BUY listed
before a SELL on the same day is applied first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.models import Transaction

ZERO = Decimal(0)


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

    def apply(self, txn: Transaction) -> None:
        self.last_date = txn.date
        if txn.type == "BUY":
            self.quantity += txn.quantity
            self.cost_basis += txn.quantity * txn.price + txn.fees
        elif txn.type == "SELL":
            # cost * sold / held is avg_cost * sold, but exact when everything is sold.
            released = self.cost_basis * txn.quantity / self.quantity if txn.quantity else ZERO
            self.realized_gain += txn.quantity * txn.price - txn.fees - released
            self.quantity -= txn.quantity
            self.cost_basis -= released
        elif txn.type == "DIVIDEND":
            self.dividends += txn.quantity * txn.price
        elif txn.type == "SPLIT":
            self.quantity *= txn.quantity
        else:
            raise ValueError(f"unknown transaction type {txn.type!r}")
        if self.quantity == 0:
            self.cost_basis = ZERO  # closed: a later BUY starts a fresh position
            if txn.type == "SELL":
                self.closed_on = txn.date
        else:
            self.closed_on = None

    def position(self) -> Position:
        return Position(self.ticker, self.quantity, self.cost_basis, self.realized_gain, self.dividends,
                        self.first_date, self.last_date, self.closed_on)


def walk(transactions: Sequence[Transaction], found: list[Oversell]) -> Iterator[tuple[Transaction, _Book]]:
    """Apply the transactions in (date, input order); yield each one with its ticker's book after it.

    A SELL of more than is held is recorded in `found` and skipped, so each oversell is judged on its own.
    """
    books: dict[str, _Book] = {}
    order = sorted(range(len(transactions)), key=lambda i: transactions[i].date)  # stable: ties keep order
    for index in order:
        txn = transactions[index]
        book = books.get(txn.ticker)
        if book is None:
            book = books[txn.ticker] = _Book(txn.ticker, txn.date)
        if txn.type == "SELL" and txn.quantity > book.quantity:
            found.append(Oversell(index, txn.ticker, txn.date, book.quantity, txn.quantity))
            continue
        book.apply(txn)
        yield txn, book


def oversells(transactions: Sequence[Transaction]) -> list[Oversell]:
    """Every SELL of more shares than held at that point, in date order (each judged without the others)."""
    found: list[Oversell] = []
    for _step in walk(transactions, found):
        pass
    return found


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
