"""The Dash side of the app through Flask's test client: the index page and the first layout of each page."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dashapp import create_app
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
HOST = "http://localhost/"


@pytest.fixture
def client(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False)
    clock = MarketClock(now=lambda: SATURDAY)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    services.ledger.create_portfolio("First <one>")
    app = create_app(settings, services)
    yield app.server.test_client()
    services.close()


def _layout(client, referrer: str | None) -> str:
    headers = {"Referer": referrer} if referrer else {}
    response = client.get("/_dash-layout", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_index_has_the_skeleton_and_the_referrer_policy(client):
    html = client.get("/").get_data(as_text=True)
    assert html.index('id="static-skeleton"') < html.index("<script")
    assert '<meta name="referrer" content="same-origin">' in html
    assert "Demo mode" in html  # the demo provider is active
    assert "Add a transaction" in client.get("/transactions").get_data(as_text=True)


def test_first_layout_carries_the_dashboard(client):
    layout = json.loads(_layout(client, HOST))
    text = json.dumps(layout)
    assert "summary-market-value" in text and "holdings-table" in text
    assert '"pathname": "/"' in text and f'"href": "{HOST}"' in text  # the location has nothing to report
    assert "First <one>" in text  # the selector starts filled (rendered as text by React)


@pytest.mark.parametrize(("path", "marker"), [
    ("transactions", "transactions-table"),
    ("transactions?portfolio=1", "transactions-table"),
    ("portfolio/1", "value-chart"),
    ("portfolio/999", "There is no portfolio 999"),
])
def test_first_layout_of_each_page(client, path, marker):
    assert marker in _layout(client, HOST + path)


@pytest.mark.parametrize("referrer", [None, "http://elsewhere.example/", HOST + "no/such/page"])
def test_without_a_usable_referrer_the_router_renders_the_page(client, referrer):
    text = _layout(client, referrer)
    assert "_pages_content" in text and "summary-market-value" not in text
