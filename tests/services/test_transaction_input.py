"""services/transaction_input.py: the rules of one transaction as JSON values, and the day a trade may have.

The same rules on CSV rows, each named by its line, are in test_csv_io.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services import transaction_input
from services.csv_io import parse_transactions_csv_lines
from services.models import FieldError, Transaction, ValidationError
from services.transaction_input import validate_transaction

HEADER = "date,ticker,type,quantity,price,fees,note"


def where(text: str) -> list[tuple[int | None, str]]:
    """The (line, field) of every error a CSV ledger is refused with."""
    with pytest.raises(ValidationError) as info:
        parse_transactions_csv_lines(text)
    return [(e.line, e.field) for e in info.value.errors]


def parse(text: str) -> list[Transaction]:
    return [transaction for _, transaction in parse_transactions_csv_lines(text)]


# --- today -------------------------------------------------------------------------------------------------

def test_today_is_today_wherever_the_user_is() -> None:
    """A trade made today in Auckland is not in the future for a server in UTC or New York."""
    assert transaction_input.today() >= dt.datetime.now(dt.UTC).date()
    assert transaction_input.today() >= dt.date.today()
    assert transaction_input.today() <= dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


def test_today_is_accepted_and_tomorrow_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transaction_input, "today", lambda: dt.date(2024, 6, 30))
    assert parse(f"{HEADER}\n2024-06-30,AAPL,BUY,1,1,,\n")[0].date == dt.date(2024, 6, 30)
    assert where(f"{HEADER}\n2024-07-01,AAPL,BUY,1,1,,\n") == [(2, "date")]


# --- one JSON transaction ---------------------------------------------------------------------------------

def test_json_numbers_are_read_as_the_decimals_they_print_as() -> None:
    transaction, errors = validate_transaction(
        {"date": "2024-01-02", "ticker": "aapl", "type": "buy", "quantity": 3, "price": 0.1, "fees": 0.2,
         "note": None, "id": 99}
    )
    assert errors == []
    assert transaction == Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal(3), Decimal("0.1"),
                                      Decimal("0.2"))
    assert transaction.price + transaction.fees == Decimal("0.3")  # float 0.1 + 0.2 would not be


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("quantity", float("nan"), "finite"),
    ("quantity", float("inf"), "finite"),
    ("quantity", True, "must be a number"),
    ("quantity", [1], "must be a number"),
    ("quantity", Decimal("NaN"), "finite"),
    ("quantity", 1e-9, "more than 8 decimal places"),
    ("price", -0.5, "must not be negative"),
    ("date", 20240102, "YYYY-MM-DD"),
    ("date", dt.datetime(2024, 1, 2, 10, 0), "not a date and time"),
    ("ticker", 42, "must be text"),
    ("type", 1, "must be one of"),
    ("note", 5, "must be text"),
    ("note", "a\x00b", "NUL"),
])
def test_a_bad_json_value_is_named_without_a_line(field: str, value: object, fragment: str) -> None:
    data = {"date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": "1", "price": "10"}
    transaction, errors = validate_transaction({**data, field: value})
    assert transaction is None
    assert [(e.line, e.field) for e in errors] == [(None, field)]
    assert fragment in errors[0].message


def test_a_json_body_missing_everything_reports_each_required_field() -> None:
    transaction, errors = validate_transaction({}, line=7)
    assert transaction is None
    assert errors == [
        FieldError("date", "is required", 7), FieldError("ticker", "is required", 7),
        FieldError("type", "is required", 7), FieldError("quantity", "is required", 7),
    ]  # price is only required once the type is known to need one


def test_a_date_object_is_accepted() -> None:
    transaction, _ = validate_transaction(
        {"date": dt.date(2020, 5, 1), "ticker": "AAPL", "type": "SPLIT", "quantity": 4, "price": None})
    assert transaction is not None and (transaction.date, transaction.price) == (dt.date(2020, 5, 1), 0)
