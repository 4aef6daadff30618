"""services/ledger_schema.py on a real SQLite file: exact amounts stored as text, loaded in ledger order."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from services.ledger_engine import make_engine
from services.ledger_schema import Base, PortfolioRow, TransactionRow, load_transactions, row_values
from services.models import Transaction


def test_amounts_are_stored_as_text_and_loaded_exact_in_date_then_entry_order(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    later = Transaction(dt.date(2024, 1, 3), "AAPL", "BUY", Decimal("12345678.12345678"), Decimal("0.1"))
    earlier = Transaction(dt.date(2024, 1, 2), "AAPL", "BUY", Decimal("1E+1"), Decimal("0.2"), Decimal("0.0001"))
    with Session(engine) as session, session.begin():
        portfolio = PortfolioRow(name="Exact")
        session.add(portfolio)
        session.flush()
        portfolio_id = portfolio.id
        session.execute(insert(TransactionRow), [row_values(portfolio_id, t) for t in (later, earlier)])
    with Session(engine) as session:
        loaded = load_transactions(session, portfolio_id)
    assert [(t.date, t.quantity, t.price, t.fees, t.id) for t in loaded] == [
        (dt.date(2024, 1, 2), Decimal(10), Decimal("0.2"), Decimal("0.0001"), 2),
        (dt.date(2024, 1, 3), Decimal("12345678.12345678"), Decimal("0.1"), Decimal(0), 1),
    ]
    assert loaded[0].price + loaded[1].price == Decimal("0.3")
    engine.dispose()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT typeof(quantity), quantity FROM transactions ORDER BY id").fetchall() == [
            ("text", "12345678.12345678"), ("text", "10")]
