"""The transactions page's pure parts: field errors, CSV errors, upload decoding, file names, the grid rows."""

from __future__ import annotations

import base64

from dash import html

from dashapp.components.static_html import to_html
from dashapp.components.transactions import (
    csv_errors_view,
    decode_upload,
    download_name,
    form_errors,
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
    assert rows == [{"id": 7, "ticker": "A", "currency": "EUR", "row_id": "7"}]


def test_page_without_a_portfolio_offers_only_creation():
    page = transactions_page(None)
    markup = str(page)
    assert "portfolio-create" in markup and "transaction-submit" not in markup


def test_static_page_is_plain_html():
    markup = to_html(transactions_page(None, static=True))
    assert "Add a transaction" in markup and "Import a CSV" in markup
    assert isinstance(transactions_page(None, static=True), html.Div)
