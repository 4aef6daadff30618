"""dashapp/api_broker.py through Flask's test client, on a real temporary SQLite file: the presets, the saved
mapping per portfolio, and broker imports answered on the lines of the user's file."""

from __future__ import annotations

from pathlib import Path

import pytest

import dashapp.api_broker  # noqa: F401  (its routes join the api blueprint before an app registers it)
from dashapp import create_app
from services.config import Settings
from services.container import build_services

SAMPLES = Path(__file__).parent.parent / "data" / "brokers"
CUSTOM = {"columns": {"date": "Day", "ticker": "Sym", "type": "Side", "quantity": "Qty", "price": "Px"},
          "actions": {"BUY": ["Bought"], "SELL": ["Sold"]}, "date_format": "DD/MM/YYYY"}


@pytest.fixture
def client(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, max_upload_bytes=64 * 1024)
    services = build_services(settings)
    app = create_app(settings, services)
    yield app.server.test_client()
    services.close()


def _portfolio(client, name="Broker") -> int:
    return client.post("/api/portfolios", json={"name": name}).get_json()["portfolio"]["id"]


def test_presets_list_our_format_the_presets_and_custom(client):
    body = client.get("/api/import-presets").get_json()
    keys = [f["key"] for f in body["formats"]]
    assert keys == ["mystocktracker", "schwab", "ibkr", "custom"]
    schwab = body["formats"][1]
    assert schwab["name"] == "Charles Schwab" and schwab["source"].startswith("https://")
    assert schwab["columns"]["fees"] == ["Fees & Comm"]
    assert "MM/DD/YYYY" in body["date_formats"]


def test_mapping_defaults_saves_and_refuses_bad_ones(client):
    pid = _portfolio(client)
    url = f"/api/portfolios/{pid}/import-mapping"
    assert client.get(url).get_json() == {"mapping": {"format": "mystocktracker", "custom": None}}
    saved = client.put(url, json={"format": "custom", "custom": CUSTOM})
    assert saved.status_code == 200 and saved.get_json()["mapping"]["custom"] == CUSTOM
    bad = client.put(url, json={"format": "custom", "custom": {"columns": {"date": "Day", "shares": "Qty"}}})
    assert bad.status_code == 422
    messages = " ".join(e["message"] for e in bad.get_json()["errors"])
    assert "unknown column(s) shares" in messages and "missing ticker" in messages
    assert client.get(url).get_json()["mapping"]["format"] == "custom"  # the refused one replaced nothing
    assert client.get("/api/portfolios/9999/import-mapping").status_code == 404
    assert client.put("/api/portfolios/9999/import-mapping", json={"format": "schwab"}).status_code == 404


def test_schwab_import_answers_counts_and_warnings(client):
    pid = _portfolio(client)
    data = (SAMPLES / "schwab_transactions.csv").read_bytes()
    response = client.post(f"/api/portfolios/{pid}/import-broker?format=schwab", data=data,
                           content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # 6 trade rows; MoneyLink, Bank Interest, Stock Split and Journal are not trades.
    assert (body["imported"], body["not_trades"], body["format"]) == (6, 4, "schwab")
    assert body["skipped_duplicates"] >= 0
    assert [(w["line"], w["field"]) for w in body["warnings"]] == [(10, "type")]
    listed = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    assert len(listed) == 6


def test_import_uses_the_saved_format_and_names_the_users_lines(client):
    pid = _portfolio(client)
    client.put(f"/api/portfolios/{pid}/import-mapping", json={"format": "custom", "custom": CUSTOM})
    text = ("Account statement, Jan 2024\n"  # a preamble line
            "Day,Sym,Side,Qty,Px\n"
            "02/01/2024,AAPL,Bought,10,150\n"
            "03/01/2024,,Deposit,,\n"
            "04/01/2024,AAPL,Sold,11,155\n")  # sells 11 of 10: refused on line 5 of this file
    response = client.post(f"/api/portfolios/{pid}/import-broker", data=text.encode(), content_type="text/csv")
    assert response.status_code == 422
    assert [e["line"] for e in response.get_json()["errors"]] == [5]
    good = client.post(f"/api/portfolios/{pid}/import-broker", data=text.replace(",11,", ",4,").encode(),
                       content_type="text/csv").get_json()
    assert (good["imported"], good["not_trades"], good["not_trade_actions"]) == (2, 1, {"Deposit": 1})


def test_multipart_upload_and_refusals(client):
    pid = _portfolio(client)
    url = f"/api/portfolios/{pid}/import-broker"
    with (SAMPLES / "ibkr_flex_trades.csv").open("rb") as handle:
        response = client.post(url + "?format=ibkr", data={"file": (handle, "trades.csv")},
                               content_type="multipart/form-data")
    assert response.get_json()["imported"] == 3
    unknown = client.post(url + "?format=robinhood", data=b"x", content_type="text/csv")
    assert unknown.status_code == 422 and "schwab" in unknown.get_json()["errors"][0]["message"]
    no_custom = client.post(url + "?format=custom", data=b"x", content_type="text/csv")
    assert no_custom.status_code == 422 and "no saved custom mapping" in no_custom.get_json()["errors"][0]["message"]
    latin1 = client.post(url + "?format=schwab", data="Date\nCaf\xe9\n".encode("latin-1"), content_type="text/csv")
    assert latin1.status_code == 422 and latin1.get_json()["errors"][0]["line"] == 2
    assert client.post("/api/portfolios/9999/import-broker", data=b"x").status_code == 404
