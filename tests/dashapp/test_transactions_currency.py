"""The transactions page's grid shows each transaction's currency and rate (issue 14), and the import help names
the new columns (dashapp/components/transactions.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dashapp.components.transactions import TXN_COLUMN_DEFS, transactions_page, txn_rows
from services.models import Transaction


def test_a_row_formats_in_its_own_currency_and_says_which_it_gave() -> None:
    pence = Transaction(dt.date(2024, 1, 2), "VOD.L", "BUY", Decimal(100), Decimal("12.345"), Decimal("2.5"),
                        id=3, currency="GBP", fx_rate=Decimal("1.2687"))
    plain = Transaction(dt.date(2024, 1, 3), "AAPL", "BUY", Decimal(1), Decimal(185), id=4)
    rows = txn_rows([pence.to_json(), plain.to_json()], "EUR")
    assert [(r["currency"], r["currency_given"], r["fx_rate"], r["price"], r["row_id"]) for r in rows] == [
        ("GBP", "GBP", 1.2687, 12.345, "3"),  # price and fees formatted in pounds
        ("EUR", None, None, 185.0, "4"),  # none given: the portfolio's currency, as before; the column empty
    ]


def test_the_grid_has_a_currency_and_a_rate_column_before_the_note() -> None:
    fields = [column["field"] for column in TXN_COLUMN_DEFS]
    assert fields == ["date", "ticker", "type", "quantity", "price", "fees", "currency_given", "fx_rate", "note"]
    currency, rate = TXN_COLUMN_DEFS[6], TXN_COLUMN_DEFS[7]
    assert (currency["headerName"], rate["headerName"]) == ("Currency", "FX rate")
    # Every digit of a rate (no 6-place number format), an empty cell when there is none.
    assert rate["valueFormatter"] == {"function": "params.value == null ? '' : String(params.value)"}


def test_the_import_help_names_the_nine_columns() -> None:
    markup = str(transactions_page({"id": 1, "name": "Main", "base_currency": "USD"}, static=True))
    assert "date,ticker,type,quantity,price,fees,note,currency,fx_rate" in markup
    assert "GBp" in markup
