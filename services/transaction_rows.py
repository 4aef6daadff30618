"""The plain rows of one CSV file, read fast (issue 17: a 100k-row import in under 3 s).

`validate_transaction` judges one row on its own: it asks the clock for every date, matches every number against
the general pattern and builds a dict per row. Most rows of a big file are plain (an ISO date in the past, an upper
case ticker, a BUY/SELL/DIVIDEND, numbers like 12.50), and a file repeats its tickers, dates and small numbers.
`PlainRows` reads such a row straight from its cells (trimmed, any case of ticker and type, a currency, a pence
price, a time), asks the clock once per file and remembers the cells it has read. Anything else (a blank required
cell, a split ratio, a date within a day of today, a sign or an exponent, a note starting with a quote, any value
out of range) answers None and the caller asks `validate_transaction`, which names every error: so a row read here
is exactly the Transaction `validate_transaction` returns for it, and every refusal is worded by it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

from services import transaction_input
from services.models import TRANSACTION_TYPES, Transaction, in_major_unit, is_valid_ticker, read_currency
from services.transaction_input import (
    FEES_PLACES,
    FX_RATE_PLACES,
    MAX_NOTE_CHARS,
    MIN_DATE,
    PRICE_PLACES,
    QUANTITY_PLACES,
    text_problem,
)
from services.transaction_values import MAX_NUMBER_CHARS, _parse_time

_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PRICED = frozenset({"BUY", "SELL", "DIVIDEND"})
_MINOR_UNIT_MAJORS = transaction_input._MINOR_UNIT_MAJORS
# Cells remembered per column: enough for a file's tickers, dates and repeated amounts, bounded for any file.
_CACHE_LIMIT = 65_536
_ZERO = Decimal(0)
# A Transaction made as its __init__ would make it, without 13 calls of object.__setattr__ (0.12 s per 100k rows):
# only while the class is the plain frozen dataclass of these fields, without __post_init__; else the constructor.
_new = object.__new__
_DIRECT = [f.name for f in dataclasses.fields(Transaction)] == [
    "date", "ticker", "type", "quantity", "price", "fees", "note", "id", "portfolio_id", "currency", "fx_rate", "time",
    "ratio"] and not hasattr(Transaction, "__post_init__") and not hasattr(Transaction, "__slots__")


def plain_amount(text: str) -> tuple[Decimal, int] | None:
    """(the amount, its decimal places without trailing zeros) of a cell that is plain digits with an optional
    fraction, as `transaction_values._parse_amount` normalizes it ("010.50" -> 10.5, 1 place); None for anything
    else (signs, exponents, spaces inside, more than MAX_NUMBER_CHARS characters, more than 12 whole digits: 12
    are below MAX_AMOUNT, 1e12, whatever the fraction, and a longer number goes the general way)."""
    if len(text) > MAX_NUMBER_CHARS:
        return None
    whole, _, fraction = text.partition(".")
    # isdigit() alone takes other scripts' digits and superscripts; isascii() keeps 0-9 only.
    if not (len(whole) <= 12 and whole.isdigit() and whole.isascii()):
        return None
    if fraction and not (fraction.isdigit() and fraction.isascii()):
        return None
    if fraction.endswith("0"):
        fraction = fraction.rstrip("0")
        return (Decimal(f"{whole}.{fraction}") if fraction else Decimal(whole)), len(fraction)
    return Decimal(text), len(fraction)  # "12.5" or "12." as is: no trailing zero to drop


class PlainRows:
    """The plain rows of one CSV file with `header` (checked: known, unique names, the required ones present).

    `transaction(cells)` is the Transaction `validate_transaction` gives for the row (its cells as the CSV reader
    returns them), or None when the row is not plain: then ask `validate_transaction`. The clock is read once, when
    the file starts: a date on or before that day in UTC-12 is past at every exchange (as `_parse_date` says), and
    stays past while the file is read; later dates go the general way, which asks the exchange.
    """

    def __init__(self, header: list[str]) -> None:
        column = {name: i for i, name in enumerate(header)}
        self._columns = tuple(column.get(name) for name in (
            "date", "ticker", "type", "quantity", "price", "fees", "note", "currency", "fx_rate", "time"))
        self._latest = (transaction_input.now() - dt.timedelta(hours=12)).date()
        self._dates: dict[str, dt.date] = {}
        self._tickers: dict[str, str] = {}
        self._amounts: dict[str, tuple[Decimal, int]] = {}
        self._currencies: dict[str, tuple[str, bool]] = {}
        self._times: dict[str, dt.time] = {}

    def transaction(self, cells: list[str]) -> Transaction | None:
        i_date, i_ticker, i_type, i_quantity, i_price, i_fees, i_note, i_currency, i_rate, i_time = self._columns
        # A remembered cell is one dict look-up (dates, tickers and amounts are never falsy); a new one is read.
        day = self._dates.get(cells[i_date]) or self._date(cells[i_date])
        ticker = self._tickers.get(cells[i_ticker]) or self._ticker(cells[i_ticker])
        kind = cells[i_type].strip().upper()
        if day is None or ticker is None or kind not in TRANSACTION_TYPES:
            return None
        quantity_cell = cells[i_quantity].strip()
        if ":" in quantity_cell:  # a split ratio
            return None
        quantity = self._amounts.get(quantity_cell) or self._amount(quantity_cell)
        if quantity is None or quantity[1] > QUANTITY_PLACES or not quantity[0]:
            return None

        currency: str | None = None
        minor = False
        currency_cell = "" if i_currency is None else cells[i_currency].strip()
        if currency_cell:
            read = self._currency(currency_cell)
            if read is None:
                return None
            currency, minor = read
        extra_places = 2 if currency in _MINOR_UNIT_MAJORS and not minor else 0

        price_cell = cells[i_price].strip()
        if price_cell:
            read_price = self._amounts.get(price_cell) or self._amount(price_cell)
            if read_price is None or read_price[1] > PRICE_PLACES + extra_places:
                return None
            price = read_price[0]
            if (not price and kind in _PRICED) or (price and kind == "SPLIT"):
                return None
        elif kind in _PRICED:
            return None
        else:
            price = _ZERO

        fees = _ZERO
        fees_cell = "" if i_fees is None else cells[i_fees].strip()
        if fees_cell:
            read_fees = self._amounts.get(fees_cell) or self._amount(fees_cell)
            if read_fees is None or read_fees[1] > FEES_PLACES + extra_places:
                return None
            fees = read_fees[0]

        fx_rate: Decimal | None = None
        rate_cell = "" if i_rate is None else cells[i_rate].strip()
        if rate_cell:
            read_rate = self._amount(rate_cell)
            if read_rate is None or read_rate[1] > FX_RATE_PLACES or not read_rate[0]:
                return None
            fx_rate = read_rate[0]

        note = ""
        if i_note is not None:
            note = cells[i_note]
            if note:
                if note.startswith("'"):  # maybe a formula `csv_io.escape_cell` escaped: the general way
                    return None
                note = note.strip()
                if len(note) > MAX_NOTE_CHARS or text_problem(note) is not None:
                    return None

        time: dt.time | None = None
        time_cell = "" if i_time is None else cells[i_time].strip()
        if time_cell:
            time = self._time(time_cell)
            if time is None:
                return None

        if minor:  # pence, cents, agorot: stored in pounds, rand, shekels
            price, fees = in_major_unit(price), in_major_unit(fees)
        if not _DIRECT:
            return Transaction(date=day, ticker=ticker, type=kind, quantity=quantity[0], price=price, fees=fees,
                               note=note, currency=currency, fx_rate=fx_rate, time=time, ratio=None)
        transaction = _new(Transaction)
        transaction.__dict__.update(date=day, ticker=ticker, type=kind, quantity=quantity[0], price=price, fees=fees,
                                    note=note, id=None, portfolio_id=None, currency=currency, fx_rate=fx_rate,
                                    time=time, ratio=None)
        return transaction

    # The readers of a cell not remembered yet (the caller looked): the value, remembered, or None (not plain).

    def _date(self, cell: str) -> dt.date | None:
        if not _PLAIN_DATE.fullmatch(cell):
            return None
        try:
            day = dt.date.fromisoformat(cell)
        except ValueError:
            return None
        if not MIN_DATE <= day <= self._latest:
            return None
        if len(self._dates) < _CACHE_LIMIT:
            self._dates[cell] = day
        return day

    def _ticker(self, cell: str) -> str | None:
        ticker = cell.strip().upper()
        if not is_valid_ticker(ticker):
            return None
        if len(self._tickers) < _CACHE_LIMIT:
            self._tickers[cell] = ticker
        return ticker

    def _amount(self, cell: str) -> tuple[Decimal, int] | None:
        """A stripped number cell, read by `plain_amount` (one cache for every amount column: "1" is 1 in each)."""
        found = plain_amount(cell)
        if found is not None and len(self._amounts) < _CACHE_LIMIT:
            self._amounts[cell] = found
        return found

    def _currency(self, cell: str) -> tuple[str, bool] | None:
        found = self._currencies.get(cell)
        if found is None:
            code, minor = read_currency(cell)
            if code is None:
                return None
            found = (code, minor)
            if len(self._currencies) < _CACHE_LIMIT:
                self._currencies[cell] = found
        return found

    def _time(self, cell: str) -> dt.time | None:
        found = self._times.get(cell)
        if found is None:
            found, problem = _parse_time(cell)
            if problem is not None or found is None:
                return None
            if len(self._times) < _CACHE_LIMIT:
                self._times[cell] = found
        return found

