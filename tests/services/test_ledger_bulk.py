"""services/ledger_bulk.py's row binder: the fast path binds exactly what SQLAlchemy's own bind processors make of
`row_values` (the reference), for SQLite's executemany and for Postgres's COPY cells, with and without a batch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from services.ledger_bulk import _bound, _cell, row_binder
from services.ledger_schema import row_values
from services.models import SplitRatio, Transaction

TRANSACTIONS = [
    Transaction(dt.date(2024, 1, 2), "VOD.L", "BUY", Decimal("10.50"), Decimal("0.12345678"), Decimal("1.0"),
                'says "hi", then\nleaves', currency="GBP", fx_rate=Decimal("1.25"), time=dt.time(9, 30)),
    Transaction(dt.date(2024, 1, 3), "VOD.L", "SPLIT", Decimal(1) / Decimal(3), Decimal(0), Decimal(0),
                ratio=SplitRatio(1, 3)),
    # Equal amounts written differently (10.5 and 10.50, 1E+1 and 10): remembered per value, bound the same.
    Transaction(dt.date(2024, 1, 2), "VOD.L", "SELL", Decimal("10.5"), Decimal("1E+1"), Decimal("10"), "=1+1"),
]


def reference(dialect, portfolio_id: int, batch_id: int | None, transaction: Transaction, copy: bool) -> tuple:
    names, processors = _bound(dialect)
    values = {**row_values(portfolio_id, transaction), "batch_id": batch_id}
    out = []
    for name, process in zip(names, processors, strict=True):
        value = values[name]
        if name != "created_at" and value is not None and process is not None:
            value = process(value)
        out.append(_cell(value) if copy else value)
    return tuple(out)


@pytest.mark.parametrize(("dialect", "kind"), [(sqlite.dialect(), "sqlite"),
                                               (postgresql.psycopg2.dialect(), "copy")])
@pytest.mark.parametrize("batch_id", [None, 42])
def test_the_binder_binds_what_row_values_and_the_bind_processors_make(dialect, kind: str, batch_id) -> None:
    names, bind = row_binder(dialect, 7, batch_id, kind)
    created_at = names.index("created_at")
    for transaction in TRANSACTIONS:
        fast, slow = bind(transaction), reference(dialect, 7, batch_id, transaction, kind == "copy")
        assert len(fast) == len(names)
        # created_at: one moment for the whole import (the reference reads the clock per row); the rest equal.
        assert fast[:created_at] + fast[created_at + 1:] == slow[:created_at] + slow[created_at + 1:]
    sell = bind(TRANSACTIONS[2])  # after the BUY's 10.50 was remembered: 10.5 binds the same plain text
    assert sell[names.index("quantity")] == ('"10.5"' if kind == "copy" else "10.5")
    assert sell[names.index("price")] == ('"10"' if kind == "copy" else "10")  # 1E+1 written out


def test_a_null_is_an_unquoted_empty_cell_in_copy_and_none_in_sqlite() -> None:
    names, copy = row_binder(postgresql.psycopg2.dialect(), 1, None, "copy")
    _, lite = row_binder(sqlite.dialect(), 1, None, "sqlite")
    split = TRANSACTIONS[1]
    assert copy(split)[names.index("currency")] == ""
    assert copy(split)[names.index("batch_id")] == ""
    assert lite(split)[names.index("currency")] is None
    assert lite(split)[names.index("ratio_denominator")] == 3
    assert copy(split)[names.index("ratio_denominator")] == '"3"'
