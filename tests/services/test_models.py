"""services/models.py: the domain's ticker rule, how an exact amount is written, and the values' JSON."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

import pytest

from services.models import (
    FieldError,
    Portfolio,
    SplitRatio,
    Transaction,
    ValidationError,
    is_valid_ticker,
    plain_decimal,
)


@pytest.mark.parametrize("symbol", [
    "AAPL", "BRK-B", "^GSPC", "EURUSD=X", "VOD.L", "BTC-USD", "RDS.A", "7203.T", "ES=F", "A",
    "ABCDEFGHIJKLMNO",  # 15 characters: the first and 14 more, the longest allowed
    "^ABCDEFGHIJKLMNO=X",  # the longest with both a caret and a suffix
])
def test_yahoo_shaped_symbols_are_valid(symbol: str) -> None:
    assert is_valid_ticker(symbol)


@pytest.mark.parametrize("symbol", [
    "",
    "aapl",  # the ledger stores symbols upper case; callers upper-case first
    "A B",
    "<script>",
    "ABCDEFGHIJKLMNOP",  # 16 characters
    "AAPL..L",
    "AAPL.",
    "BRK-",
    ".L",
    "-B",
    "^",
    "EURUSD=Y",
    "EURUSD=X=X",
    "ÄAPL",
])
def test_other_symbols_are_not(symbol: str) -> None:
    assert not is_valid_ticker(symbol)


@pytest.mark.parametrize(("value", "written"), [
    (Decimal("10"), "10"),
    (Decimal("1E+1"), "10"),
    (Decimal("10.50"), "10.5"),
    (Decimal("0.50"), "0.5"),
    (Decimal("123.4500"), "123.45"),
    (Decimal("0E-10"), "0"),
    (Decimal("-0"), "0"),
    (Decimal("0.00000001"), "0.00000001"),
    (Decimal("1E-8"), "0.00000001"),
    (Decimal("1e12"), "1000000000000"),
    (Decimal("-2.50"), "-2.5"),
    # str() writes these two plainly and the next ones with an exponent (1E-7, 1.50E-7, 0E-7): the digits stay.
    (Decimal("0.000001"), "0.000001"),
    (Decimal("-0.000"), "0"),
    (Decimal("0.0000001"), "0.0000001"),
    (Decimal("0.000000150"), "0.00000015"),
    (Decimal("0.0000000"), "0"),
    (Decimal("12.5E+2"), "1250"),  # 12.5 x 100
])
def test_plain_decimal_has_no_exponent_and_no_trailing_zeros(value: Decimal, written: str) -> None:
    assert plain_decimal(value) == written
    with decimal.localcontext() as context:  # str() then writes 1e-7, in lower case
        context.capitals = 0
        assert plain_decimal(value) == written


def test_portfolio_json_leaves_the_owner_out() -> None:
    portfolio = Portfolio(id=3, name="Main", base_currency="EUR", owner_id="someone")
    assert portfolio.to_json() == {"id": 3, "name": "Main", "base_currency": "EUR", "benchmark": "^GSPC"}


def test_transaction_json_has_iso_dates_and_numbers() -> None:
    transaction = Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal("1.5"), Decimal("100.25"),
                              Decimal("0.5"), "first", id=7, portfolio_id=3)
    assert transaction.to_json() == {"id": 7, "date": "2024-01-02", "ticker": "AAPL", "type": "BUY",
                                     "quantity": 1.5, "price": 100.25, "fees": 0.5, "note": "first",
                                     "currency": None, "fx_rate": None, "time": None}


def test_a_ratio_split_keeps_quantity_a_number_and_adds_its_ratio() -> None:
    split = Transaction(dt.date(2024, 1, 2), "X", "SPLIT", SplitRatio(1, 3).factor, Decimal(0),
                        time=dt.time(9, 30), ratio=SplitRatio(1, 3))
    data = split.to_json()
    assert data["ratio"] == "1:3" and data["time"] == "09:30:00"
    assert abs(data["quantity"] - 1 / 3) < 1e-12  # a number for old callers
    assert split.quantity_text == "1:3"
    # 99 x 1 / 3 = 33 exactly; 100 x 2 / 1 = 200; 7 x 1 / 3 = 2.333... (28 significant digits)
    assert SplitRatio(1, 3).apply(Decimal(99)) == Decimal(33)
    assert SplitRatio(2, 1).apply(Decimal(100)) == Decimal(200)
    assert str(SplitRatio(1, 3).apply(Decimal(7))).startswith("2.33333333333")


def test_a_field_error_names_its_line_only_when_it_has_one() -> None:
    assert FieldError("price", "is required").to_json() == {"field": "price", "message": "is required"}
    assert FieldError("price", "is required", 4).to_json() == {"line": 4, "field": "price",
                                                                "message": "is required"}


def test_a_validation_error_lists_every_field() -> None:
    error = ValidationError("2 rows rejected", [FieldError("date", "is required", 2),
                                                FieldError("quantity", "must not be negative", 3)])
    assert str(error) == "2 rows rejected"
    assert error.to_json() == {"error": "2 rows rejected", "errors": [
        {"line": 2, "field": "date", "message": "is required"},
        {"line": 3, "field": "quantity", "message": "must not be negative"},
    ]}
