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


# Currencies of a transaction's price and fees. An ISO 4217 code is three letters (stored upper case; "eur" is
# EUR). Some exchanges quote in a minor unit, and brokers print prices the same way: those are read here and
# stored as the major currency, the amounts divided by 100 (exactly: Decimal, no rounding). Case matters for
# pence: `GBp` (lower-case p) is pence and `GBP` (or `gbp`) pounds, as Yahoo writes them; `GBX` in any case is
# pence too. `ZAc` (South African cents) and `ILA` (Israeli agorot) are no ISO codes, so any case of them is the
# minor unit.
MINOR_UNITS: dict[str, str] = {"GBX": "GBP", "ZAC": "ZAR", "ILA": "ILS"}  # keyed upper case; plus `GBp`
MINOR_UNITS_PER_MAJOR = 100
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def read_currency(text: str) -> tuple[str | None, bool]:
    """(the major currency code, whether `text` named its minor unit) of a currency as a user wrote it, or
    (None, False) when it is no three-letter code: "GBp" -> ("GBP", True), "gbx" -> ("GBP", True),
    "GBP" -> ("GBP", False), "usd" -> ("USD", False)."""
    code = text.strip()
    if code == "GBp":
        return "GBP", True
    upper = code.upper()
    if upper in MINOR_UNITS:
        return MINOR_UNITS[upper], True
    return (upper, False) if _CURRENCY_CODE.match(upper) else (None, False)


def in_major_unit(amount: Decimal) -> Decimal:
    """An amount in a minor unit (pence, cents, agorot) in the major one, exactly: 1234.5 -> 12.345."""
    return Decimal(plain_decimal(amount.scaleb(-2)))


def plain_decimal(value: Decimal) -> str:
    """`value` without exponent or trailing zeros: 10, 0.5, 123.45 (never 1E+1 or 0.50)."""
    # str() is 4x faster than format(value, "f") and writes the same text unless it uses an exponent (1E+1, 1E-7;
    # lower case under a context with capitals=0). An import binds 300k amounts through here.
    text = str(value)
    if "E" in text or "e" in text:
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True)
class SplitRatio:
    """A split written `N:M`: `new` shares for every `old` share (1:3 is a 1-for-3 reverse split), kept as the two
    whole numbers so 99 shares split 1:3 are exactly 33 (the decimal 0.33333333 left 32.99999967)."""

    new: int
    old: int

    def __str__(self) -> str:
        return f"{self.new}:{self.old}"

    @property
    def factor(self) -> Decimal:
        """new / old as a Decimal (28 significant digits when it does not end): what old callers see as quantity."""
        return Decimal(self.new) / Decimal(self.old)

    def apply(self, shares: Decimal) -> Decimal:
        """`shares` after the split: shares x new / old, exact whenever the result is a finite decimal."""
        return shares * self.new / self.old


PriceStatus = Literal["fresh", "market_closed", "stale", "missing"]
PageStatus = Literal["fresh", "market_closed", "stale", "missing", "partial"]


# The index a portfolio's returns are compared with unless its owner picks another (issue 16).
DEFAULT_BENCHMARK = "^GSPC"


@dataclass(frozen=True)
class Portfolio:
    id: int
    name: str
    base_currency: str
    owner_id: str
    benchmark: str = DEFAULT_BENCHMARK  # the ticker of the performance chart's comparison line

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "base_currency": self.base_currency, "benchmark": self.benchmark}


@dataclass(frozen=True)
class Transaction:
    """One ledger row. Amounts are exact Decimals; `price` is 0 for a SPLIT.

    A SPLIT given as a ratio `N:M` keeps it in `ratio` (exact) and `quantity` is N/M (what old callers read).
    `time` (optional, HH:MM[:SS]) orders the rows of one ticker on one date; without it they go SPLIT, BUY,
    DIVIDEND, SELL (`replay.ledger_order`). For a DIVIDEND, `fees` is the withholding tax.

    `currency` is the currency of `price` and `fees` (always a major unit; None: the instrument's quote currency)
    and `fx_rate` the rate from it to the portfolio's base currency on `date` (None: the day's rate of the pair).
    """

    date: dt.date
    ticker: str
    type: str
    quantity: Decimal
    price: Decimal
    fees: Decimal = Decimal("0")
    note: str = ""
    id: int | None = None
    portfolio_id: int | None = None
    currency: str | None = None
    fx_rate: Decimal | None = None
    time: dt.time | None = None
    ratio: SplitRatio | None = None

    @property
    def quantity_text(self) -> str:
        """The quantity as the CSV writes it: `1:3` for a ratio split, else the plain decimal."""
        return str(self.ratio) if self.ratio is not None else plain_decimal(self.quantity)

    @property
    def time_text(self) -> str | None:
        return None if self.time is None else self.time.isoformat()

    def to_json(self) -> dict:
        data = {
            "id": self.id,
            "date": self.date.isoformat(),
            "ticker": self.ticker,
            "type": self.type,
            "quantity": float(self.quantity),
            "price": float(self.price),
            "fees": float(self.fees),
            "note": self.note,
            "currency": self.currency,
            "fx_rate": None if self.fx_rate is None else float(self.fx_rate),
            "time": self.time_text,
        }
        if self.ratio is not None:
            data["ratio"] = str(self.ratio)
        return data


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


@dataclass(frozen=True)
class ImportWarning:
    """One accepted row that looks wrong: its CSV line (header = 1), the field and what to do."""

    line: int
    field: str
    message: str

    def to_json(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ImportResult:
    """The answer to an import: rows added, rows skipped as equal to existing ones, warnings on the added rows."""

    imported: int
    skipped_duplicates: int = 0
    warnings: tuple[ImportWarning, ...] = ()

    def to_json(self) -> dict:
        return {"imported": self.imported, "skipped_duplicates": self.skipped_duplicates,
                "warnings": [w.to_json() for w in self.warnings]}

    @classmethod
    def from_json(cls, data: dict) -> ImportResult:
        return cls(int(data["imported"]), int(data.get("skipped_duplicates", 0)),
                   tuple(ImportWarning(int(w["line"]), str(w["field"]), str(w["message"]))
                         for w in data.get("warnings", ())))


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
    currency: str | None = None  # the quote currency, in its major unit (GBP, not GBp); None when not known
