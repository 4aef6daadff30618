"""services/transaction_input.py: the rules of one transaction as JSON values, and the day a trade may have.

The same rules on CSV rows, each named by its line, are in test_csv_io.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services import transaction_input
from services.csv_io import parse_transactions_csv_lines
from services.models import FieldError, SplitRatio, Transaction, ValidationError
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
    # 2024-06-30 18:00 UTC is 14:00 in New York: still the 30th there.
    monkeypatch.setattr(transaction_input, "now", lambda: dt.datetime(2024, 6, 30, 18, 0, tzinfo=dt.UTC))
    assert parse(f"{HEADER}\n2024-06-30,AAPL,BUY,1,1,,\n")[0].date == dt.date(2024, 6, 30)
    assert where(f"{HEADER}\n2024-07-01,AAPL,BUY,1,1,,\n") == [(2, "date")]


def _buy_on(day: str, ticker: str) -> list[str]:
    _, errors = validate_transaction({"date": day, "ticker": ticker, "type": "BUY", "quantity": 1, "price": 1})
    return [e.field for e in errors]


def test_the_future_is_judged_at_the_tickers_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 2026-12-03 10:00 UTC it is 05:00 on the 3rd in New York (UTC-5) and 19:00 on the 3rd in Tokyo (UTC+9)."""
    monkeypatch.setattr(transaction_input, "now", lambda: dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC))
    assert transaction_input.today("AAPL") == dt.date(2026, 12, 3)
    assert _buy_on("2026-12-04", "AAPL") == ["date"]  # UTC+14 (already the 4th) used to accept it
    assert _buy_on("2026-12-03", "AAPL") == []
    assert _buy_on("2026-12-04", "7203.T") == ["date"]  # 19:00 on the 3rd in Tokyo
    # 16:00 UTC is 01:00 on the 4th in Tokyo but 11:00 on the 3rd in New York.
    monkeypatch.setattr(transaction_input, "now", lambda: dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC))
    assert _buy_on("2026-12-04", "7203.T") == []
    assert _buy_on("2026-12-04", "AAPL") == ["date"]
    # Without a valid ticker the earliest zone judges (UTC+14: 06:00 on the 4th), and the ticker is the error.
    assert transaction_input.today() == dt.date(2026, 12, 4)


def test_a_split_ratio_is_kept_exact_and_only_for_a_split() -> None:
    split, errors = validate_transaction({"date": "2024-01-02", "ticker": "X", "type": "SPLIT", "quantity": "1:3"})
    assert errors == [] and split is not None
    assert split.ratio == SplitRatio(1, 3)
    assert split.ratio.apply(Decimal(99)) == Decimal(33)  # 99 x 1 / 3, exactly
    assert float(split.quantity) == pytest.approx(1 / 3)
    assert split.to_json()["ratio"] == "1:3" and split.to_json()["quantity"] == pytest.approx(0.333333333)
    _, errors = validate_transaction({"date": "2024-01-02", "ticker": "X", "type": "BUY", "quantity": "1:3",
                                      "price": 1})
    assert [e.field for e in errors] == ["quantity"] and "only for a SPLIT" in errors[0].message
    for bad in ("0:3", "1:0", "1.5:3", "1:3:4", "a:b", "2000000:1"):
        _, errors = validate_transaction({"date": "2024-01-02", "ticker": "X", "type": "SPLIT", "quantity": bad})
        assert [e.field for e in errors] == ["quantity"], bad
    plain, errors = validate_transaction({"date": "2024-01-02", "ticker": "X", "type": "SPLIT", "quantity": 0.5})
    assert errors == [] and plain is not None and plain.ratio is None and plain.quantity == Decimal("0.5")


def test_a_time_of_day_is_optional_and_checked() -> None:
    row = {"date": "2024-01-02", "ticker": "X", "type": "BUY", "quantity": 1, "price": 1}
    timed, errors = validate_transaction({**row, "time": "09:30"})
    assert errors == [] and timed is not None and timed.time == dt.time(9, 30)
    assert timed.to_json()["time"] == "09:30:00"
    untimed, _ = validate_transaction({**row, "time": ""})
    assert untimed is not None and untimed.time is None
    for bad in ("9:30", "24:00", "12:60", "noon", 930):
        _, errors = validate_transaction({**row, "time": bad})
        assert [e.field for e in errors] == ["time"], bad


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


# --- currency and fx_rate (issue 14) -------------------------------------------------------------------------

BUY = {"date": "2024-01-02", "ticker": "VOD.L", "type": "BUY", "quantity": "100"}


def test_a_transaction_without_currency_or_rate_has_neither() -> None:
    transaction, errors = validate_transaction({**BUY, "price": "72.5", "currency": None, "fx_rate": ""})
    assert errors == [] and transaction is not None
    assert (transaction.currency, transaction.fx_rate) == (None, None)
    assert transaction.to_json()["currency"] is None and transaction.to_json()["fx_rate"] is None


@pytest.mark.parametrize(("price", "fees", "currency", "expected"), [
    # 1234.5 pence = 12.345 pounds; 5 pence of fees = 0.05 pounds.
    (1234.5, 5, "GBp", ("12.345", "0.05", "GBP")),
    ("1234.5", "5", "gbx", ("12.345", "0.05", "GBP")),
    # As pounds they stay pounds, whatever the case of the code.
    (1234.5, 5, "gbp", ("1234.5", "5", "GBP")),
    # 25099 South African cents = 250.99 rand; 1 agora = 0.01 shekel.
    (25099, 0, "ZAc", ("250.99", "0", "ZAR")),
    ("1", "0.0001", "ILA", ("0.01", "0.000001", "ILS")),
    (" 99.5", None, " eur ", ("99.5", "0", "EUR")),
])
def test_json_currency_is_stored_as_its_major_unit(price: object, fees: object, currency: str,
                                                  expected: tuple[str, str, str]) -> None:
    transaction, errors = validate_transaction({**BUY, "price": price, "fees": fees, "currency": currency})
    assert errors == [] and transaction is not None
    assert (transaction.price, transaction.fees, transaction.currency) == (
        Decimal(expected[0]), Decimal(expected[1]), expected[2])


def test_a_json_rate_is_exact_and_goes_out_as_a_number() -> None:
    transaction, errors = validate_transaction({**BUY, "price": 72.5, "currency": "GBP", "fx_rate": 1.2687})
    assert errors == [] and transaction is not None
    assert transaction.fx_rate == Decimal("1.2687")
    assert transaction.to_json()["currency"] == "GBP" and transaction.to_json()["fx_rate"] == 1.2687
    # The finest rate the ledger stores: ten places.
    finest, _ = validate_transaction({**BUY, "price": 1, "fx_rate": "0.0000000001"})
    assert finest is not None and finest.fx_rate == Decimal("1E-10")


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("currency", 978, "must be text"),
    ("currency", "EURO", "3-letter currency code"),
    ("currency", "€", "3-letter currency code"),
    ("currency", "GB", "3-letter currency code"),
    ("fx_rate", 0, "greater than 0"),
    ("fx_rate", "0.0", "greater than 0"),
    ("fx_rate", -1.1, "must not be negative"),
    ("fx_rate", "one", "not a number"),
    ("fx_rate", True, "must be a number"),
    ("fx_rate", float("inf"), "finite"),
    ("fx_rate", {"rate": 1}, "must be a number"),
    ("fx_rate", "1.12345678901", "more than 10 decimal places"),
])
def test_a_bad_currency_or_rate_is_named(field: str, value: object, fragment: str) -> None:
    transaction, errors = validate_transaction({**BUY, "price": "10", field: value})
    assert transaction is None
    assert [(e.line, e.field) for e in errors] == [(None, field)]
    assert fragment in errors[0].message


def test_places_are_counted_in_the_unit_written() -> None:
    # 8 places in pence are 10 in pounds (accepted); 9 in pence are refused as 9, not as 11.
    ok, _ = validate_transaction({**BUY, "price": "0.12345678", "currency": "GBp"})
    assert ok is not None and ok.price == Decimal("0.0012345678")
    _, errors = validate_transaction({**BUY, "price": "0.123456789", "currency": "GBp"})
    assert [(e.field, e.message) for e in errors] == [("price", "has more than 8 decimal places")]
    # Pounds may have 10 (an exported pence trade), euros 8, as before.
    pounds, _ = validate_transaction({**BUY, "price": "0.0012345678", "currency": "GBP"})
    assert pounds == ok
    _, errors = validate_transaction({**BUY, "price": "0.0012345678", "currency": "EUR"})
    assert [(e.field, e.message) for e in errors] == [("price", "has more than 8 decimal places")]
