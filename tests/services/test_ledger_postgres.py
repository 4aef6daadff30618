"""services/ledger.py on a real PostgreSQL server: exact NUMERIC amounts, no oversell under concurrency,
all-or-nothing imports, cascades, and the whole app giving the same dashboard as on SQLite."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text

from services.ledger import Ledger
from services.models import ValidationError

HEADER = "date,ticker,type,quantity,price,fees,note"


@pytest.fixture
def ledger(postgres_url: str):
    ledger = Ledger(postgres_url)
    ledger.create_all()
    yield ledger
    ledger.dispose()


def test_amounts_are_stored_as_numeric_and_round_trip_exactly(ledger: Ledger) -> None:
    portfolio = ledger.create_portfolio("Exact")
    ledger.add_transaction(portfolio.id, {"date": "2024-01-02", "ticker": "BRK-A", "type": "BUY",
                                          "quantity": "0.12345678", "price": "98765432.87654321",
                                          "fees": "0.0001"})
    stored = ledger.list_transactions(portfolio.id)[0]
    assert (stored.quantity, stored.price, stored.fees) == (
        Decimal("0.12345678"), Decimal("98765432.87654321"), Decimal("0.0001"))
    with ledger.engine.connect() as connection:
        row = connection.execute(text(
            "SELECT pg_typeof(quantity)::text, quantity::text, price::text, fees::text FROM transactions")).one()
    # NUMERIC(28, 10): the server keeps ten decimal places, never a binary float.
    assert tuple(row) == ("numeric", "0.1234567800", "98765432.8765432100", "0.0001000000")


def test_two_concurrent_sells_of_the_whole_position_let_exactly_one_through(ledger: Ledger) -> None:
    portfolio = ledger.create_portfolio("Race")
    ledger.add_transaction(portfolio.id, {"date": "2024-01-02", "ticker": "KO", "type": "BUY",
                                          "quantity": "10", "price": "50"})
    for round_number in range(5):
        if round_number:  # buy the 10 back so each round races for a whole position again
            ledger.add_transaction(portfolio.id, {"date": "2024-01-02", "ticker": "KO", "type": "BUY",
                                                  "quantity": "10", "price": "50"})
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def sell(start: threading.Barrier = start, outcomes: list[str] = outcomes) -> None:
            start.wait()
            try:
                ledger.add_transaction(portfolio.id, {"date": "2024-02-01", "ticker": "KO", "type": "SELL",
                                                      "quantity": "10", "price": "55"})
                outcomes.append("ok")
            except ValidationError:
                outcomes.append("refused")

        threads = [threading.Thread(target=sell) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["ok", "refused"], f"round {round_number}: {outcomes}"
    sold = [t for t in ledger.list_transactions(portfolio.id) if t.type == "SELL"]
    assert len(sold) == 5  # one sale per round, never two


def test_a_csv_with_one_bad_line_imports_nothing(ledger: Ledger) -> None:
    portfolio = ledger.create_portfolio("Import")
    ledger.import_csv(portfolio.id, f"{HEADER}\n2024-01-03,MSFT,BUY,2,300,0,first\n")
    bad = f"{HEADER}\n2024-01-04,MSFT,BUY,1,310,0,fine\n2024-01-05,MSFT,SELL,5,320,0,too many\n"
    with pytest.raises(ValidationError) as refused:
        ledger.import_csv(portfolio.id, bad)
    assert [(e.line, e.field) for e in refused.value.errors] == [(3, "quantity")]  # header is line 1
    assert [(t.date, t.note) for t in ledger.list_transactions(portfolio.id)] == [(dt.date(2024, 1, 3), "first")]


def test_deleting_a_portfolio_deletes_its_transactions_only(ledger: Ledger) -> None:
    gone, kept = ledger.create_portfolio("Gone"), ledger.create_portfolio("Kept")
    ledger.import_csv(gone.id, f"{HEADER}\n2024-01-03,AAPL,BUY,1,100,0,\n2024-01-04,MSFT,BUY,1,200,0,\n")
    ledger.import_csv(kept.id, f"{HEADER}\n2024-01-03,KO,BUY,3,60,0,\n")
    ledger.delete_portfolio(gone.id)
    with ledger.engine.connect() as connection:
        rows = connection.execute(text("SELECT portfolio_id, ticker FROM transactions")).all()
    assert [tuple(row) for row in rows] == [(kept.id, "KO")]
    assert [p.name for p in ledger.list_portfolios()] == ["Kept"]


def test_ping_answers_for_a_live_server_and_not_for_a_closed_port(ledger: Ledger) -> None:
    assert ledger.ping() is True
    closed = Ledger("postgresql+psycopg2://postgres@127.0.0.1:9/postgres?connect_timeout=2")
    try:
        assert closed.ping() is False
    finally:
        closed.dispose()


def _dashboard(database_url: str, tmp_path, csv_text: str) -> dict:
    """Import `csv_text` through the JSON API of an app on `database_url`; its summary and holdings payloads."""
    from dashapp import create_app
    from services.config import Settings
    from services.container import build_services
    from services.market_hours import MarketClock
    from services.providers.demo import DemoProvider

    saturday = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
    settings = Settings().with_overrides(data_dir=tmp_path, cache_dir=tmp_path / "cache",
                                         database_url=database_url, price_provider="demo", demo_mode=False)
    clock = MarketClock(now=lambda: saturday)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    try:
        client = create_app(settings, services).server.test_client()
        created = client.post("/api/portfolios", json={"name": "Parity"})
        assert created.status_code == 201
        portfolio_id = created.get_json()["portfolio"]["id"]
        imported = client.post(f"/api/portfolios/{portfolio_id}/import", data=csv_text, content_type="text/csv")
        assert imported.status_code == 200, imported.get_data(as_text=True)
        initial = client.get(f"/api/dashboard-initial-data/{portfolio_id}").get_json()
        holdings = client.get(f"/api/dashboard-holdings-data/{portfolio_id}").get_json()
        exported = client.get(f"/api/portfolios/{portfolio_id}/export").get_data(as_text=True)
        return {"summary": initial["summary"], "holdings": holdings["holdings"], "csv": exported}
    finally:
        services.close()


def test_the_app_on_postgres_shows_what_it_shows_on_sqlite(postgres_url: str, tmp_path) -> None:
    csv_text = (f"{HEADER}\n"
                "2024-03-01,AAPL,BUY,10,100,1,\n"
                "2024-06-03,AAPL,SELL,4,120,0,\n"
                "2024-06-10,KO,BUY,3,60.5,0,\n"
                "2024-07-01,KO,DIVIDEND,3,0.5,0,cash\n")
    on_postgres = _dashboard(postgres_url, tmp_path / "pg", csv_text)
    on_sqlite = _dashboard(f"sqlite:///{tmp_path / 'lite' / 'db.sqlite'}", tmp_path / "lite", csv_text)
    assert on_postgres == on_sqlite
    summary = on_postgres["summary"]
    # By hand: AAPL 10 x 100 + 1 fee = 1001 (100.1 a share); selling 4 at 120 gains 480 - 400.4 = 79.6 and
    # leaves 6 x 100.1 = 600.6; KO 3 x 60.5 = 181.5. Cost basis 782.1.
    assert summary["cost_basis"] == pytest.approx(782.1, abs=0.005)
    assert summary["realized_gain"] == pytest.approx(79.6, abs=0.005)
    assert summary["dividends"] == pytest.approx(1.5, abs=0.005)  # 3 shares x 0.50
    assert sorted((row["ticker"], row["quantity"]) for row in on_postgres["holdings"]) == [("AAPL", 6), ("KO", 3)]


def test_a_ratio_split_a_time_and_an_idempotency_key_on_postgres(ledger: Ledger) -> None:
    """Issue 15: NUMERIC(28, 10) rounds 1/3 to 0.3333333333; the denominator 3 brings back exactly 1:3."""
    portfolio = ledger.create_portfolio("Ratio")
    text_csv = (f"{HEADER},time\n2024-01-02,X,BUY,99,10,0,,09:30\n2024-02-01,X,SPLIT,1:3,,0,,\n")
    first = ledger.import_transactions(portfolio.id, text_csv, idempotency_key="pg-1")
    assert (first.imported, first.skipped_duplicates) == (2, 0)
    assert ledger.import_transactions(portfolio.id, text_csv, idempotency_key="pg-1") == first
    buy, split = ledger.list_transactions(portfolio.id)
    assert (str(split.ratio), buy.time) == ("1:3", dt.time(9, 30))
    assert split.ratio is not None and split.ratio.apply(buy.quantity) == Decimal(33)  # 99 x 1 / 3
    with ledger.engine.connect() as connection:
        row = connection.execute(text("SELECT quantity::text, ratio_denominator FROM transactions "
                                      "WHERE type = 'SPLIT'")).one()
    assert tuple(row) == ("0.3333333333", 3)
    assert ledger.import_csv(portfolio.id, ledger.export_csv(portfolio.id)) == 0  # all duplicates
