"""services/transaction_rows.py: the fast path of a CSV import reads a plain row exactly as `validate_transaction`
does, and leaves every other row (and every error) to it, so answers and messages stay as they were."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import pytest

from services import transaction_input
from services.csv_io import COLUMNS, read_transactions_csv, unescape_cell
from services.models import FieldError, SplitRatio, Transaction
from services.transaction_input import validate_transaction
from services.transaction_rows import PlainRows, plain_amount
from services.transaction_values import _decimal_places, _parse_amount

NOW = dt.datetime(2024, 6, 30, 18, 0, tzinfo=dt.UTC)  # 14:00 in New York: the 30th there


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transaction_input, "now", lambda: NOW)


def _read(body: str, header: str = "date,ticker,type,quantity,price,fees,note,currency,fx_rate,time"):
    return read_transactions_csv(f"{header}\n{body}\n")


def _one(body: str, header: str = "date,ticker,type,quantity,price,fees,note,currency,fx_rate,time") -> Transaction:
    read = _read(body, header)
    assert not read.errors, read.errors.kept
    [(line, transaction)] = read.rows
    assert line == 2
    return transaction


def _errors(body: str) -> list[FieldError]:
    read = _read(body)
    assert read.rows == []
    return read.errors.kept


# --- amounts: the normal form the general path gives (exponent and trailing zeros dropped) ----------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("12", ("12", 0)),
    ("010.50", ("10.5", 1)),  # leading zero and trailing zero dropped: 10.5, one place
    ("1.00", ("1", 0)),
    ("0.000", ("0", 0)),
    ("5.", ("5", 0)),
    ("0.0010", ("0.001", 3)),
    ("999999999999.99999999", ("999999999999.99999999", 8)),  # 12 whole digits: below 1e12
    ("12.", ("12", 0)),
])
def test_a_plain_amount_is_read_in_normal_form(text: str, expected: tuple[str, int]) -> None:
    found = plain_amount(text)
    assert found is not None
    assert (str(found[0]), found[1]) == expected


@pytest.mark.parametrize("text", [
    "", " 12", "-5", "+5", "1e3", ".5", "1,000.50", "1_000", "NaN", "inf", "1000000000000",  # 13 whole digits
    "\u0661\u0662",  # Arabic-Indic 12: Decimal takes it, the general path judges it
    "1." + "0" * 39,  # 41 characters: the general path says "is longer than 40 characters"
    "1.2.3", "\u00b2", "1.5\u00b2",  # a superscript 2 is a digit to str.isdigit()
])
def test_anything_but_plain_digits_is_left_to_the_general_path(text: str) -> None:
    assert plain_amount(text) is None


def test_a_plain_amount_is_what_the_general_path_reads() -> None:
    rng = random.Random(5)
    read = 0
    for _ in range(20_000):
        text = "".join(rng.choice("0000123456789..e-+ \u00b2") for _ in range(rng.randint(0, 16)))
        found = plain_amount(text)
        if found is None:
            continue
        read += 1
        number, problem = _parse_amount(text, 40)
        assert problem is None and number is not None, text
        assert (str(found[0]), found[1]) == (str(number), _decimal_places(number)), text
    assert read > 1000


# --- rows through the import: the answers and the errors of before ---------------------------------------------

def test_plain_rows_keep_their_values() -> None:
    t = _one("2024-01-05,aapl,buy, 12 ,010.50,1.00,'=SUM(A1),,,")
    # " 12 " is 12; 010.50 is 10.5; 1.00 is 1; the escaped formula loses its one quote.
    assert (t.date, t.ticker, t.type) == (dt.date(2024, 1, 5), "AAPL", "BUY")
    assert (str(t.quantity), str(t.price), str(t.fees)) == ("12", "10.5", "1")
    assert t.note == "=SUM(A1)" and t.currency is None and t.fx_rate is None and t.time is None


def test_pence_and_rates_and_times() -> None:
    t = _one("2024-01-05,VOD.L,BUY,10,1234.5,12.5,,GBp,1.2500,09:30")
    # 1234.5 pence = 12.345 pounds; 12.5 pence = 0.125 pounds; the rate keeps its value, 1.25.
    assert (str(t.price), str(t.fees), t.currency, str(t.fx_rate)) == ("12.345", "0.125", "GBP", "1.25")
    assert t.time == dt.time(9, 30)
    # In pounds, 10 places are allowed for a price (8 + 2: what pence give).
    assert str(_one("2024-01-05,VOD.L,BUY,10,0.1234567891,,,GBP,,").price) == "0.1234567891"


def test_an_exponent_is_still_read_by_the_general_path() -> None:
    assert str(_one("2024-01-05,AAPL,BUY,1e3,10,,,,,").quantity) == "1000"  # 1 x 10^3


def test_a_split_ratio_still_reads_exactly() -> None:
    t = _one("2024-01-05,AAPL,SPLIT,1:3,,,,,,")
    assert t.ratio == SplitRatio(1, 3) and t.price == 0


@pytest.mark.parametrize(("body", "field", "message"), [
    ("2024-1-5,AAPL,BUY,1,10,,,,,", "date", "must be a date YYYY-MM-DD, got '2024-1-5'"),
    ("2024-02-30,AAPL,BUY,1,10,,,,,", "date", "is not a real date: '2024-02-30'"),
    ("2024-07-01,AAPL,BUY,1,10,,,,,", "date", "must not be in the future (today at AAPL's exchange is 2024-06-30)"),
    ("1899-12-31,AAPL,BUY,1,10,,,,,", "date", "must be on or after 1900-01-01"),
    ('2024-01-05,AAPL,BUY,"1,000.50",10,,,,,', "quantity", "is not a number: '1,000.50'"),
    ("2024-01-05,AAPL,BUY,0.000,10,,,,,", "quantity", "must be greater than 0"),
    ("2024-01-05,AAPL,BUY,1.123456789,10,,,,,", "quantity", "has more than 8 decimal places"),
    ("2024-01-05,AAPL,BUY,-5,10,,,,,", "quantity", "must not be negative"),
    ("2024-01-05,AAPL,BUY,1000000000000.5,10,,,,,", "quantity", "must be at most 1000000000000"),
    ("2024-01-05,AAPL,BUY,1." + "0" * 39 + ",10,,,,,", "quantity", "is longer than 40 characters"),
    ("2024-01-05,AAPL,BUY,1,0,,,,,", "price", "must be greater than 0 for a BUY"),
    ("2024-01-05,AAPL,SELL,1,,,,,,", "price", "is required for a SELL"),
    ("2024-01-05,AAPL,SPLIT,2,5,,,,,", "price", "must be empty or 0 for a SPLIT (the ratio goes in quantity)"),
    ("2024-01-05,AAPL,BUY,1,10,0.12345,,,,", "fees", "has more than 4 decimal places"),
    ("2024-01-05,AAPL,BUY,1,10,,,,0,", "fx_rate", "must be greater than 0"),
    ("2024-01-05,AAPL,BUY,1,10,,,USDX,,", "currency", "must be a 3-letter currency code like USD, or GBp, GBX, "
                                                      "ZAc or ILA (minor units), got 'USDX'"),
    ("2024-01-05,AAPL,BUY,1,10,,,,,9:30", "time", "must be a time HH:MM or HH:MM:SS, got '9:30'"),
    ("2024-01-05,A B,BUY,1,10,,,,,", "ticker", "is not a valid ticker symbol: 'A B'"),
    ("2024-01-05,AAPL,HOLD,1,10,,,,,", "type", "must be one of BUY, SELL, DIVIDEND, SPLIT, got 'HOLD'"),
    ("2024-01-05,AAPL,BUY,1,10,," + "x" * 501 + ",,,", "note", "is longer than 500 characters"),
])
def test_every_refusal_reads_as_before(body: str, field: str, message: str) -> None:
    assert _errors(body) == [FieldError(field, message, 2)]


def test_a_file_missing_the_optional_columns_reads_plain_rows() -> None:
    t = _one("AAPL,2024-01-05,10.5,3,SELL", header="ticker,date,price,quantity,type")
    assert (t.date, t.ticker, t.type, t.quantity, t.price, t.fees, t.note) == (
        dt.date(2024, 1, 5), "AAPL", "SELL", Decimal(3), Decimal("10.5"), Decimal(0), "")


def test_the_clock_is_read_once_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counted() -> dt.datetime:
        calls.append(1)
        return NOW

    monkeypatch.setattr(transaction_input, "now", counted)
    read = _read("\n".join(f"2024-01-{day:02d},AAPL,BUY,1,10,,,,," for day in range(1, 29)))
    assert len(read.rows) == 28 and len(calls) == 1


# --- the fast path against the general one, cell by cell --------------------------------------------------------

CELLS = {
    "date": ["2024-01-05", "2024-1-5", " 2024-01-05", "2024-02-30", "1899-12-31", "1900-01-01", "2024-06-30",
             "2024-07-01", "2024-06-29", "", "'2024-01-05", "\u0662\u0660\u0662\u0664-01-05"],
    "ticker": ["AAPL", "aapl", " VOD.L ", "'AAPL", "A..B", "", "BRK-B", "^GSPC", "7203.T", "A B"],
    "type": ["BUY", "buy", " SELL ", "SPLIT", "DIVIDEND", "'BUY", "HOLD", ""],
    "quantity": ["1", "0", "1:3", " 2 : 1 ", "10.50", "1.123456789", "1e3", "-5", "1,000.50", " 12 ", "0012", "",
                 "1000000000000", "999999999999.99999999", ".5", "5.", "NaN", "'=1", "\u0661\u0662"],
    "price": ["10", "0", "", "0.00", "010.50", "1.123456789", "1.1234567891", "1e2", "-1", " 7 ", "'5"],
    "fees": ["", "0", "1.00", "0.12345", "0.123456", " 1 ", "x"],
    "note": ["", "hi", " x ", "'=SUM(A1)", "'hello", "a" * 501, "nul\x00", "\ud800", "''+1"],
    "currency": ["", "USD", "usd", "GBp", "GBX", "GBP", "ZAc", "USDX", "'USD", " eur "],
    "fx_rate": ["", "1.25", "0", "0.12345678901", "1e-3"],
    "time": ["", "09:30", "9:30", "25:00", "09:30:15", "'09:30"],
}


def _headers() -> list[list[str]]:
    """The full header, one in another order, and one without the optional columns."""
    return [list(COLUMNS), list(reversed(COLUMNS)), ["type", "quantity", "date", "price", "ticker"]]


def test_a_row_the_fast_path_reads_is_the_row_validate_transaction_returns() -> None:
    rng = random.Random(17)
    read_fast = 0
    for header, _ in itertools.product(_headers(), range(4000)):
        plain = PlainRows(header)
        values = {name: rng.choice(CELLS[name]) for name in header}
        if rng.random() < 0.5:  # many rows plain in all but one cell
            values.update({name: CELLS[name][0] for name in header if rng.random() < 0.7})
        cells = [values[name] for name in header]
        fast = plain.transaction(cells)
        row = {name: unescape_cell(cell) for name, cell in zip(header, cells, strict=True)}
        slow, errors = validate_transaction(row, 2)
        if fast is None:
            continue
        read_fast += 1
        assert errors == [] and fast == slow, cells
        assert vars(fast) == vars(slow) and hash(fast) == hash(slow)  # made without __init__: every field is set
        # Decimals equal in value may differ in form (10.50 and 10.5): the stored text must not.
        assert [str(getattr(fast, f)) for f in ("quantity", "price", "fees", "fx_rate")] == \
               [str(getattr(slow, f)) for f in ("quantity", "price", "fees", "fx_rate")], cells
    assert read_fast > 1000  # the comparison covered many rows, not only the refused ones


def test_a_refused_file_read_only_for_its_errors_keeps_no_rows() -> None:
    """Line 3 has 4 cells, not 5: the file is refused, so with keep_rows_on_error=False lines 2 and 4 (plain rows)
    are not held."""
    read = read_transactions_csv("date,ticker,type,quantity,price\n2024-01-02,AAPL,BUY,1,10\n2024-01-03,AAPL,BUY,1\n"
                                 "2024-01-04,AAPL,BUY,1,10\n", keep_rows_on_error=False)
    assert read.rows == []
    assert read.errors.kept == [FieldError("file", "expected 5 cells, found 4", 3)]


def test_only_the_tickers_asked_for_are_read() -> None:
    read = read_transactions_csv("date,ticker,type,quantity,price\n2024-01-02,aapl,BUY,1,10\n2024-01-03,MSFT,BUY,1,x\n"
                                 "2024-01-04,'=X,BUY,1,10\n", only_tickers=lambda ticker: ticker in {"AAPL", "=X"})
    # MSFT's bad price is never judged; '=X is unescaped to =X, asked for, and refused as no ticker symbol.
    assert [(line, t.ticker) for line, t in read.rows] == [(2, "AAPL")]
    assert read.errors.kept == [FieldError("ticker", "is not a valid ticker symbol: '=X'", 4)]
