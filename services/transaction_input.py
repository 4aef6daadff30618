"""The rules one transaction must meet, whether it comes as a CSV row or a JSON body (docs/ARCHITECTURE.md,
"Ledger semantics").

Pure: no database, no I/O beyond the values handed in. Limits, chosen to fit `Numeric(28, 10)` with room to spare
and to refuse typos rather than guess:
- dates `YYYY-MM-DD` from 1900-01-01 to today at the ticker's exchange (`market_calendar.exchange_date`: a date
  that is tomorrow in New York is refused for AAPL at 10:00 UTC, while 7203.T may have it from 15:00 UTC);
  without a valid ticker, today in UTC+14 (the first zone to reach a new day). `now()` is the clock tests move;
- an optional `time` HH:MM or HH:MM:SS, which orders the rows of one ticker on one date (`replay.ledger_order`);
- a SPLIT's quantity may be a ratio `N:M` (N new shares for M old; whole numbers up to 1,000,000), kept exact in
  `Transaction.ratio`, its quantity N/M;
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

A CSV import reads its plain rows through `transaction_rows.PlainRows` (a fast path that leaves every other row to
`validate_transaction`): a rule changed here must be changed there too (tests/services/test_transaction_rows.py
compares the two row by row).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from services.market_calendar import exchange_date
from services.models import (
    MINOR_UNITS,
    TRANSACTION_TYPES,
    FieldError,
    SplitRatio,
    Transaction,
    in_major_unit,
    is_valid_ticker,
    read_currency,
)
from services.transaction_values import (  # noqa: F401  (MAX_AMOUNT, MAX_NUMBER_CHARS: importable from here)
    MAX_AMOUNT,
    MAX_NUMBER_CHARS,
    MAX_RATIO_TERM,
    _decimal_places,
    _is_blank,
    _parse_amount,
    _parse_time,
    _shown,
    parse_ratio,
)

MIN_DATE = dt.date(1900, 1, 1)
QUANTITY_PLACES = 8
PRICE_PLACES = 8
FEES_PLACES = 4
FX_RATE_PLACES = 10
# Currencies whose prices are often written in their minor unit: two decimal places more in the major one.
_MINOR_UNIT_MAJORS = frozenset(MINOR_UNITS.values())
MAX_NOTE_CHARS = 500

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The first time zone to reach a new day. The server's clock cannot know where the user is, and a trade
# made today in Sydney or Auckland must not be refused as "in the future" by a server in UTC or New York.
_EARLIEST_ZONE = dt.timezone(dt.timedelta(hours=14))


def now() -> dt.datetime:
    """The current moment in UTC (a function so tests can move it)."""
    return dt.datetime.now(dt.UTC)


def today(ticker: str | None = None) -> dt.date:
    """The latest date a transaction of `ticker` may have: the date at its exchange now. Without a ticker, today
    somewhere on Earth (UTC+14), so nothing a user may have done today is refused."""
    if ticker:
        return exchange_date(ticker, now())
    return now().astimezone(_EARLIEST_ZONE).date()


def _parse_date(value: object, ticker: str | None = None) -> tuple[dt.date | None, str | None]:
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
    # A date that is past in the last zone to reach a new day (UTC-12) is past at every exchange: only the last
    # day or two need the exchange's calendar (the first look-up of an exchange loads it, ~0.1 s).
    if day <= (now() - dt.timedelta(hours=12)).date():
        return day, None
    latest = today(ticker)
    if day > latest:
        where = f" at {ticker}'s exchange" if ticker else ""
        return None, f"must not be in the future (today{where} is {latest.isoformat()})"
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
    Keys other than the ten columns (an "id" from the API, say) are ignored.
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

    raw_ticker_value = data.get("ticker")
    known_ticker = raw_ticker_value.strip().upper() if isinstance(raw_ticker_value, str) else ""
    day: dt.date | None = None
    raw_date = required("date")
    if raw_date is not None:
        day, problem = _parse_date(raw_date, known_ticker if is_valid_ticker(known_ticker) else None)
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
    ratio: SplitRatio | None = None
    raw_quantity = required("quantity")
    if raw_quantity is not None:
        ratio, problem = parse_ratio(raw_quantity)
        if ratio is not None and kind and kind != "SPLIT":
            ratio, problem = None, f"a ratio N:M is only for a SPLIT, got {_shown(raw_quantity)}"
        if ratio is not None:
            quantity = ratio.factor
        elif problem is None:
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

    time: dt.time | None = None
    raw_time = data.get("time")
    if not _is_blank(raw_time):
        time, problem = _parse_time(raw_time)
        if problem:
            refuse("time", problem)

    if errors:
        return None, errors
    assert day is not None and quantity is not None and price is not None and fees is not None
    if minor:  # pence, cents, agorot: stored in pounds, rand, shekels
        price, fees = in_major_unit(price), in_major_unit(fees)
    transaction = Transaction(date=day, ticker=ticker, type=kind, quantity=quantity, price=price,
                              fees=fees, note=note, currency=currency, fx_rate=fx_rate, time=time, ratio=ratio)
    return transaction, []
