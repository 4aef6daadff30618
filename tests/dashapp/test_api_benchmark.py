"""PATCH /api/portfolios/<id> {"benchmark"} (issue 16): 200 with the new ticker and a new ledger version, 422
naming the field, 404 for a portfolio that does not exist or is someone else's; the OpenAPI describes it."""

from __future__ import annotations

import pytest

from services.accounts import Accounts
from tests.dashapp.test_access import ALICE, BOB, ORIGIN, PASSWORDS, build_app, created, log_in
from tests.dashapp.test_api import env  # noqa: F401  (the fixture)


def _portfolio(client, name: str = "Main") -> int:
    return created(client.post("/api/portfolios", json={"name": name}))["portfolio"]["id"]


def test_a_new_portfolio_is_compared_with_the_sp500(env):  # noqa: F811
    client, _, _ = env
    pid = _portfolio(client)
    assert client.get("/api/portfolios").get_json()["portfolios"] == [
        {"id": pid, "name": "Main", "base_currency": "USD", "benchmark": "^GSPC"}]
    assert client.get(f"/api/dashboard-initial-data/{pid}").get_json()["portfolio"]["benchmark"] == "^GSPC"


def test_patch_benchmark_changes_it_and_the_version(env):  # noqa: F811
    client, services, _ = env
    pid = _portfolio(client)
    version = services.ledger.version(pid)
    # The default again (however spelled) changes nothing: the chart's line would be the same.
    assert client.patch(f"/api/portfolios/{pid}", json={"benchmark": "^gspc"}).status_code == 200
    assert services.ledger.version(pid) == version
    response = client.patch(f"/api/portfolios/{pid}", json={"benchmark": " vwrl.l "})
    assert response.status_code == 200
    assert response.get_json() == {"portfolio": {"id": pid, "name": "Main", "base_currency": "USD",
                                                 "benchmark": "VWRL.L"}}  # trimmed, upper case
    assert services.ledger.version(pid) == version + 1  # charts are made again with the new line
    # The same again changes nothing; null goes back to the default (a change).
    assert client.patch(f"/api/portfolios/{pid}", json={"benchmark": "VWRL.L"}).status_code == 200
    assert services.ledger.version(pid) == version + 1
    reset = client.patch(f"/api/portfolios/{pid}", json={"benchmark": None})
    assert reset.status_code == 200 and reset.get_json()["portfolio"]["benchmark"] == "^GSPC"
    assert services.ledger.version(pid) == version + 2
    # With a name: both change.
    both = client.patch(f"/api/portfolios/{pid}", json={"name": "World", "benchmark": "URTH"})
    assert both.get_json()["portfolio"] == {"id": pid, "name": "World", "base_currency": "USD", "benchmark": "URTH"}


@pytest.mark.parametrize("body", [{"benchmark": "S&P 500"}, {"benchmark": ""}, {"benchmark": 500},
                                  {"benchmark": ["^GSPC"]}, {"benchmark": "^GSPC..X"},
                                  {"name": "Renamed", "benchmark": "not a ticker"}])
def test_a_bad_benchmark_is_422_naming_it_and_changes_nothing(env, body):  # noqa: F811
    client, services, _ = env
    pid = _portfolio(client)
    version = services.ledger.version(pid)
    refused = client.patch(f"/api/portfolios/{pid}", json=body)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert [e["field"] for e in refused.get_json()["errors"]] == ["benchmark"]
    assert client.get("/api/portfolios").get_json()["portfolios"] == [
        {"id": pid, "name": "Main", "base_currency": "USD", "benchmark": "^GSPC"}]  # the name neither
    assert services.ledger.version(pid) == version


def test_patch_benchmark_of_an_unknown_portfolio_is_404(env):  # noqa: F811
    client, _, _ = env
    assert client.patch("/api/portfolios/987654", json={"benchmark": "^GSPC"}).status_code == 404


def test_bob_cannot_change_alices_benchmark(tmp_path):
    app, services = build_app(tmp_path, auth_required=True, secret_key="a-test-secret-of-32-characters!!")
    try:
        accounts = Accounts(services.ledger)
        accounts.create_user(ALICE, PASSWORDS[ALICE])
        accounts.create_user(BOB, PASSWORDS[BOB])
        alice, bob = log_in(app, ALICE), log_in(app, BOB)
        pid = created(alice.post("/api/portfolios", json={"name": "Alice"}, headers=ORIGIN))["portfolio"]["id"]
        version = services.ledger.version(pid)
        answer = bob.patch(f"/api/portfolios/{pid}", json={"benchmark": "^IXIC"}, headers=ORIGIN)
        assert answer.status_code == 404  # as for an id that does not exist: nothing says it is alice's
        assert alice.get("/api/portfolios").get_json()["portfolios"][0]["benchmark"] == "^GSPC"
        assert services.ledger.version(pid) == version
        mine = alice.patch(f"/api/portfolios/{pid}", json={"benchmark": "^IXIC"}, headers=ORIGIN)
        assert mine.status_code == 200 and mine.get_json()["portfolio"]["benchmark"] == "^IXIC"
    finally:
        services.close()


def test_the_openapi_describes_the_benchmark(env):  # noqa: F811
    client, _, _ = env
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert "benchmark" in schemas["PortfolioRename"]["properties"]
    assert {"required": ["benchmark"]} in schemas["PortfolioRename"]["anyOf"]
    assert "benchmark" in schemas["Portfolio"]["properties"] and "benchmark" in schemas["Portfolio"]["required"]
