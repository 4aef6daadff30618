"""The rules one transaction must meet, whether it comes as a CSV row or a JSON body (docs/ARCHITECTURE.md,
"Ledger semantics").

Pure: no database, no I/O beyond the values handed in. Limits, chosen to fit `Numeric(28, 10)` with room to spare
and to refuse typos rather than guess:
- dates `YYYY-MM-DD` from 1900-01-01 to today, where today is the date in UTC+14 (the first zone to reach
  a new day), so no user's same-day trade is refused whatever the server's time zone;
- quantity > 0, price >= 0 (> 0 for BUY/SELL/DIVIDEND, empty or 0 for SPLIT), fees >= 0 (default 0);
  each at most 1e12 and written as a plain number (no NaN, inf, thousands separators or underscores);
- at most 8 decimal places for quantity (fractional shares, split ratios like 0.33333333) and price
  (sub-penny quotes), 4 for fees (fractions of a cent);
- a number cell at most 40 characters, a note at most 500 characters; tickers follow `models.is_valid_ticker`;
- `currency` (optional; of price and fees) a three-letter code, or a minor unit (`GBp`/`GBX` pence, `ZAc`
  cents, `ILA` agorot: see `models.read_currency`) whose price and fees are divided by 100 exactly and stored in
  GBP, ZAR, ILS. The place limits apply to the amounts as written, so a GBP, ZAR or ILS amount may have two
  places more (what pence give: 0.01 GBp is 0.0001 GBP), and an exported pence trade imports back unchanged;
- `fx_rate` (optional; transaction currency -> base currency on that day) > 0, at most 10 decimal places (what
  the ledger stores) and 1e12; given without a currency it converts from the instrument's quote currency.
Amounts are parsed with `Decimal` from their text, never through float. A JSON float is read from its
shortest repr (`repr(0.1) == '0.1'`), which is the number the sender wrote.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from services.models import (
    MINOR_UNITS,
    TRANSACTION_TYPES,
    FieldError,
    Transaction,
    in_major_unit,
    is_valid_ticker,
    plain_decimal,
    read_currency,
)

MIN_DATE = dt.date(1900, 1, 1)
MAX_AMOUNT = Decimal("1e12")
QUANTITY_PLACES = 8
PRICE_PLACES = 8
FEES_PLACES = 4
FX_RATE_PLACES = 10
# Currencies whose prices are often written in their minor unit: two decimal places more in the major one.
_MINOR_UNIT_MAJORS = frozenset(MINOR_UNITS.values())
MAX_NUMBER_CHARS = 40
MAX_NOTE_CHARS = 500

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Digits with an optional fraction and exponent; the sign is allowed only so "-5" is reported as
# "must be greater than 0" rather than "not a number". Decimal() alone would also take "NaN", "inf", "1_0".
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?$")

# The first time zone to reach a new day. The server's clock cannot know where the user is, and a trade
# made today in Sydney or Auckland must not be refused as "in the future" by a server in UTC or New York.
_EARLIEST_ZONE = dt.timezone(dt.timedelta(hours=14))


def today() -> dt.date:
    """The latest date a transaction may have: today somewhere on Earth (a function so tests can move it)."""
    return dt.datetime.now(_EARLIEST_ZONE).date()


def _decimal_places(value: Decimal) -> int:
    """Places after the point, ignoring trailing zeros (10.50 has 1)."""
    if value == 0:
        return 0
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    count = len(digits)
    while exponent < 0 and count > 1 and digits[count - 1] == 0:
        count -= 1
        exponent += 1
    return max(0, -exponent)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _parse_amount(value: object, places: int) -> tuple[Decimal | None, str | None]:
    """(the number, None) or (None, why it was refused). Zero and sign rules are the caller's."""
    if isinstance(value, bool):
        return None, "must be a number"
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None, "must be a finite number"
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            return None, "must be a finite number"
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS:
            return None, f"is longer than {MAX_NUMBER_CHARS} characters"
        if not _NUMBER.match(text):
            lowered = text.lower().lstrip("+-")
            if lowered in {"nan", "inf", "infinity", "snan"}:
                return None, "must be a finite number"
            return None, f"is not a number: {text!r}"
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            return None, f"is not a number: {text!r}"
    else:
        return None, "must be a number"
    if number < 0:
        return None, "must not be negative"
    if number > MAX_AMOUNT:
        return None, f"must be at most {plain_decimal(MAX_AMOUNT)}"
    if _decimal_places(number) > places:
        return None, f"has more than {places} decimal places"
    return Decimal(plain_decimal(number)), None


def _shown(value: object) -> str:
    """A refused value as a message quotes it: text cut to 40 characters, a number or null as it is, a JSON list or
    object only by kind (it may be megabytes long, or nested too deep to print)."""
    if isinstance(value, str):
        return repr(value.strip()[:40])
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return {list: "a list", dict: "an object"}.get(type(value), f"a {type(value).__name__}")


def _parse_date(value: object) -> tuple[dt.date | None, str | None]:
    if isinstance(value, dt.datetime):
        return None, "must be a date YYYY-MM-DD, not a date and time"
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and _DATE.match(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            return None, f"is not a real date: {value.strip()!r}"
    else:
        return None, f"must be a date YYYY-MM-DD, got {_shown(value)}"
    if day < MIN_DATE:
        return None, f"must be on or after {MIN_DATE.isoformat()}"
    if day > today():
        return None, "must not be in the future"
    return day, None


def text_problem(text: str) -> str | None:
    """Why a piece of user text cannot be stored as is, or None.

    NUL ends a string in C (Postgres refuses it in TEXT); a lone surrogate (JSON can carry "\\ud800") is no
    character at all and cannot be encoded as UTF-8, so the database driver would raise on it (a 500).
    """
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it contains a lone surrogate)"
    return None


def validate_transaction(
    data: Mapping[str, object], line: int | None = None
) -> tuple[Transaction | None, list[FieldError]]:
    """Check one transaction (a CSV row by column name, or a JSON object) against the ledger rules.

    Returns the normalized `Transaction` and no errors, or None and every field error found.
    Keys other than the nine columns (an "id" from the API, say) are ignored.
    """
    errors: list[FieldError] = []

    def refuse(field: str, message: str) -> None:
        errors.append(FieldError(field, message, line))

    def required(field: str) -> object | None:
        value = data.get(field)
        if _is_blank(value):
            refuse(field, "is required")
            return None
        return value

    day: dt.date | None = None
    raw_date = required("date")
    if raw_date is not None:
        day, problem = _parse_date(raw_date)
        if problem:
            refuse("date", problem)

    ticker = ""
    raw_ticker = required("ticker")
    if raw_ticker is not None:
        if not isinstance(raw_ticker, str):
            refuse("ticker", "must be text")
        else:
            ticker = raw_ticker.strip().upper()
            if not is_valid_ticker(ticker):
                refuse("ticker", f"is not a valid ticker symbol: {_shown(raw_ticker)}")

    kind = ""
    raw_type = required("type")
    if raw_type is not None:
        kind = raw_type.strip().upper() if isinstance(raw_type, str) else ""
        if kind not in TRANSACTION_TYPES:
            refuse("type", f"must be one of {', '.join(TRANSACTION_TYPES)}, got {_shown(raw_type)}")
            kind = ""

    quantity: Decimal | None = None
    raw_quantity = required("quantity")
    if raw_quantity is not None:
        quantity, problem = _parse_amount(raw_quantity, QUANTITY_PLACES)
        if problem is None and quantity == 0:
            problem = "must be greater than 0"
        if problem:
            refuse("quantity", problem)

    currency: str | None = None
    minor = False
    raw_currency = data.get("currency")
    if not _is_blank(raw_currency):
        if not isinstance(raw_currency, str):
            refuse("currency", "must be text")
        else:
            currency, minor = read_currency(raw_currency)
            if currency is None:
                refuse("currency", "must be a 3-letter currency code like USD, or GBp, GBX, ZAc or ILA (minor units),"
                                   f" got {_shown(raw_currency)}")
    extra_places = 2 if currency in _MINOR_UNIT_MAJORS and not minor else 0

    price: Decimal | None = Decimal(0)
    raw_price = data.get("price")
    if _is_blank(raw_price):
        if kind in ("BUY", "SELL", "DIVIDEND"):
            refuse("price", f"is required for a {kind}")
    else:
        price, problem = _parse_amount(raw_price, PRICE_PLACES + extra_places)
        if problem is None and price == 0 and kind in ("BUY", "SELL", "DIVIDEND"):
            problem = f"must be greater than 0 for a {kind}"
        if problem is None and kind == "SPLIT" and price != 0:
            problem = "must be empty or 0 for a SPLIT (the ratio goes in quantity)"
        if problem:
            refuse("price", problem)

    fees: Decimal | None = Decimal(0)
    raw_fees = data.get("fees")
    if not _is_blank(raw_fees):
        fees, problem = _parse_amount(raw_fees, FEES_PLACES + extra_places)
        if problem:
            refuse("fees", problem)

    fx_rate: Decimal | None = None
    raw_rate = data.get("fx_rate")
    if not _is_blank(raw_rate):
        fx_rate, problem = _parse_amount(raw_rate, FX_RATE_PLACES)
        if problem is None and fx_rate == 0:
            problem = "must be greater than 0"
        if problem:
            refuse("fx_rate", problem)

    note = ""
    raw_note = data.get("note")
    if raw_note is not None:
        if not isinstance(raw_note, str):
            refuse("note", "must be text")
        else:
            note = raw_note.strip()
            if len(note) > MAX_NOTE_CHARS:
                refuse("note", f"is longer than {MAX_NOTE_CHARS} characters")
            else:
                problem = text_problem(note)
                if problem:
                    refuse("note", problem)

    if errors:
        return None, errors
    assert day is not None and quantity is not None and price is not None and fees is not None
    if minor:  # pence, cents, agorot: stored in pounds, rand, shekels
        price, fees = in_major_unit(price), in_major_unit(fees)
    transaction = Transaction(date=day, ticker=ticker, type=kind, quantity=quantity, price=price,
                              fees=fees, note=note, currency=currency, fx_rate=fx_rate)
    return transaction, []
