"""Frozen domain values shared by the services, and the domain's own rules on them (what a ticker symbol looks
like, how an exact amount is written). Pure data: no I/O, no dash."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

TransactionType = Literal["BUY", "SELL", "DIVIDEND", "SPLIT"]
TRANSACTION_TYPES: tuple[str, ...] = ("BUY", "SELL", "DIVIDEND", "SPLIT")

# The shapes of Yahoo symbols: BRK-B, ^GSPC, EURUSD=X, VOD.L, BTC-USD, RDS.A, 7203.T, ES=F. The ledger, the CSV
# import and the price providers all hold a symbol to this one rule, so what the ledger accepts can be priced.
TICKER_PATTERN = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-]{0,14}(=[XF])?$")


def is_valid_ticker(symbol: str) -> bool:
    """True for a symbol shaped like Yahoo's (upper case, as the ledger stores it)."""
    return bool(TICKER_PATTERN.match(symbol)) and ".." not in symbol and not symbol.endswith((".", "-"))


def plain_decimal(value: Decimal) -> str:
    """`value` without exponent or trailing zeros: 10, 0.5, 123.45 (never 1E+1 or 0.50)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text

PriceStatus = Literal["fresh", "market_closed", "stale", "missing"]
PageStatus = Literal["fresh", "market_closed", "stale", "missing", "partial"]


@dataclass(frozen=True)
class Portfolio:
    id: int
    name: str
    base_currency: str
    owner_id: str

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "base_currency": self.base_currency}


@dataclass(frozen=True)
class Transaction:
    """One ledger row. Amounts are exact Decimals; `price` is 0 for a SPLIT."""

    date: dt.date
    ticker: str
    type: str
    quantity: Decimal
    price: Decimal
    fees: Decimal = Decimal("0")
    note: str = ""
    id: int | None = None
    portfolio_id: int | None = None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "date": self.date.isoformat(),
            "ticker": self.ticker,
            "type": self.type,
            "quantity": float(self.quantity),
            "price": float(self.price),
            "fees": float(self.fees),
            "note": self.note,
        }


@dataclass(frozen=True)
class FieldError:
    """A rejected value: `line` is the CSV line (header = 1), None for a single JSON transaction."""

    field: str
    message: str
    line: int | None = None

    def to_json(self) -> dict:
        data = {"field": self.field, "message": self.message}
        if self.line is not None:
            data = {"line": self.line, **data}
        return data


# The most errors one rejection names; the rest are counted (`ValidationError.total`), not described: a file of
# 100,000 bad rows once answered 38.7 MB of messages.
MAX_REPORTED_ERRORS = 100


class ValidationError(ValueError):
    """Input was rejected; `errors` names the bad fields (and lines, for CSV), at most MAX_REPORTED_ERRORS of them;
    `total` counts every error found (`len(errors)` unless more were found than are named)."""

    def __init__(self, message: str, errors: list[FieldError], total: int | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors[:MAX_REPORTED_ERRORS]
        self.total = max(len(errors), total or 0)

    def to_json(self) -> dict:
        return {"error": self.message, "errors": [e.to_json() for e in self.errors]}


class NotFoundError(LookupError):
    """A portfolio or transaction that does not exist (the API answers 404)."""


@dataclass(frozen=True)
class Quote:
    """The latest price of one ticker as the provider gave it."""

    ticker: str
    price: float | None
    previous_close: float | None
    currency: str | None
    market_time: dt.datetime | None  # when the exchange set this price (UTC)
    fetched_at: dt.datetime  # when we asked (UTC)


@dataclass(frozen=True)
class PriceInfo:
    """A cached quote with its freshness, as the dashboard shows it."""

    ticker: str
    price: float | None
    previous_close: float | None
    as_of: dt.datetime | None
    fetched_at: dt.datetime | None
    status: PriceStatus
    error: str | None = None
