"""services/ledger_rules.py: portfolio names, currencies and ids, and how each oversell is named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services import ledger_rules as rules
from services.models import MAX_REPORTED_ERRORS, FieldError, NotFoundError, Transaction, ValidationError


def txn(day: str, kind: str, quantity: str, tid: int | None = None) -> Transaction:
    return Transaction(dt.date.fromisoformat(day), "KO", kind, Decimal(quantity), Decimal(50), id=tid)


def refusal(call, *args) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args)
    return info.value


@pytest.mark.parametrize(("name", "cleaned"), [("Main", "Main"), ("  Retirement  ", "Retirement"),
                                               ("x" * 100, "x" * 100)])
def test_a_good_name_comes_back_trimmed(name: str, cleaned: str) -> None:
    assert rules.check_name(name) == cleaned


@pytest.mark.parametrize(("name", "message"), [
    ("", "is required"), ("   ", "is required"), (None, "is required"), (42, "is required"),
    ("x" * 101, "is longer than 100 characters"), ("a\x00b", "must not contain NUL characters"),
])
def test_a_bad_name_is_named(name: object, message: str) -> None:
    error = refusal(rules.check_name, name)
    assert (error.message, error.errors) == ("invalid portfolio", [FieldError("name", message)])


@pytest.mark.parametrize(("currency", "expected"), [("usd", "USD"), (" EUR ", "EUR"), (5, None), ("EURO", None),
                                                    ("", None), ("U$D", None)])
def test_a_currency_is_three_letters(currency: object, expected: str | None) -> None:
    if expected is not None:
        assert rules.check_currency(currency) == expected
    else:
        assert [e.field for e in refusal(rules.check_currency, currency).errors] == ["base_currency"]


def test_names_clash_trimmed_and_case_folded() -> None:
    assert rules.name_key(" Retirement ") == rules.name_key("RETIREMENT") == "retirement"
    assert rules.name_key("Straße") == rules.name_key("STRASSE")  # casefold, not lower
    assert rules.duplicate_name("Main").errors == [
        FieldError("name", "a portfolio named \u201cMain\u201d exists already")]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_an_id_out_of_64_bit_range_is_not_found(value: int) -> None:
    with pytest.raises(NotFoundError, match=f"transaction {value} not found"):
        rules.check_id("transaction", value)
    rules.check_id("transaction", 2**63 - 1)  # the largest id is fine


def test_editable_values_are_exact_text() -> None:
    stored = Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal("1E+1"), Decimal("0.10"), Decimal(0), "n", id=4)
    assert rules.editable_values(stored) == {"date": "2024-01-02", "ticker": "AAPL", "type": "BUY",
                                             "quantity": "10", "price": "0.1", "fees": "0", "note": "n"}


def test_an_oversell_already_in_the_ledger_is_not_new() -> None:
    old = [txn("2024-01-02", "BUY", "5"), txn("2024-01-03", "SELL", "8")]  # oversold before the checks existed
    unrelated = txn("2024-02-01", "BUY", "1")
    assert rules.new_oversells(old, [*old, unrelated]) == []
    [(index, found)] = rules.new_oversells(old, [*old, txn("2024-03-01", "SELL", "7")])
    # The old SELL of 8 was refused by the replay, so 5 are held when the new SELL of 7 comes.
    assert (index, found.held, found.quantity) == (2, Decimal(5), Decimal(7))


def test_adding_an_oversell_is_refused_by_quantity() -> None:
    error = refusal(rules.refuse_added_oversells, [txn("2024-01-02", "BUY", "10")], txn("2024-01-03", "SELL", "12"))
    assert error.message == "transaction rejected"
    assert error.errors == [FieldError("quantity", "sells 12 KO on 2024-01-03 but only 10 are held then")]


def test_an_edit_names_the_other_sell_it_leaves_short() -> None:
    existing = [txn("2024-01-02", "BUY", "10", 1), txn("2024-01-05", "SELL", "8", 2)]
    changed = txn("2024-01-02", "BUY", "6", 1)
    error = refusal(rules.refuse_edited_oversells, existing, [changed, existing[1]], changed)
    assert error.errors == [FieldError(
        "quantity", "would leave the SELL (id 2) short: it sells 8 KO on 2024-01-05 but only 6 are held then")]


def test_a_delete_that_leaves_a_later_sell_short_is_refused() -> None:
    existing = [txn("2024-01-02", "BUY", "10", 1), txn("2024-01-05", "SELL", "8", 2)]
    error = refusal(rules.refuse_deleted_oversells, existing, existing[1:])
    assert error.message == "transaction not deleted"
    assert error.errors == [FieldError(
        "quantity", "deleting it would leave a later SELL short: sells 8 KO on 2024-01-05 but only 0 are held then")]


def test_an_import_names_its_own_rows_by_line_and_existing_sells_by_id() -> None:
    existing = [txn("2024-01-02", "BUY", "10", 1), txn("2024-03-01", "SELL", "10", 2)]
    parsed = [(2, txn("2024-02-01", "SELL", "4")), (3, txn("2024-02-02", "SELL", "7"))]
    error = refusal(rules.refuse_imported_oversells, existing, parsed)
    assert error.message == "2 rows rejected"  # line 3, and the existing SELL (no line)
    assert error.errors == [
        FieldError("quantity", "sells 7 KO on 2024-02-02 but only 6 are held then", 3),
        FieldError("quantity", "the existing SELL (id 2) would be short: sells 10 KO on 2024-03-01 "
                               "but only 6 are held then"),
    ]
    rules.refuse_imported_oversells(existing[:1], parsed[:1])  # 4 of 10: nothing to refuse


def test_an_import_of_many_oversells_names_the_first_hundred_and_counts_them_all() -> None:
    existing = [txn("2024-01-02", "BUY", "1", 1)]
    parsed = [(line, txn("2024-02-01", "SELL", "5")) for line in range(2, 2002)]  # 2,000 rows, each short
    error = refusal(rules.refuse_imported_oversells, existing, parsed)
    assert (error.message, error.total, len(error.errors)) == ("2000 rows rejected", 2000, MAX_REPORTED_ERRORS)
    assert [e.line for e in error.errors] == list(range(2, 2 + MAX_REPORTED_ERRORS))
    assert error.errors[0].message == "sells 5 KO on 2024-02-01 but only 1 are held then"
