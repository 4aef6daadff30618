"""The JSON API through Flask's test client, on a real temporary SQLite file and diskcache, demo prices."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from dashapp import create_app
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

# A Saturday: every quote taken now is valid until Monday's open, so the warm-load checks cannot race the clock.
SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)


def _imported(count: int) -> dict:
    """The import's answer when every row is new and none looks wrong (issue 15: always all three keys)."""
    return {"imported": count, "skipped_duplicates": 0, "warnings": []}


class CountingDemo(DemoProvider):
    """The demo provider, counting each upstream request and symbol."""

    def __init__(self, clock: MarketClock, **kwargs):
        super().__init__(clock, **kwargs)
        self.calls = 0
        self.symbols: list[str] = []
        self._count_lock = threading.Lock()

    def fetch(self, requests):
        with self._count_lock:
            self.calls += 1
            self.symbols.extend(r.ticker for r in requests)
        return super().fetch(requests)


@pytest.fixture
def env(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, price_wait_s=5.0, max_upload_bytes=64 * 1024,
    )
    clock = MarketClock(now=lambda: SATURDAY)
    provider = CountingDemo(clock, fail_symbols=frozenset({"DEAD"}))
    services = build_services(settings, clock=clock, provider=provider)
    app = create_app(settings, services)
    yield app.server.test_client(), services, provider
    services.close()


def _portfolio(client, name="Test") -> int:
    response = client.post("/api/portfolios", json={"name": name})
    assert response.status_code == 201
    return response.get_json()["portfolio"]["id"]


LEDGER_CSV = """date,ticker,type,quantity,price,fees,note
2025-01-06,AAPL,BUY,10,100,5,first
2025-02-03,AAPL,BUY,10,120,5,
2025-03-03,AAPL,SELL,5,130,5,trim
2025-04-01,MSFT,BUY,4,250,0,
2025-05-01,MSFT,DIVIDEND,4,0.5,,
"""


def test_portfolio_crud(env):
    client, _, _ = env
    pid = _portfolio(client, "Retirement")
    listed = client.get("/api/portfolios").get_json()["portfolios"]
    assert listed == [{"id": pid, "name": "Retirement", "base_currency": "USD", "benchmark": "^GSPC"}]
    assert client.delete(f"/api/portfolios/{pid}").status_code == 204
    assert client.get("/api/portfolios").get_json()["portfolios"] == []
    assert client.delete(f"/api/portfolios/{pid}").status_code == 404


def test_transactions_add_list_delete(env):
    client, _, _ = env
    pid = _portfolio(client)
    created = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-06", "ticker": "aapl", "type": "buy", "quantity": 10, "price": "100.25", "fees": 1})
    assert created.status_code == 201
    txn = created.get_json()["transaction"]
    assert (txn["ticker"], txn["type"], txn["quantity"], txn["price"], txn["fees"]) == ("AAPL", "BUY", 10, 100.25, 1)
    listed = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    assert [t["id"] for t in listed] == [txn["id"]]
    assert client.delete(f"/api/portfolios/{pid}/transactions/{txn['id']}").status_code == 204
    assert client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"] == []


def test_invalid_transaction_names_each_field(env):
    client, _, _ = env
    pid = _portfolio(client)
    response = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-13-01", "ticker": "AAPL", "type": "HOLD", "quantity": -1, "price": 10})
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"date", "type", "quantity"} <= fields


def test_selling_more_than_held_is_422(env):
    client, _, _ = env
    pid = _portfolio(client)
    client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-06", "ticker": "AAPL", "type": "BUY", "quantity": 3, "price": 10})
    response = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-07", "ticker": "AAPL", "type": "SELL", "quantity": 4, "price": 10})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "quantity"


def _buy(client, pid: int, day: str, quantity, ticker: str = "AAPL", kind: str = "BUY") -> dict:
    response = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": day, "ticker": ticker, "type": kind, "quantity": quantity, "price": 10})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["transaction"]


def test_patch_changes_a_transaction(env):
    client, _, _ = env
    pid = _portfolio(client)
    bought = _buy(client, pid, "2025-01-06", 10)
    response = client.patch(f"/api/portfolios/{pid}/transactions/{bought['id']}", json={
        "date": "2025-01-07", "ticker": "msft", "type": "buy", "quantity": "12", "price": 101.5, "fees": 1,
        "note": "fixed"})
    assert response.status_code == 200
    assert response.get_json() == {"transaction": {
        "id": bought["id"], "date": "2025-01-07", "ticker": "MSFT", "type": "BUY", "quantity": 12, "price": 101.5,
        "fees": 1, "note": "fixed", "currency": None, "fx_rate": None, "time": None}}
    partial = client.patch(f"/api/portfolios/{pid}/transactions/{bought['id']}", json={"note": ""})
    assert partial.status_code == 200 and partial.get_json()["transaction"]["note"] == ""
    assert partial.get_json()["transaction"]["quantity"] == 12  # what was not sent stays
    listed = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    assert listed == [partial.get_json()["transaction"]]


def test_post_in_pence_stores_pounds_and_patch_sets_the_rate(env):
    client, services, _ = env
    pid = _portfolio(client)
    created = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-06", "ticker": "VOD.L", "type": "BUY", "quantity": 100, "price": 1234.5, "fees": "250",
        "currency": "GBp"})
    assert created.status_code == 201, created.get_json()
    txn = created.get_json()["transaction"]
    # 1234.5 pence = 12.345 pounds, 250 pence = 2.5 pounds; no rate given: null.
    assert {k: txn[k] for k in ("price", "fees", "currency", "fx_rate")} == {
        "price": 12.345, "fees": 2.5, "currency": "GBP", "fx_rate": None}
    [stored] = services.ledger.list_transactions(pid)
    assert (str(stored.price), str(stored.fees), stored.currency) == ("12.345", "2.5", "GBP")  # exact decimals

    url = f"/api/portfolios/{pid}/transactions/{txn['id']}"
    patched = client.patch(url, json={"fx_rate": "1.2687"})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["transaction"] == {**txn, "fx_rate": 1.2687}
    assert client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"] == [
        patched.get_json()["transaction"]]
    assert str(services.ledger.list_transactions(pid)[0].fx_rate) == "1.2687"

    exported = client.get(f"/api/portfolios/{pid}/export").get_data(as_text=True)
    assert exported.splitlines() == ["date,ticker,type,quantity,price,fees,note,currency,fx_rate",
                                     "2025-01-06,VOD.L,BUY,100,12.345,2.5,,GBP,1.2687"]

    unset = client.patch(url, json={"currency": None, "fx_rate": None})
    assert unset.status_code == 200
    assert unset.get_json()["transaction"] == {**txn, "currency": None, "fx_rate": None}


@pytest.mark.parametrize(("body", "fragment"), [
    ({"fx_rate": 0}, "greater than 0"),
    ({"fx_rate": -1.2}, "negative"),
    ({"fx_rate": "about 1.1"}, "not a number"),
    ({"fx_rate": [1.1]}, "must be a number"),
])
def test_a_bad_fx_rate_is_422_naming_it_on_post_and_patch(env, body, fragment):
    client, _, _ = env
    pid = _portfolio(client)
    base = {"date": "2025-01-06", "ticker": "SAP.DE", "type": "BUY", "quantity": 1, "price": 180, "currency": "EUR"}
    response = client.post(f"/api/portfolios/{pid}/transactions", json={**base, **body})
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["field"] == "fx_rate" and fragment in error["message"]
    added = client.post(f"/api/portfolios/{pid}/transactions", json=base).get_json()["transaction"]
    response = client.patch(f"/api/portfolios/{pid}/transactions/{added['id']}", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["fx_rate"]
    assert client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"] == [added]


def test_a_bad_currency_is_422_naming_it(env):
    client, _, _ = env
    pid = _portfolio(client)
    response = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-06", "ticker": "SAP.DE", "type": "BUY", "quantity": 1, "price": 180, "currency": "euro"})
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["currency"]


def test_the_description_documents_currency_and_rate(env):
    client, _, _ = env
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for name in ("Transaction", "TransactionInput", "TransactionPatch"):
        assert {"currency", "fx_rate"} <= set(schemas[name]["properties"]), name
    assert {"currency", "fx_rate"} <= set(schemas["Transaction"]["required"])  # always there, null when unset
    assert "currency" not in schemas["TransactionInput"]["required"]


def test_patch_refuses_bad_fields_and_short_sells_with_422_changing_nothing(env):
    client, _, _ = env
    pid = _portfolio(client)
    bought = _buy(client, pid, "2025-01-06", 10)
    sold = _buy(client, pid, "2025-03-03", 8, kind="SELL")
    before = client.get(f"/api/portfolios/{pid}/transactions").get_json()
    url = f"/api/portfolios/{pid}/transactions/{bought['id']}"
    response = client.patch(url, json={"date": "2025-02-30", "quantity": "lots"})
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"date", "quantity"}
    response = client.patch(url, json={"quantity": 7})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "transaction rejected"
    assert body["errors"] == [{"field": "quantity", "message": f"would leave the SELL (id {sold['id']}) short: it "
                                                               "sells 8 AAPL on 2025-03-03 but only 7 are held then"}]
    assert client.get(f"/api/portfolios/{pid}/transactions").get_json() == before


def test_patch_of_an_unknown_or_another_portfolios_transaction_is_404(env):
    client, _, _ = env
    pid, other = _portfolio(client), _portfolio(client, "Other")
    mine, theirs = _buy(client, pid, "2025-01-06", 1), _buy(client, other, "2025-01-06", 1)
    for url in (f"/api/portfolios/{pid}/transactions/{theirs['id']}", f"/api/portfolios/{pid}/transactions/999999",
                f"/api/portfolios/999/transactions/{mine['id']}", f"/api/portfolios/{pid}/transactions/{2**70}"):
        for body in ({"quantity": 2}, "not json"):  # 404 whatever the body
            response = client.patch(url, json=body) if isinstance(body, dict) else client.patch(
                url, data=body, content_type="application/json")
            assert response.status_code == 404, (url, body)
            assert response.is_json and response.get_json()["error"]
    assert client.get(f"/api/portfolios/{other}/transactions").get_json()["transactions"] == [theirs]
    bad = client.patch(f"/api/portfolios/{pid}/transactions/{mine['id']}", data="[1]", content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"]


def test_duplicate_portfolio_names_are_422(env):
    client, _, _ = env
    pid = _portfolio(client, "Retirement")
    for response in (client.post("/api/portfolios", json={"name": " retirement "}),
                     client.patch(f"/api/portfolios/{_portfolio(client, 'Play')}", json={"name": "RETIREMENT"})):
        assert response.status_code == 422
        assert response.get_json() == {"error": "invalid portfolio", "errors": [
            {"field": "name", "message": "a portfolio named \u201cRetirement\u201d exists already"}], "error_count": 1}
    assert client.patch(f"/api/portfolios/{pid}", json={"name": "retirement"}).status_code == 200
    names = [p["name"] for p in client.get("/api/portfolios").get_json()["portfolios"]]
    assert names == ["retirement", "Play"]


def test_import_export_round_trip(env):
    client, _, _ = env
    pid = _portfolio(client)
    response = client.post(f"/api/portfolios/{pid}/import", data=LEDGER_CSV, content_type="text/csv")
    assert response.status_code == 200
    assert response.get_json() == _imported(5)  # no warnings: an empty list
    exported = client.get(f"/api/portfolios/{pid}/export")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    other = _portfolio(client, "Copy")
    assert client.post(f"/api/portfolios/{other}/import", data=exported.data).get_json() == _imported(5)

    def strip_ids(rows):
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]

    first = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    second = client.get(f"/api/portfolios/{other}/transactions").get_json()["transactions"]
    assert strip_ids(first) == strip_ids(second)


def test_import_with_a_bad_row_imports_nothing(env):
    client, _, _ = env
    pid = _portfolio(client)
    bad = LEDGER_CSV + "2025-06-01,AAPL,BUY,abc,10,,\n"
    response = client.post(f"/api/portfolios/{pid}/import", data=bad, content_type="text/csv")
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"][0]["line"] == 7  # header is line 1, five good rows, the bad one is line 7
    assert body["errors"][0]["field"] == "quantity"
    assert client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"] == []


def test_import_rejects_non_utf8_and_oversized_bodies(env):
    client, _, _ = env
    pid = _portfolio(client)
    latin1 = "date,ticker,type,quantity,price\n2025-01-06,AAPL,BUY,1,10\n2025-01-07,AAPL,BUY,1,10,\xe9\n"
    response = client.post(f"/api/portfolios/{pid}/import", data=latin1.encode("latin-1"))
    assert response.status_code == 422
    assert response.get_json()["errors"][0] == {"line": 3, "field": "file",
                                               "message": response.get_json()["errors"][0]["message"]}
    huge = b"date,ticker,type,quantity,price\n" + b"2025-01-06,AAPL,BUY,1,10\n" * 5000
    response = client.post(f"/api/portfolios/{pid}/import", data=huge)
    assert response.status_code == 413
    assert "limit" in response.get_json()["error"]


@pytest.mark.parametrize("path", [
    "/api/portfolios/999/transactions",
    "/api/dashboard-initial-data/999",
    "/api/dashboard-holdings-data/999",
    "/api/dashboard-chart-data/999",
    "/api/chart-generator-progress/999",
    "/api/portfolios/999/export",
    "/api/dashboard-initial-data/abc",
    "/api/no-such-endpoint",
])
def test_unknown_things_are_json_404(env, path):
    client, _, _ = env
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json and "error" in response.get_json()


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/api/portfolios", "GET, POST"),
    ("DELETE", "/api/dashboard-initial-data/1", "GET"),
    ("POST", "/api/portfolios/1/export", "GET"),
    ("PUT", "/api/portfolios/1/transactions/1", "DELETE, PATCH"),
    ("PATCH", "/api/portfolios/1/transactions", "GET, POST"),
])
def test_a_known_path_with_a_wrong_method_is_json_405_naming_the_right_ones(env, method, path, allowed):
    client, _, _ = env
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.is_json and allowed in response.get_json()["error"]


def test_an_unknown_path_stays_404_whatever_the_method(env):
    client, _, _ = env
    assert client.delete("/api/no-such-endpoint").status_code == 404
    assert client.put("/api/portfolios/1/nothing-here").status_code == 404


def test_malformed_bodies_are_json_400(env):
    client, _, _ = env
    response = client.post("/api/portfolios", data="not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]
    pid = _portfolio(client)
    response = client.get(f"/api/dashboard-chart-data/{pid}?range=2W")
    assert response.status_code == 400
    assert "range" in response.get_json()["error"]


def test_dashboard_payloads_cold_then_warm(env):
    client, _, provider = env
    pid = _portfolio(client)
    client.post(f"/api/portfolios/{pid}/import", data=LEDGER_CSV)

    initial = client.get(f"/api/dashboard-initial-data/{pid}").get_json()
    assert set(initial) == {"portfolio", "summary", "prices", "market"}
    assert initial["market"]["exchange"] == "XNYS" and initial["market"]["is_open"] is False
    # Hand-computed from LEDGER_CSV: AAPL 20 bought for 10*100+5 + 10*120+5 = 2210, 5 sold at average
    # 110.50 -> 552.50 leaves 1657.50; MSFT 4*250 = 1000. Realized: 5*130 - 5 - 552.50 = 92.50. Dividend 4*0.5 = 2.
    assert initial["summary"]["cost_basis"] == 2657.50
    assert initial["summary"]["realized_gain"] == 92.50
    assert initial["summary"]["dividends"] == 2.00
    assert initial["summary"]["holdings_count"] == 2
    assert initial["summary"]["currency"] == "USD"  # the portfolio's base currency, from the one Summary model
    schema = client.get("/api/openapi.json").get_json()["components"]["schemas"]["Summary"]
    assert "currency" in schema["properties"] and "currency" in schema["required"]

    holdings = client.get(f"/api/dashboard-holdings-data/{pid}").get_json()
    tickers = {row["ticker"]: row for row in holdings["holdings"]}
    assert set(tickers) == {"AAPL", "MSFT"}
    assert tickers["AAPL"]["quantity"] == 15 and tickers["AAPL"]["avg_cost"] == 110.5
    assert holdings["prices"]["status"] == "market_closed"  # fetched on a Saturday: the Friday close holds
    # A cold load fetches each open ticker once (the chart the import set off may have asked for its benchmark).
    assert sorted(s for s in provider.symbols if s != "^GSPC") == ["AAPL", "MSFT"]
    assert round(sum(row["weight"] for row in holdings["holdings"]), 6) == 1.0

    chart = client.get(f"/api/dashboard-chart-data/{pid}?range=MAX")
    assert chart.status_code == 200
    series = chart.get_json()["series"]
    assert series["dates"][0] == "2025-01-06" and series["dates"][-1] == "2025-11-28"
    assert series["cost_basis"][0] == 1005.0  # 10 * 100 + 5 on the first day
    # Issue 16: the return lines on the same dates, from 0 on the first day, and the range's returns; the
    # benchmark's history was fetched once, with the chart's other prices.
    assert len(series["twr"]) == len(series["benchmark"]) == len(series["dates"])
    assert series["twr"][0] == 0.0 and series["benchmark"][0] == 0.0
    assert chart.get_json()["returns"]["benchmark"] == "^GSPC"
    assert isinstance(chart.get_json()["returns"]["benchmark_twr"], float)
    assert sorted(provider.symbols) == ["AAPL", "MSFT", "^GSPC"]

    calls_before = provider.calls
    for path in (f"/api/dashboard-initial-data/{pid}", f"/api/dashboard-holdings-data/{pid}",
                 f"/api/dashboard-chart-data/{pid}?range=1Y", f"/api/chart-generator-progress/{pid}"):
        assert client.get(path).status_code == 200
    assert provider.calls == calls_before  # a warm load asks the price source nothing


def test_missing_prices_are_reported_not_invented(env):
    client, _, _ = env
    pid = _portfolio(client)
    client.post(f"/api/portfolios/{pid}/import",
                data="date,ticker,type,quantity,price\n2025-01-06,DEAD,BUY,1,10\n2025-01-06,AAPL,BUY,1,10\n")
    holdings = client.get(f"/api/dashboard-holdings-data/{pid}").get_json()
    dead = next(row for row in holdings["holdings"] if row["ticker"] == "DEAD")
    assert dead["price"] is None and dead["market_value"] is None and dead["price_status"] == "missing"
    assert holdings["prices"]["status"] == "partial"
    assert holdings["prices"]["missing"] == ["DEAD"]


def test_healthz_and_metrics(env):
    client, _, _ = env
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "ok" and body["checks"] == {"database": True, "cache": True}
    assert set(body["scheduler"]) == {"leader_pid", "warmup_runs", "last_warmup"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.get_data(as_text=True)
    assert "stocktracker_upstream_requests_total" in text
    assert "stocktracker_upstream_symbols_total" in text


def test_server_timing_header(env):
    client, _, _ = env
    response = client.get("/api/portfolios")
    assert response.headers["Server-Timing"].startswith("app;dur=")


def test_dash_callbacks_are_timed_per_output(env):
    client, _, _ = env
    body = {"output": "summary-market-value.children", "outputs": {"id": "summary-market-value",
            "property": "children"}, "inputs": [], "changedPropIds": []}
    client.post("/_dash-update-component", json=body)  # whatever Dash answers, the latency is recorded
    text = client.get("/metrics").get_data(as_text=True)
    assert 'stocktracker_request_seconds_count{endpoint="callback:summary-market-value.children"}' in text


# -- input limits (issue 13, item 6) ------------------------------------------------------------------------------
LIMIT = 64 * 1024  # the env fixture's max_upload_bytes


def test_an_import_of_many_bad_rows_names_a_hundred_errors_and_counts_them_all(env):
    client, _, _ = env
    pid = _portfolio(client)
    bad = "date,ticker,type,quantity,price,fees,note\n" + "1-1,a b,NOPE,q,p,f,n\n" * 3000  # 6 errors a row
    response = client.post(f"/api/portfolios/{pid}/import", data=bad, content_type="text/csv")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "3000 rows rejected"
    assert body["error_count"] == 18_000
    assert len(body["errors"]) == 100
    assert body["errors"][0] == {"line": 2, "field": "date", "message": "must be a date YYYY-MM-DD, got '1-1'"}
    assert len(response.data) < 12_000  # once every one of 18,000 errors: about 1.3 MB
    assert client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"] == []


def test_a_refused_value_is_quoted_short_whatever_was_sent(env):
    client, _, _ = env
    pid = _portfolio(client)
    response = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": [0] * 5000, "ticker": "x " * 5000, "type": {"a": [1, 2]}, "quantity": 1, "price": 1})
    assert response.status_code == 422
    messages = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert messages["date"] == "must be a date YYYY-MM-DD, got a list"
    assert messages["type"] == "must be one of BUY, SELL, DIVIDEND, SPLIT, got an object"
    assert len(messages["ticker"]) < 100
    assert response.get_json()["error_count"] == 3


@pytest.mark.parametrize("body", [b"[" * 30_000 + b"]" * 30_000, b'{"name": ' + b"[" * 80 + b"]" * 80 + b"}",
                                  b"{not json"], ids=["30k-levels", "80-levels", "malformed"])
def test_deep_or_malformed_json_is_400_on_the_api_and_dash_callbacks(env, body):
    client, _, _ = env
    pid = _portfolio(client)
    for path in ("/api/portfolios", f"/api/portfolios/{pid}/transactions", "/_dash-update-component"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code, response.data[:200])
        assert response.get_json()["error"], path


def _upload_callback(client, pid: int, csv_text: str) -> dict:
    """The body dcc.Upload's callback sends for `csv_text` (found in /_dash-dependencies, as the renderer does)."""
    import base64

    [spec] = [c for c in client.get("/_dash-dependencies").get_json()
              if {"id": "csv-upload", "property": "contents"} in c["inputs"]]
    outputs = [dict(zip(("id", "property"), part.split("@")[0].rsplit(".", 1), strict=True))
               for part in spec["output"].strip(".").split("...")]
    values = {"csv-upload.filename": "upload.csv", "current-portfolio.data": {"id": pid, "name": "Test"},
              "transactions-version.data": 0}
    contents = "data:text/csv;base64," + base64.b64encode(csv_text.encode()).decode()
    return {"output": spec["output"], "outputs": outputs, "changedPropIds": ["csv-upload.contents"],
            "inputs": [{"id": "csv-upload", "property": "contents", "value": contents}],
            # State the page added since (the broker format, say) goes unset: its default.
            "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]]}


def test_a_file_at_the_limit_imports_through_the_upload_callback_but_not_a_byte_more(env):
    client, _, _ = env
    pid = _portfolio(client)
    row = "2025-01-06,AAPL,BUY,1,10,,\n"
    head = "date,ticker,type,quantity,price,fees,note\n"
    rows = (LIMIT - len(head)) // len(row)
    csv_text = head + row * rows
    csv_text += "\n" * (LIMIT - len(csv_text))  # exactly the limit
    body = _upload_callback(client, pid, csv_text)
    sent = json.dumps(body).encode()
    assert len(sent) > LIMIT * 4 // 3  # the base64 inside: once a 413 (the callback route had the file limit)
    response = client.post("/_dash-update-component", data=sent, content_type="application/json")
    assert response.status_code == 200, response.data[:300]
    assert f"Imported {rows} transactions" in response.get_data(as_text=True)
    assert len(client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]) == rows
    # The same file to the API is at its limit: accepted; one byte more is a 413, for the API and the page alike.
    other = _portfolio(client, "Other")
    assert client.post(f"/api/portfolios/{other}/import", data=csv_text).get_json() == _imported(rows)
    assert client.post(f"/api/portfolios/{other}/import", data=csv_text + "\n").status_code == 413
    response = client.post("/_dash-update-component", json=_upload_callback(client, other, csv_text + "\n"))
    assert response.status_code == 200
    assert "the largest file that can be imported is 0.1 MB" in response.get_data(as_text=True)
    assert len(client.get(f"/api/portfolios/{other}/transactions").get_json()["transactions"]) == rows


# --- issue 14: the base currency and import warnings ------------------------------------------------------------

def test_patch_base_currency_changes_it_and_the_version(env):
    client, services, _ = env
    pid = _portfolio(client, "Main")
    version = services.ledger.version(pid)
    response = client.patch(f"/api/portfolios/{pid}", json={"base_currency": "eur"})
    assert response.status_code == 200
    assert response.get_json() == {"portfolio": {"id": pid, "name": "Main", "base_currency": "EUR",
                                                  "benchmark": "^GSPC"}}
    assert client.get("/api/portfolios").get_json()["portfolios"] == [
        {"id": pid, "name": "Main", "base_currency": "EUR", "benchmark": "^GSPC"}]
    assert services.ledger.version(pid) == version + 1
    # With a name: both change.
    both = client.patch(f"/api/portfolios/{pid}", json={"name": "Europe", "base_currency": "CHF"})
    assert both.get_json()["portfolio"] == {"id": pid, "name": "Europe", "base_currency": "CHF",
                                            "benchmark": "^GSPC"}
    assert services.ledger.version(pid) == version + 2
    # Not a currency, not a string, nothing to change: 422, nothing changed (the name neither).
    for body, field in (({"base_currency": "EURO", "name": "X"}, "base_currency"),
                        ({"base_currency": 12}, "base_currency"),
                        ({"base_currency": "EUR", "clear_fx_rates": "yes"}, "clear_fx_rates"),
                        ({"clear_fx_rates": True}, "name")):
        refused = client.patch(f"/api/portfolios/{pid}", json=body)
        assert refused.status_code == 422, body
        assert [e["field"] for e in refused.get_json()["errors"]] == [field]
    assert client.get("/api/portfolios").get_json()["portfolios"][0]["name"] == "Europe"
    assert client.patch("/api/portfolios/999", json={"base_currency": "EUR"}).status_code == 404


def test_patch_base_currency_with_stored_rates_needs_clear_fx_rates(env):
    client, services, _ = env
    pid = _portfolio(client)
    csv_text = ("date,ticker,type,quantity,price,currency,fx_rate\n"
                "2025-01-06,SAP.DE,BUY,2,180,EUR,1.04\n"
                "2025-01-07,AAPL,BUY,1,240,,\n")
    assert client.post(f"/api/portfolios/{pid}/import", data=csv_text).get_json() == _imported(2)
    version = services.ledger.version(pid)
    refused = client.patch(f"/api/portfolios/{pid}", json={"base_currency": "EUR"})
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == [{
        "field": "base_currency",
        "message": "1 transaction carries an fx_rate into USD; send clear_fx_rates: true to drop them"}]
    assert client.get("/api/portfolios").get_json()["portfolios"][0]["base_currency"] == "USD"
    assert services.ledger.version(pid) == version
    done = client.patch(f"/api/portfolios/{pid}", json={"base_currency": "EUR", "clear_fx_rates": True})
    assert done.status_code == 200 and done.get_json()["portfolio"]["base_currency"] == "EUR"
    rows = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    assert [(r["ticker"], r.get("currency"), r.get("fx_rate")) for r in rows] == [
        ("SAP.DE", "EUR", None), ("AAPL", None, None)]
    assert services.ledger.version(pid) == version + 1


def _cache_close(services, ticker: str, day: str, close: float) -> None:
    import pandas as pd

    bars = pd.DataFrame({"close": [close], "dividend": 0.0, "split": 1.0},
                        index=pd.DatetimeIndex(pd.to_datetime([day]), name="date"))
    services.prices.cache.put_bars(ticker, bars, dt.date.fromisoformat(day))


def test_an_import_of_a_price_in_pence_answers_a_warning_and_imports_the_row(env):
    client, services, _ = env
    pid = _portfolio(client)
    _cache_close(services, "VOD.L", "2025-06-02", 0.70)  # pounds: the cache holds the major unit
    pence = ("date,ticker,type,quantity,price\n"
             "2025-06-02,AAPL,BUY,1,200\n"
             "2025-06-02,VOD.L,BUY,1000,70\n")  # 70 / 0.70 = 100: typed in pence
    response = client.post(f"/api/portfolios/{pid}/import", data=pence, content_type="text/csv")
    assert response.status_code == 200
    assert response.get_json() == {"imported": 2, "skipped_duplicates": 0, "warnings": [
        {"line": 3, "field": "price", "message": "looks like pence; add currency GBp"}]}
    rows = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    assert [(r["ticker"], r["price"]) for r in rows] == [("AAPL", 200), ("VOD.L", 70)]
    # Said in pence: 70 GBp = 0.70 GBP, no warning. In pounds: no warning either.
    for text in ("date,ticker,type,quantity,price,currency\n2025-06-02,VOD.L,BUY,1000,70,GBp\n",
                 "date,ticker,type,quantity,price\n2025-06-02,VOD.L,BUY,1000,0.71\n",
                 "date,ticker,type,quantity,price\n2025-05-01,VOD.L,BUY,1000,70\n"):  # no close near that day
        assert client.post(f"/api/portfolios/{pid}/import", data=text).get_json() == _imported(1), text


# --- issue 15: imports that never double, every bad line at once ------------------------------------------------

def test_a_reimport_answers_every_row_skipped_and_changes_nothing(env):
    client, _, _ = env
    pid = _portfolio(client)
    text = "date,ticker,type,quantity,price\n2025-01-06,AAPL,BUY,1,10\n2025-01-06,AAPL,BUY,1,10\n"
    url = f"/api/portfolios/{pid}/import"
    assert client.post(url, data=text).get_json() == _imported(2)  # two equal buys in one file: both
    again = client.post(url, data=text)
    assert again.status_code == 200
    assert again.get_json() == {"imported": 0, "skipped_duplicates": 2, "warnings": []}
    assert len(client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]) == 2


def test_a_repeated_idempotency_key_answers_the_first_answer_and_imports_nothing(env):
    client, _, _ = env
    pid = _portfolio(client)
    url = f"/api/portfolios/{pid}/import"
    text = "date,ticker,type,quantity,price\n2025-01-06,AAPL,BUY,1,10\n"
    first = client.post(url, data=text, headers={"Idempotency-Key": "upload-7"})
    retry = client.post(url, data=text, headers={"Idempotency-Key": "upload-7"})
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.get_json() == first.get_json() == _imported(1)  # not "skipped_duplicates": 1
    other = client.post(url, data=text.replace("10", "11"), headers={"Idempotency-Key": "upload-7"})
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]) == 1


def test_format_errors_and_an_oversell_are_named_in_one_answer(env):
    client, _, _ = env
    pid = _portfolio(client)
    text = ("date,ticker,type,quantity,price\n"
            "2025-01-06,AAPL,BUY,x,10\n"       # line 2: quantity
            "2025-01-07,MSFT,SELL,5,300\n")    # line 3: MSFT never held
    response = client.post(f"/api/portfolios/{pid}/import", data=text)
    assert response.status_code == 422
    body = response.get_json()
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "quantity"), (3, "quantity")]
    assert body["error_count"] == 2


def test_a_sell_above_its_same_day_buy_and_a_ratio_split_import_over_http(env):
    client, _, _ = env
    pid = _portfolio(client)
    text = ("date,ticker,type,quantity,price\n"
            "2025-01-08,AAPL,SELL,33.33333333,30\n"   # newest first, as brokers export
            "2025-01-07,AAPL,SPLIT,1:3,\n"
            "2025-01-06,AAPL,BUY,100,10\n")
    assert client.post(f"/api/portfolios/{pid}/import", data=text).get_json() == _imported(3)
    rows = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    assert [(r["type"], r.get("ratio")) for r in rows] == [("BUY", None), ("SPLIT", "1:3"), ("SELL", None)]
    assert abs(rows[1]["quantity"] - 1 / 3) < 1e-12
    exported = client.get(f"/api/portfolios/{pid}/export").get_data(as_text=True)
    assert "2025-01-07,AAPL,SPLIT,1:3,0,0," in exported
    added = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-09", "ticker": "MSFT", "type": "SPLIT", "quantity": "2:1"})
    assert added.status_code == 201 and added.get_json()["transaction"]["ratio"] == "2:1"


def test_one_dividend_on_another_share_count_is_added_with_a_warning(env):
    client, _, _ = env
    pid = _portfolio(client)
    url = f"/api/portfolios/{pid}/transactions"
    buy = client.post(url, json={"date": "2025-01-06", "ticker": "KO", "type": "BUY", "quantity": 10, "price": 60})
    assert "warnings" not in buy.get_json()
    paid = client.post(url, json={"date": "2025-02-03", "ticker": "KO", "type": "DIVIDEND", "quantity": 1000,
                                  "price": 0.46, "fees": 69})
    assert paid.status_code == 201
    assert paid.get_json()["warnings"] == [
        {"field": "quantity", "message": "pays on 1000 shares but 10 KO are held on 2025-02-03"}]
    never = client.post(url, json={"date": "2025-02-03", "ticker": "PG", "type": "DIVIDEND", "quantity": 5,
                                   "price": 0.94})
    assert never.status_code == 422 and never.get_json()["errors"][0]["field"] == "ticker"


def test_a_repeated_post_with_an_idempotency_key_adds_one_transaction(env):
    client, _, _ = env
    pid = _portfolio(client)
    url = f"/api/portfolios/{pid}/transactions"
    body = {"date": "2025-01-06", "ticker": "AAPL", "type": "BUY", "quantity": 3, "price": 10}
    first = client.post(url, json=body, headers={"Idempotency-Key": "tap-1"})
    retry = client.post(url, json=dict(reversed(body.items())), headers={"Idempotency-Key": "tap-1"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert len(client.get(url).get_json()["transactions"]) == 1
    other = client.post(url, json={**body, "quantity": 4}, headers={"Idempotency-Key": "tap-1"})
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert client.post(url, json=body).status_code == 201  # without a key: a second, equal trade
    assert len(client.get(url).get_json()["transactions"]) == 2
