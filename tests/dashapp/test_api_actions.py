"""GET /api/portfolios/<id>/corporate-actions through Flask's test client: a real SQLite ledger and diskcache, demo
prices (NVDA split 10:1 on 2024-06-10, services/providers/demo.py KNOWN_SPLITS)."""

from __future__ import annotations

import datetime as dt

import jsonschema
import pytest

import dashapp.api_actions  # noqa: F401  (its route on the api blueprint, before any app mounts it)
from dashapp import create_app
from dashapp.openapi import openapi_spec
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)  # quotes stay fresh until Monday: no refetch races


@pytest.fixture
def env(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, price_wait_s=5.0)
    clock = MarketClock(now=lambda: SATURDAY)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    app = create_app(settings, services)
    yield app.server.test_client(), services
    services.close()


def _schema_check(body: dict) -> None:
    spec = openapi_spec()
    schema = {**spec["components"]["schemas"]["CorporateActions"], "components": spec["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def _actions(client, pid: int) -> dict:
    response = client.get(f"/api/portfolios/{pid}/corporate-actions")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    _schema_check(body)
    return body


def test_splits_are_checked_once_the_bars_are_cached(env):
    client, services = env
    pid = client.post("/api/portfolios", json={"name": "Splits"}).get_json()["portfolio"]["id"]
    client.post(f"/api/portfolios/{pid}/transactions",
                json={"date": "2024-01-02", "ticker": "NVDA", "type": "BUY", "quantity": 10, "price": 50})
    # Cache only: nothing fetched yet, so nothing is checked and the answer says so (it did not wait).
    assert _actions(client, pid) == {"splits": [], "unchecked": ["NVDA"]}

    services.dashboard.holdings(pid, wait_s=5)  # the dashboard's own fetch fills the cache
    missing = {"ticker": "NVDA", "date": "2024-06-10", "ratio": "10:1", "status": "missing",
               "transaction_id": None, "ledger_date": None, "ledger_ratio": None}
    assert _actions(client, pid) == {"splits": [missing], "unchecked": []}

    # Entered a session early (Friday 2024-06-07): misdated, naming the row to move.
    early = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2024-06-07", "ticker": "NVDA", "type": "SPLIT", "quantity": 10}).get_json()["transaction"]
    assert _actions(client, pid)["splits"] == [{**missing, "status": "misdated", "transaction_id": early["id"],
                                                "ledger_date": "2024-06-07", "ledger_ratio": "10:1"}]

    client.patch(f"/api/portfolios/{pid}/transactions/{early['id']}", json={"date": "2024-06-10"})
    assert _actions(client, pid)["splits"] == [{**missing, "status": "recorded", "transaction_id": early["id"],
                                                "ledger_date": "2024-06-10", "ledger_ratio": "10:1"}]


def test_an_unknown_portfolio_is_a_json_404(env):
    client, _ = env
    response = client.get("/api/portfolios/999/corporate-actions")
    assert response.status_code == 404
    assert "999" in response.get_json()["error"]


def test_the_route_is_described():
    operation = openapi_spec()["paths"]["/api/portfolios/{portfolio_id}/corporate-actions"]["get"]
    assert set(operation["responses"]) == {"200", "404"}
    statuses = openapi_spec()["components"]["schemas"]["CorporateActions"]["properties"]["splits"]["items"]
    # The DESIGN's three keep their meaning; the fourth is an extension.
    assert statuses["properties"]["status"]["enum"] == ["recorded", "missing", "misdated", "unconfirmed"]
