"""The transactions page's pure parts: field errors, CSV errors, upload decoding, file names, the grid rows."""

from __future__ import annotations

import base64
import json

import pytest
from dash import html
from plotly.utils import PlotlyJSONEncoder

from dashapp import ids
from dashapp.components.static_html import to_html
from dashapp.components.transactions import (
    csv_errors_view,
    decode_upload,
    delete_outcome,
    delete_question,
    download_name,
    edit_values,
    form_errors,
    form_mode,
    name_problem,
    transactions_page,
    txn_rows,
)


def test_errors_go_to_their_fields():
    shown = form_errors([{"field": "quantity", "message": "is required"},
                         {"field": "price", "message": "is not a number: 'abc'"}], "transaction rejected")
    assert shown.fields["quantity"] == "Quantity is required"
    assert shown.fields["price"] == "Price is not a number: 'abc'"
    assert shown.fields["ticker"] is None
    assert shown.general is None  # every error has its field: no banner needed


def test_errors_without_a_field_of_the_form_are_general():
    shown = form_errors([{"field": "portfolio", "message": "is locked"}], "transaction rejected")
    assert shown.general == "transaction rejected portfolio: is locked"
    assert not any(shown.fields.values())


def test_two_errors_on_one_field_are_joined():
    shown = form_errors([{"field": "quantity", "message": "a"}, {"field": "quantity", "message": "b"}])
    assert shown.fields["quantity"] == "Quantity a; Quantity b"


def test_csv_errors_table_names_each_line_and_escapes_text():
    view = csv_errors_view("2 rows rejected", [
        {"line": 3, "field": "quantity", "message": "is not a number: '<script>'"},
        {"field": "quantity", "message": "the existing SELL would be short"},
    ])
    markup = to_html(view)
    assert "<td>3</td><td>quantity</td>" in markup
    assert "&lt;script&gt;" in markup and "<script>" not in markup
    assert "<td>—</td>" in markup  # an error of no line


def test_decode_upload_reads_utf8_and_a_bom():
    text = "date,ticker\n2024-01-02,AAPL\n"
    encoded = base64.b64encode(("\ufeff" + text).encode()).decode()
    assert decode_upload(f"data:text/csv;base64,{encoded}") == (text, None)


def test_decode_upload_names_the_line_of_a_bad_byte():
    raw = b"date,ticker\n2024-01-02,AAPL\n2024-01-03,\xff\n"
    _text, problem = decode_upload("data:text/csv;base64," + base64.b64encode(raw).decode())
    assert problem["line"] == 3 and problem["field"] == "file" and "0xff" in problem["message"]


def test_decode_upload_of_garbage():
    assert decode_upload("data:text/csv;base64,@@@")[1]["message"] == "could not be read"


def test_download_name_is_safe():
    assert download_name("My ISA / 2024") == "my-isa-2024-transactions.csv"
    assert download_name("***") == "portfolio-transactions.csv"


def test_rows_carry_a_string_id_and_the_currency():
    rows = txn_rows([{"id": 7, "ticker": "A"}], "EUR")
    assert rows == [{"id": 7, "ticker": "A", "currency": "EUR", "currency_given": None, "row_id": "7"}]


def test_page_without_a_portfolio_offers_only_creation():
    page = transactions_page(None)
    markup = str(page)
    assert "portfolio-create" in markup and "transaction-submit" not in markup


def test_static_page_is_plain_html():
    markup = to_html(transactions_page(None, static=True))
    assert "Add a transaction" in markup and "Import a CSV" in markup
    assert isinstance(transactions_page(None, static=True), html.Div)


PORTFOLIOS = [{"id": 1, "name": "Main", "base_currency": "USD"}, {"id": 2, "name": "ISA", "base_currency": "GBP"}]


def _layout_json(component) -> str:
    return json.dumps(component, cls=PlotlyJSONEncoder)


def test_an_unknown_portfolio_id_says_so_and_offers_the_portfolios_there_are():
    markup = _layout_json(transactions_page(None, problem="There is no portfolio 999: it may have been deleted.",
                                            portfolios=PORTFOLIOS))
    assert "There is no portfolio 999: it may have been deleted." in markup
    assert "No portfolio yet" not in markup and "Portfolio not found" in markup
    assert '"href": "/transactions?portfolio=1"' in markup and '"href": "/transactions?portfolio=2"' in markup
    assert f'"id": "{ids.PORTFOLIO_MISSING}"' in markup and "alert alert-warning" in markup
    assert f'"id": "{ids.PORTFOLIO_CREATE}"' in markup  # and the create form


def test_no_portfolio_yet_only_when_there_is_none():
    markup = _layout_json(transactions_page(None, problem="There is no portfolio 999: it may have been deleted."))
    assert "No portfolio yet" in markup and "There is no portfolio 999" in markup
    assert ids.PORTFOLIO_LINKS not in markup
    assert ids.PORTFOLIO_MISSING not in _layout_json(transactions_page(None))


def test_the_ledger_offers_edit_and_a_confirmed_delete():
    page = transactions_page(PORTFOLIOS[0], today="2025-01-02")
    markup = str(page)
    for component_id in (ids.TXN_EDIT, ids.TXN_DELETE, ids.TXN_DELETE_CONFIRM, ids.TXN_CANCEL, ids.TXN_EDITING,
                         ids.TXN_FORM_TITLE):
        assert f"'{component_id}'" in markup, component_id
    static = to_html(transactions_page(None, static=True))
    assert "Edit selected" in static and "Add transaction" in static and ids.TXN_DELETE_CONFIRM not in static


def test_form_modes():
    adding, editing = form_mode(None), form_mode(12)
    assert (adding.title, adding.submit) == ("Add a transaction", "Add transaction")
    assert "d-none" in adding.cancel_class.split()
    assert (editing.title, editing.submit) == ("Edit a transaction", "Save changes")
    assert "d-none" not in editing.cancel_class.split()


def test_edit_values_fill_every_field_as_text():
    assert edit_values({"id": 3, "date": "2024-01-02", "ticker": "AAPL", "type": "SELL", "quantity": 10.0,
                        "price": 0.1, "fees": "0.0001", "note": None}) == {
        "date": "2024-01-02", "ticker": "AAPL", "type": "SELL", "quantity": "10", "price": "0.1",
        "fees": "0.0001", "currency": "", "fx_rate": "", "note": ""}
    # Issue 14: the transaction's own currency and every digit of its rate.
    assert edit_values({"date": "2024-01-02", "ticker": "VOD.L", "type": "BUY", "quantity": "1", "price": "0.7",
                        "fees": "0", "currency": "GBP", "fx_rate": "1.2687"}) == {
        "date": "2024-01-02", "ticker": "VOD.L", "type": "BUY", "quantity": "1", "price": "0.7",
        "fees": "0", "currency": "GBP", "fx_rate": "1.2687", "note": ""}


def test_import_warnings_view_is_a_warning_alert_naming_the_lines():
    from dashapp.components.transactions import import_warnings_view

    view = import_warnings_view(2, "pence.csv", [{"line": 3, "field": "price",
                                                  "message": "looks like pence; add currency GBp"}])
    assert "alert-warning" in view.className.split()
    text = str(view)
    assert "Imported 2 transactions from pence.csv" in text
    assert "'3'" in text and "looks like pence; add currency GBp" in text and "1 row looks wrong" in text


@pytest.mark.parametrize(("deleted", "missing", "refused", "text", "tone"), [
    (3, 0, [], "Deleted 3 transactions.", "success"),
    (1, 0, [], "Deleted 1 transaction.", "success"),
    (0, 2, [], "Those transactions were already deleted.", "warning"),
    (0, 1, [], "That transaction was already deleted.", "warning"),
    (2, 1, [], "Deleted 2 transactions. 1 transaction was already deleted.", "warning"),
    (1, 0, ["x short"], "Deleted 1 transaction. Kept: x short", "warning"),
    (0, 0, ["x short"], "Kept: x short", "warning"),
])
def test_delete_outcome_never_says_deleted_0(deleted, missing, refused, text, tone):
    assert delete_outcome(deleted, missing, refused) == (text, tone)


def test_delete_question():
    assert delete_question(3) == "Delete 3 transactions?"
    assert delete_question(1) == "Delete 1 transaction?"


def test_name_problem_reads_as_a_sentence():
    assert name_problem([{"field": "name", "message": "is required"}]) == "Name is required."
    assert name_problem([{"field": "name", "message": "a portfolio named \u201cMain\u201d exists already"}]) == (
        "A portfolio named \u201cMain\u201d exists already.")


# -- the broker-style import's views (dashapp/components/broker_import.py) ---------------------------------------
def _text(component) -> str:
    return to_html(component)


def test_file_header_passes_over_a_preamble_line():
    from dashapp.components.broker_import import file_header

    text = '"Transactions  for account XXXX-1234"\n"Date","Action","Symbol","Quantity"\n"01/02/2024","Buy","A","1"\n'
    assert file_header(text) == ["Date", "Action", "Symbol", "Quantity"]
    assert file_header("") == []


def test_guess_columns_by_common_header_names():
    from dashapp.components.broker_import import guess_columns

    guessed = guess_columns(["Run Date", "Action", "Symbol", "Qty", "Price ($)", "Commission", "Trade day"])
    assert guessed["date"] == "Run Date"  # "rundate" is a known date header; "Trade day" is not tried after it
    assert (guessed["type"], guessed["ticker"], guessed["quantity"], guessed["fees"]) == (
        "Action", "Symbol", "Qty", "Commission")
    assert guessed["price"] == "Price ($)"  # Fidelity's header: "($)" is dropped when headers are compared
    assert guessed["currency"] == ""


def test_custom_from_form_drops_empty_choices_and_splits_words():
    from dashapp.components.broker_import import custom_from_form

    custom = custom_from_form({"date": "Day", "fees": "", "note": None}, {"BUY": " Kauf, Bought ,", "SELL": ""},
                              None)
    assert custom == {"columns": {"date": "Day"}, "actions": {"BUY": ["Kauf", "Bought"]},
                      "date_format": "YYYY-MM-DD"}


def test_import_answer_says_counts_not_trades_and_warnings():
    from dashapp.components.broker_import import import_answer

    answer = import_answer({"imported": 6, "skipped_duplicates": 2, "not_trades": 3,
                            "not_trade_actions": {"Journal": 2, "Bank Interest": 1},
                            "warnings": [{"line": 10, "field": "type", "message": "<b>split</b> by hand"}]},
                           "schwab.csv")
    text = _text(answer)
    assert "Imported 6 transactions from schwab.csv." in text
    assert "6 imported, 2 duplicates skipped; 3 rows were not trades (2 Journal, 1 Bank Interest)." in text
    assert "alert-warning" in text and "<td>10</td>" in text
    assert "&lt;b&gt;split&lt;/b&gt;" in text  # a file's text is shown as text
    single = _text(import_answer({"imported": 1, "skipped_duplicates": 1}, "a.csv"))
    assert "Imported 1 transaction from a.csv." in single and "1 imported, 1 duplicate skipped." in single
    assert "alert-success" in single


def test_the_import_card_offers_the_formats_and_starts_on_the_saved_one():
    page = transactions_page({"id": 1, "name": "P", "base_currency": "USD"}, today="2025-01-02",
                             import_format={"format": "custom", "custom": {"columns": {"date": "Day"}}})
    select = _find(page, ids.IMPORT_FORMAT)
    assert [o["value"] for o in select.options] == ["mystocktracker", "schwab", "ibkr", "custom"]
    assert select.value == "custom"
    assert "d-none" not in _find(page, ids.IMPORT_CUSTOM).className  # the custom form is shown
    plain = transactions_page({"id": 1, "name": "P", "base_currency": "USD"}, today="2025-01-02")
    assert _find(plain, ids.IMPORT_FORMAT).value == "mystocktracker"
    assert "d-none" in _find(plain, ids.IMPORT_CUSTOM).className


def _find(component, component_id):
    """The component of `component_id` in a layout tree."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None
