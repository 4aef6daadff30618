"""services/csv_io.py: every rejected row or header is named by line and field; exports import back unchanged.

The rules of one transaction are tested through CSV rows here (each row's line is part of the answer) and as
JSON values in test_transaction_input.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services import transaction_input
from services.csv_io import (
    ErrorTally,
    escape_cell,
    parse_transactions_csv_lines,
    read_transactions_csv,
    unescape_cell,
    write_transactions_csv,
)
from services.models import MAX_REPORTED_ERRORS, FieldError, SplitRatio, Transaction, ValidationError

HEADER = "date,ticker,type,quantity,price,fees,note"
TOMORROW = (transaction_input.today() + dt.timedelta(days=1)).isoformat()
# The first look-up of an exchange loads its calendar (~0.1 s): not inside a hypothesis example's deadline.
for _ticker in ("AAPL", "VOD.L", "NPN.JO", "TEVA.TA", "7203.T"):
    transaction_input.today(_ticker)


def parse(text: str, **kwargs: int) -> list[Transaction]:
    """The transactions of a CSV ledger, without their lines."""
    return [transaction for _, transaction in parse_transactions_csv_lines(text, **kwargs)]


def rejected(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse(text)
    return info.value


def where(error: ValidationError) -> list[tuple[int | None, str]]:
    return [(e.line, e.field) for e in error.errors]


# (data row under the full header, the field named, a piece of the message)
BAD_ROWS = [
    ("2024-13-01,AAPL,BUY,1,10,,", "date", "not a real date"),
    ("2024-02-30,AAPL,BUY,1,10,,", "date", "not a real date"),
    ("2024/01/02,AAPL,BUY,1,10,,", "date", "YYYY-MM-DD"),
    ("02-01-2024,AAPL,BUY,1,10,,", "date", "YYYY-MM-DD"),
    ("2024-1-2,AAPL,BUY,1,10,,", "date", "YYYY-MM-DD"),
    ("yesterday,AAPL,BUY,1,10,,", "date", "YYYY-MM-DD"),
    (",AAPL,BUY,1,10,,", "date", "is required"),
    (f"{TOMORROW},AAPL,BUY,1,10,,", "date", "future"),
    ("9999-12-31,AAPL,BUY,1,10,,", "date", "future"),
    ("1899-12-31,AAPL,BUY,1,10,,", "date", "1900-01-01"),
    ("2024-01-02,A B,BUY,1,10,,", "ticker", "not a valid ticker"),
    ("2024-01-02,<script>,BUY,1,10,,", "ticker", "not a valid ticker"),
    ("2024-01-02,AAPL..L,BUY,1,10,,", "ticker", "not a valid ticker"),
    ("2024-01-02,AAPL.,BUY,1,10,,", "ticker", "not a valid ticker"),
    ("2024-01-02,ABCDEFGHIJKLMNOPQ,BUY,1,10,,", "ticker", "not a valid ticker"),
    ("2024-01-02,,BUY,1,10,,", "ticker", "is required"),
    ("2024-01-02,AAPL,HOLD,1,10,,", "type", "must be one of BUY, SELL, DIVIDEND, SPLIT"),
    ("2024-01-02,AAPL,BUYS,1,10,,", "type", "must be one of"),
    ("2024-01-02,AAPL,,1,10,,", "type", "is required"),
    ("2024-01-02,AAPL,BUY,-5,10,,", "quantity", "must not be negative"),
    ("2024-01-02,AAPL,BUY,0,10,,", "quantity", "greater than 0"),
    ("2024-01-02,AAPL,BUY,0.000,10,,", "quantity", "greater than 0"),
    ("2024-01-02,AAPL,BUY,-0,10,,", "quantity", "greater than 0"),
    ("2024-01-02,AAPL,BUY,NaN,10,,", "quantity", "finite"),
    ("2024-01-02,AAPL,BUY,nan,10,,", "quantity", "finite"),
    ("2024-01-02,AAPL,BUY,inf,10,,", "quantity", "finite"),
    ("2024-01-02,AAPL,BUY,-Infinity,10,,", "quantity", "finite"),
    ("2024-01-02,AAPL,BUY,1e13,10,,", "quantity", "at most 1000000000000"),
    ("2024-01-02,AAPL,BUY,1000000000000.5,10,,", "quantity", "at most"),
    ("2024-01-02,AAPL,BUY,1.123456789,10,,", "quantity", "more than 8 decimal places"),
    ("2024-01-02,AAPL,BUY,ten,10,,", "quantity", "not a number"),
    ('2024-01-02,AAPL,BUY,"1,000",10,,', "quantity", "not a number"),
    ("2024-01-02,AAPL,BUY,1_000,10,,", "quantity", "not a number"),
    ("2024-01-02,AAPL,BUY,0x10,10,,", "quantity", "not a number"),
    ("2024-01-02,AAPL,BUY,1" + "0" * 40 + ",10,,", "quantity", "longer than 40"),
    ("2024-01-02,AAPL,BUY,,10,,", "quantity", "is required"),
    ("2024-01-02,AAPL,BUY,1,,,", "price", "is required for a BUY"),
    ("2024-01-02,AAPL,SELL,1,,,", "price", "is required for a SELL"),
    ("2024-01-02,AAPL,DIVIDEND,1,,,", "price", "is required for a DIVIDEND"),
    ("2024-01-02,AAPL,BUY,1,0,,", "price", "greater than 0 for a BUY"),
    ("2024-01-02,AAPL,BUY,1,-10,,", "price", "must not be negative"),
    ("2024-01-02,AAPL,BUY,1,inf,,", "price", "finite"),
    ("2024-01-02,AAPL,BUY,1,0.123456789,,", "price", "more than 8 decimal places"),
    ("2024-01-02,AAPL,BUY,1,$10,,", "price", "not a number"),
    ("2024-01-02,AAPL,SPLIT,2,5,,", "price", "empty or 0 for a SPLIT"),
    ("2024-01-02,AAPL,SPLIT,2,0.01,,", "price", "empty or 0 for a SPLIT"),
    ("2024-01-02,AAPL,BUY,1,10,-1,", "fees", "must not be negative"),
    ("2024-01-02,AAPL,BUY,1,10,0.00001,", "fees", "more than 4 decimal places"),
    ("2024-01-02,AAPL,BUY,1,10,NaN,", "fees", "finite"),
    ("2024-01-02,AAPL,BUY,1,10,free,", "fees", "not a number"),
    ("2024-01-02,AAPL,BUY,1,10,," + "x" * 501, "note", "longer than 500"),
]


@pytest.mark.parametrize(("row", "field", "fragment"), BAD_ROWS)
def test_a_bad_row_is_named_by_line_and_field(row: str, field: str, fragment: str) -> None:
    error = rejected(f"{HEADER}\n2024-01-01,MSFT,BUY,1,10,,fine\n{row}\n")
    assert error.message == "1 row rejected"
    assert where(error) == [(3, field)]
    assert fragment in error.errors[0].message


# (data row, the transaction it becomes)
GOOD_ROWS = [
    ("2024-01-02,aapl,buy,10,100.50,1.5,first", Transaction(
        dt.date(2024, 1, 2), "AAPL", "BUY", Decimal(10), Decimal("100.5"), Decimal("1.5"), "first")),
    (" 2024-01-02 , AAPL , Sell , 1 , 2 , , spaced ", Transaction(
        dt.date(2024, 1, 2), "AAPL", "SELL", Decimal(1), Decimal(2), Decimal(0), "spaced")),
    ("2024-01-02,AAPL,SPLIT,2,,,", Transaction(dt.date(2024, 1, 2), "AAPL", "SPLIT", Decimal(2), Decimal(0))),
    ("2024-01-02,AAPL,SPLIT,0.5,0,,", Transaction(
        dt.date(2024, 1, 2), "AAPL", "SPLIT", Decimal("0.5"), Decimal(0))),
    ("2024-01-02,AAPL,SPLIT,3,0.00,,", Transaction(
        dt.date(2024, 1, 2), "AAPL", "SPLIT", Decimal(3), Decimal(0))),
    ("2024-01-02,KO,DIVIDEND,100,0.46,,", Transaction(
        dt.date(2024, 1, 2), "KO", "DIVIDEND", Decimal(100), Decimal("0.46"))),
    ("2024-01-02,BRK-B,BUY,0.12345678,0.00000001,0.0001,", Transaction(
        dt.date(2024, 1, 2), "BRK-B", "BUY", Decimal("0.12345678"), Decimal("0.00000001"),
        Decimal("0.0001"))),
    ("2024-01-02,VOD.L,BUY,1e3,1.10000000000,,", Transaction(
        dt.date(2024, 1, 2), "VOD.L", "BUY", Decimal(1000), Decimal("1.1"))),
    ("2024-01-02,^GSPC,BUY,1000000000000,1,,", Transaction(
        dt.date(2024, 1, 2), "^GSPC", "BUY", Decimal("1e12"), Decimal(1))),
    ("1900-01-01,EURUSD=X,BUY,1,1,,", Transaction(
        dt.date(1900, 1, 1), "EURUSD=X", "BUY", Decimal(1), Decimal(1))),
    ("2024-01-02,AAPL,BUY,1,10,,'=1+2", Transaction(
        dt.date(2024, 1, 2), "AAPL", "BUY", Decimal(1), Decimal(10), note="=1+2")),
    ('2024-01-02,AAPL,BUY,1,10,,"a, quoted ""note"""', Transaction(
        dt.date(2024, 1, 2), "AAPL", "BUY", Decimal(1), Decimal(10), note='a, quoted "note"')),
]


@pytest.mark.parametrize(("row", "expected"), GOOD_ROWS)
def test_a_good_row_becomes_an_exact_transaction(row: str, expected: Transaction) -> None:
    assert parse(f"{HEADER}\n{row}\n") == [expected]


# (whole file, the (line, field) pairs reported)
BAD_FILES = [
    ("", [(1, "file")]),
    ("\n\n  \n", [(1, "file")]),
    ("\ufeff", [(1, "file")]),
    ("date,ticker,type,quantity\n2024-01-02,AAPL,BUY,1\n", [(1, "header")]),
    ("date,ticker,type,quantity,price,colour\n", [(1, "header")]),
    ("date,ticker,type,quantity,price,price\n", [(1, "header")]),
    ("date,ticker,type,quantity,price,\n", [(1, "header")]),
    ("ticker,type\n", [(1, "header")]),
    ("AAPL,2024-01-02,BUY,1,10\n", [(1, "header"), (1, "header")]),  # no header row: unknown + missing
    (f"{HEADER}\n2024-01-02,AAPL,BUY,1,10,0\n", [(2, "file")]),
    (f"{HEADER}\n2024-01-02,AAPL,BUY,1,10,0,note,extra\n", [(2, "file")]),
    (f"{HEADER}\n2024-01-02\n", [(2, "file")]),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_structural_problem_is_named(text: str, expected: list[tuple[int, str]]) -> None:
    assert where(rejected(text)) == expected


def test_header_problems_name_the_columns() -> None:
    messages = [e.message for e in rejected("Date,Ticker,Type,Qty,Price,Colour,Date\n").errors]
    assert any("unknown column(s): qty, colour" in m for m in messages)
    assert any("duplicate column(s): date" in m for m in messages)
    assert any("missing column(s): quantity" in m for m in messages)


def test_a_header_alone_is_an_empty_ledger() -> None:
    assert parse(f"{HEADER}\n") == []
    assert parse("date,ticker,type,quantity,price") == []


def test_bom_reordered_upper_case_padded_columns_are_accepted() -> None:
    text = "\ufeff NOTE , Price,QUANTITY ,Type,TICKER,Date\r\nhi,10,2,BUY,msft,2024-03-04\r\n"
    assert parse(text) == [
        Transaction(dt.date(2024, 3, 4), "MSFT", "BUY", Decimal(2), Decimal(10), note="hi")
    ]


def test_every_bad_row_is_reported_with_every_bad_field() -> None:
    text = "\n".join([
        HEADER,
        "2024-01-02,AAPL,BUY,1,10,,ok",  # 2
        "2024-13-02,AAPL,BUY,-1,10,,",  # 3: date and quantity
        "2024-01-02,AAPL,BUY,1,10,,ok",  # 4
        "2024-01-02,A B,BUY,1,10",  # 5: cell count
        "2024-01-02,AAPL,SPLIT,2,3,,",  # 6
        "",
    ])
    error = rejected(text)
    assert error.message == "3 rows rejected"
    assert where(error) == [(3, "date"), (3, "quantity"), (5, "file"), (6, "price")]
    assert error.to_json()["errors"][0] == {"line": 3, "field": "date", "message": error.errors[0].message}


def test_a_file_of_bad_rows_names_the_first_hundred_errors_and_counts_them_all() -> None:
    # Three errors on each of 20,000 rows: once 60,000 FieldErrors, and a 422 of megabytes.
    text = HEADER + "\n" + "1-1,a b,NOPE,1,10,,\n" * 20_000 + "2024-01-02,AAPL,BUY,1,10,,\n"
    error = rejected(text)
    assert error.message == "20000 rows rejected"
    assert error.total == 60_000
    assert len(error.errors) == MAX_REPORTED_ERRORS == 100
    assert where(error)[:4] == [(2, "date"), (2, "ticker"), (2, "type"), (3, "date")]
    assert where(error)[-1] == (35, "date")  # the first 100 in file order: 33 rows of 3, and one more


def test_the_error_tally_keeps_the_first_and_counts_rows_as_lines_change() -> None:
    tally = ErrorTally()
    assert not tally
    for line in range(2, 502):
        tally.add(FieldError("date", "is required", line))
        tally.add(FieldError("price", "is required", line))
    tally.add(FieldError("file", "is not valid CSV", 501))  # the last line again: not one more row
    error = tally.rejection()
    assert (error.total, len(error.errors), error.message) == (1001, 100, "500 rows rejected")
    assert error.errors[0] == FieldError("date", "is required", 2)


def test_lines_are_physical_lines_across_blank_lines_and_multi_line_notes() -> None:
    text = f'{HEADER}\n\n2024-01-02,AAPL,BUY,1,10,,"two\nlines"\n2024-01-02,AAPL,BUY,0,10,,\n'
    assert where(rejected(text)) == [(5, "quantity")]
    good = text.replace(",0,10,,\n", ",3,10,,\n")
    assert [(line, t.note) for line, t in parse_transactions_csv_lines(good)] == [(3, "two\nlines"), (5, "")]


def test_optional_columns_can_be_left_out() -> None:
    [transaction] = parse("date,ticker,type,quantity,price\n2024-01-02,AAPL,BUY,1,10\n")
    assert (transaction.fees, transaction.note) == (Decimal(0), "")


def test_more_rows_than_allowed_is_refused() -> None:
    text = HEADER + "\n" + "2024-01-02,AAPL,BUY,1,10,,\n" * 4
    assert len(parse(text, max_rows=4)) == 4
    assert where(rejected_with(text, max_rows=3)) == [(5, "file")]


def rejected_with(text: str, **kwargs: int) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse(text, **kwargs)
    return info.value


# --- export and the round trip -----------------------------------------------------------------------------

def test_export_writes_the_canonical_header_and_plain_numbers() -> None:
    transactions = [
        Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal("1E+1"), Decimal("123.4500"), Decimal("0.50"),
                    "plain", id=5),
        Transaction(dt.date(2024, 2, 3), "AAPL", "SPLIT", Decimal("0.5"), Decimal("0E-10")),
    ]
    assert write_transactions_csv(transactions) == (
        "date,ticker,type,quantity,price,fees,note,currency,fx_rate\r\n"
        "2024-01-02,AAPL,BUY,10,123.45,0.5,plain,,\r\n"
        "2024-02-03,AAPL,SPLIT,0.5,0,0,,,\r\n"
    )


@pytest.mark.parametrize(("note", "written"), [
    ("=1+2", "'=1+2"),
    ("-5% day", "'-5% day"),
    ("+1 share", "'+1 share"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("'=already quoted", "''=already quoted"),
    ("'plain quote", "'plain quote"),
    ("a=b", "a=b"),
    ("", ""),
])
def test_formula_cells_are_escaped_and_come_back_unchanged(note: str, written: str) -> None:
    assert escape_cell(note) == written
    assert unescape_cell(written) == note
    transaction = Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal(1), Decimal(10), note=note)
    exported = write_transactions_csv([transaction])
    assert exported.splitlines()[1].endswith("," + written + ",,")  # then the empty currency and fx_rate
    assert parse(exported) == [transaction]


amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e12"), places=8)
transactions = st.builds(
    Transaction,
    date=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()),
    ticker=st.sampled_from(["AAPL", "BRK-B", "VOD.L", "^GSPC", "EURUSD=X", "7203.T"]),
    type=st.sampled_from(["BUY", "SELL", "DIVIDEND"]),
    quantity=amounts,
    price=amounts,
    fees=st.decimals(min_value=0, max_value=Decimal("1e12"), places=4),
    note=st.text(max_size=500).map(str.strip).filter(lambda s: "\x00" not in s),
    currency=st.sampled_from([None, "USD", "EUR", "JPY"]),
    fx_rate=st.none() | st.decimals(min_value=Decimal("1e-10"), max_value=Decimal("1e12"), places=10),
)
# Pound, rand and shekel amounts may have two places more (what their minor units give once divided by 100).
minor_unit_trades = st.builds(
    Transaction,
    date=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()),
    ticker=st.sampled_from(["VOD.L", "NPN.JO", "TEVA.TA"]),
    type=st.sampled_from(["BUY", "SELL", "DIVIDEND"]),
    quantity=amounts,
    price=st.decimals(min_value=Decimal("1e-10"), max_value=Decimal("1e10"), places=10),
    fees=st.decimals(min_value=0, max_value=Decimal("1e10"), places=6),
    currency=st.sampled_from(["GBP", "ZAR", "ILS"]),
    fx_rate=st.none() | st.decimals(min_value=Decimal("0.0000000001"), max_value=Decimal("100"), places=10),
)


@given(st.lists(transactions, max_size=5))
@example([Transaction(dt.date(2000, 1, 1), "AAPL", "BUY", Decimal("1E-8"), Decimal(1), note="0\r0")])
@example([Transaction(dt.date(2000, 1, 1), "AAPL", "BUY", Decimal(1), Decimal(1), note='a,"b"\r\n\n=c')])
def test_any_exported_ledger_imports_back_identical(ledger: list[Transaction]) -> None:
    assert parse(write_transactions_csv(ledger)) == ledger


@given(st.lists(minor_unit_trades, max_size=5))
@example([Transaction(dt.date(2024, 1, 2), "VOD.L", "BUY", Decimal(1), Decimal("0.0000000001"),
                      Decimal("0.000001"), currency="GBP", fx_rate=Decimal("1.2345678901"))])
def test_any_exported_pound_rand_or_shekel_ledger_imports_back_identical(ledger: list[Transaction]) -> None:
    assert parse(write_transactions_csv(ledger)) == ledger


# --- currency and fx_rate (issue 14) -------------------------------------------------------------------------

def test_currency_and_rate_columns_are_optional_in_any_position_and_case() -> None:
    text = ("FX_RATE,date,ticker,Currency,type,quantity,price\n"
            "1.0825,2024-03-04,SAP.DE,eur,BUY,2,180.5\n"
            ",2024-03-05,AAPL,,BUY,1,170\n"  # empty cells: not given
            "0.79,2024-03-06,AAPL,,BUY,1,171\n")  # a rate without a currency: from the quote currency
    assert parse(text) == [
        Transaction(dt.date(2024, 3, 4), "SAP.DE", "BUY", Decimal(2), Decimal("180.5"), currency="EUR",
                    fx_rate=Decimal("1.0825")),
        Transaction(dt.date(2024, 3, 5), "AAPL", "BUY", Decimal(1), Decimal(170)),
        Transaction(dt.date(2024, 3, 6), "AAPL", "BUY", Decimal(1), Decimal(171), fx_rate=Decimal("0.79")),
    ]


@pytest.mark.parametrize(("currency", "stored"), [
    ("GBp", "GBP"), ("GBX", "GBP"), ("gbx", "GBP"), ("Gbx", "GBP"), ("ZAc", "ZAR"), ("ZAC", "ZAR"), ("ILA", "ILS"),
    ("ila", "ILS"),
])
def test_a_minor_unit_divides_price_and_fees_by_100_exactly(currency: str, stored: str) -> None:
    # 1234.5 pence = 12.345 pounds; fees 99.99 pence = 0.9999 pounds; no rounding to cents.
    [trade] = parse(f"{HEADER},currency\n2024-03-04,VOD.L,BUY,100,1234.5,99.99,,{currency}\n")
    assert (trade.price, trade.fees, trade.currency) == (Decimal("12.345"), Decimal("0.9999"), stored)
    assert str(trade.price) == "12.345" and str(trade.fees) == "0.9999"


def test_gbp_in_capitals_is_pounds_and_gbp_with_a_small_p_is_pence() -> None:
    text = (f"{HEADER},currency\n2024-03-04,VOD.L,BUY,1,72.5,,,GBP\n2024-03-04,VOD.L,BUY,1,72.5,,,gbp\n"
            "2024-03-04,VOD.L,BUY,1,72.5,,,GBp\n")
    assert [(t.price, t.currency) for t in parse(text)] == [
        (Decimal("72.5"), "GBP"), (Decimal("72.5"), "GBP"), (Decimal("0.725"), "GBP")]


def test_pence_exported_as_pounds_import_back_exactly() -> None:
    # Eight places in pence are ten in pounds: 0.00000001 GBp = 0.0000000001 GBP, the ledger's finest step.
    text = (f"{HEADER},currency,fx_rate\n2024-03-04,VOD.L,BUY,3,0.00000001,0.0001,,GBp,1.2687\n"
            "2024-03-05,VOD.L,SELL,1,7250.12345678,1.2345,,GBX,\n")
    ledger = parse(text)
    assert [(t.price, t.fees, t.currency, t.fx_rate) for t in ledger] == [
        (Decimal("0.0000000001"), Decimal("0.000001"), "GBP", Decimal("1.2687")),
        (Decimal("72.5012345678"), Decimal("0.012345"), "GBP", None)]
    exported = write_transactions_csv(ledger)
    assert exported.splitlines() == [
        "date,ticker,type,quantity,price,fees,note,currency,fx_rate",
        "2024-03-04,VOD.L,BUY,3,0.0000000001,0.000001,,GBP,1.2687",
        "2024-03-05,VOD.L,SELL,1,72.5012345678,0.012345,,GBP,",
    ]
    assert parse(exported) == ledger


# (data row under HEADER + ",currency,fx_rate", the field named, a piece of the message)
BAD_MONEY_ROWS = [
    ("2024-01-02,SAP.DE,BUY,1,10,,,EURO,", "currency", "3-letter currency code"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,E1R,", "currency", "3-letter currency code"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,pence,", "currency", "'pence'"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,0", "fx_rate", "greater than 0"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,0.000", "fx_rate", "greater than 0"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,-1.08", "fx_rate", "negative"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,abc", "fx_rate", "not a number"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,NaN", "fx_rate", "finite"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,1.08.1", "fx_rate", "not a number"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,1.00000000001", "fx_rate", "more than 10 decimal places"),
    ("2024-01-02,SAP.DE,BUY,1,10,,,EUR,1e13", "fx_rate", "at most"),
    # Eight places in any unit as written: 9 in pence, 9 in euros and 11 in pounds are too many.
    ("2024-01-02,VOD.L,BUY,1,0.123456789,,,GBp,", "price", "more than 8 decimal places"),
    ("2024-01-02,SAP.DE,BUY,1,0.123456789,,,EUR,", "price", "more than 8 decimal places"),
    ("2024-01-02,VOD.L,BUY,1,0.12345678901,,,GBP,", "price", "more than 10 decimal places"),
    ("2024-01-02,VOD.L,BUY,1,1,0.12345,,GBX,", "fees", "more than 4 decimal places"),
    ("2024-01-02,VOD.L,BUY,1,1,0.1234567,,GBP,", "fees", "more than 6 decimal places"),
]


@pytest.mark.parametrize(("row", "field", "fragment"), BAD_MONEY_ROWS)
def test_a_bad_currency_or_rate_is_named_by_line_and_field(row: str, field: str, fragment: str) -> None:
    error = rejected(f"{HEADER},currency,fx_rate\n2024-01-02,AAPL,BUY,1,10,,,,\n{row}\n")
    assert where(error) == [(3, field)]
    assert fragment in error.errors[0].message


def test_a_file_of_bad_rates_names_the_first_hundred_and_counts_them_all() -> None:
    text = f"{HEADER},currency,fx_rate\n" + "2024-01-02,SAP.DE,BUY,1,10,,,EURO,0\n" * 300
    error = rejected(text)
    assert (error.message, error.total, len(error.errors)) == ("300 rows rejected", 600, MAX_REPORTED_ERRORS)
    assert where(error)[:3] == [(2, "currency"), (2, "fx_rate"), (3, "currency")]
    assert where(error)[-1] == (51, "fx_rate")  # 50 rows of two errors


def test_an_unknown_column_is_still_refused_and_names_the_nine() -> None:
    [message] = [e.message for e in rejected(f"{HEADER},fx rate\n").errors]
    assert message == ("unknown column(s): fx rate "
                       "(expected date,ticker,type,quantity,price,fees,note,currency,fx_rate,time)")


# --- issue 15: split ratios and a time of day --------------------------------------------------------------------

def test_a_ratio_split_and_a_time_round_trip_and_a_ledger_without_times_exports_as_before() -> None:
    text = ("date,ticker,type,quantity,price,time\n"
            "2024-01-02,X,BUY,99,10,09:30\n"
            "2024-02-01,X,SPLIT,1:3,,\n")
    rows = parse(text)
    assert [(t.ratio, t.time) for t in rows] == [(None, dt.time(9, 30)), (SplitRatio(1, 3), None)]
    written = write_transactions_csv(rows)
    assert written.splitlines()[0].endswith(",fx_rate,time")
    assert written.splitlines()[2] == "2024-02-01,X,SPLIT,1:3,0,0,,,,"
    assert parse(written) == rows
    untimed = write_transactions_csv([rows[1]])
    assert untimed.splitlines()[0] == "date,ticker,type,quantity,price,fees,note,currency,fx_rate"


def test_read_transactions_csv_keeps_the_good_rows_beside_the_errors() -> None:
    read = read_transactions_csv("date,ticker,type,quantity,price\n2024-01-02,X,BUY,1,1\n2024-01-03,Y,BUY,0,1\n"
                                 "2024-01-04,X,SELL,1,2\n")
    assert [line for line, _ in read.rows] == [2, 4]
    assert [(e.line, e.field) for e in read.errors.kept] == [(3, "quantity")]
    assert read.bad_tickers == {"Y"}


def test_only_tickers_checks_and_keeps_just_those_rows_with_their_lines() -> None:
    text = "\n".join([HEADER,
                      "2024-01-02,AAPL,BUY,1,10,0,",       # line 2: not asked for
                      "2024-01-03,vod.l,BUY,2,110,0,",     # line 3: kept (the cell is trimmed and upper-cased)
                      "2024-01-04,MSFT,BUY,oops,10,0,",    # line 4: bad, but not asked for: not judged
                      "2024-01-05,VOD.L,BUY,3,120,0,"])    # line 5: kept
    read = read_transactions_csv(text, only_tickers=lambda ticker: ticker.endswith(".L"))
    assert [(line, t.ticker, t.quantity) for line, t in read.rows] == [(3, "VOD.L", 2), (5, "VOD.L", 3)]
    assert not read.errors
