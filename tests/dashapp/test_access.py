"""Owner scoping and the login gate over HTTP, on an app that requires logins (DESIGN.md, "Accounts").

Two users, alice and bob, on one app (Flask test clients, a temporary SQLite file, demo prices). The tables are
built from the OpenAPI description (`openapi_spec()`), so an operation added to it is covered by default:
- every operation that takes a portfolio, transaction or token id answers bob 404, exactly as for an id that does
  not exist, and leaves alice's ledger and tokens as they were;
- without a session or token every operation answers 401 JSON (the public ones excepted), every page redirects
  to /login?next=<page>, and Dash's own routes answer 401.
Also: a deleted portfolio's id is never given to the next one (the replay memo showed its holdings to the next
owner), and a single-user run asks for no login at all. The Dash callbacks are in test_access_callbacks.py.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from dashapp import create_app
from dashapp.openapi import openapi_spec
from services.accounts import Accounts
from services.config import Settings
from services.container import Services, build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
SECRET_KEY = "a-test-secret-of-32-characters!!"
ORIGIN = {"Origin": "http://localhost"}  # the app's own origin: the CSRF check lets cookie-authenticated writes in
ALICE, BOB = "alice@example.com", "bob@example.com"
PASSWORDS = {ALICE: "alice's long passphrase", BOB: "bob's long passphrase"}
MISSING_PID, MISSING_TID, MISSING_TOKEN = 987654, 876543, 765432  # ids nothing has

# Alice's ledger. Her name, tickers and note are unusual words, so finding one in bob's answers is a leak.
ALICE_NAME = "Alice Zephyr Savings"
ALICE_TICKERS = ("QZAL", "QZBM")
ALICE_NOTE = "alice-private-note"
ALICE_CSV = ("date,ticker,type,quantity,price,fees,note\n"
             f"2025-01-06,QZAL,BUY,37,123.45,1.5,{ALICE_NOTE}\n"
             "2025-02-03,QZBM,BUY,12,88.80,0,\n")
# Hand-computed: QZAL 37 x 123.45 + 1.50 = 4569.15; QZBM 12 x 88.80 = 1065.60; together 5634.75.
ALICE_COST_BASIS = {"QZAL": 4569.15, "QZBM": 1065.60}
ALICE_TOTAL_COST = 5634.75

# What bob sends: a valid body for each request schema, so a write would succeed if the id were his.
BOB_TRANSACTION = {"date": "2025-03-03", "ticker": "BOBT", "type": "BUY", "quantity": 1, "price": 150, "fees": 0}
BOB_CSV = "date,ticker,type,quantity,price\n2025-03-03,BOBT,BUY,1,150\n"
JSON_BODIES: dict[str, dict] = {
    "PortfolioInput": {"name": "Bob was here"},
    "PortfolioRename": {"name": "Renamed by bob"},
    "TransactionInput": BOB_TRANSACTION,
    "TransactionPatch": {"ticker": "BOBT", "quantity": 1},
    "TokenInput": {"name": "bob's token"},
    "Login": {"email": ALICE, "password": PASSWORDS[ALICE]},
    "ImportMapping": {"format": "schwab"},
}
ID_PARAMETERS = ("{portfolio_id}", "{transaction_id}", "{token_id}")

# The session and token routes (DESIGN.md, "Accounts"): added to the tables when the description lacks them.
ACCOUNT_ROUTES = [("POST", "/api/session"), ("GET", "/api/session"), ("DELETE", "/api/session"),
                  ("GET", "/api/tokens"), ("POST", "/api/tokens"), ("DELETE", "/api/tokens/{token_id}")]
ACCOUNT_BODIES = {("POST", "/api/session"): {"email": ALICE, "password": PASSWORDS[ALICE]},
                  ("POST", "/api/tokens"): {"name": "bob's token"}}


# -- building the app --------------------------------------------------------------------------------------------
def build_app(tmp_path, **overrides: Any) -> tuple[Any, Services]:
    """The app on a temporary SQLite file and demo prices, as tests/dashapp/test_api.py builds it."""
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, price_wait_s=5.0, **overrides)
    clock = MarketClock(now=lambda: SATURDAY)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    return create_app(settings, services), services


def log_in(app, email: str) -> FlaskClient:
    client = app.server.test_client()
    response = client.post("/api/session", json={"email": email, "password": PASSWORDS[email]}, headers=ORIGIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["user"]["email"] == email
    return client


def created(response, status: int = 201) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


@dataclass
class World:
    app: Any
    services: Services
    alice: FlaskClient  # alice's session
    bob: FlaskClient  # bob's session
    bob_secret: str  # bob's API token
    alice_secret: str  # alice's API token
    pid: int  # alice's portfolio
    tid: int  # one of its transactions
    token_id: int  # alice's token
    bob_pid: int  # bob's own portfolio (with one transaction)
    market_values: dict[str, float]  # alice's holdings' market values (demo prices)

    def ids(self, who: str) -> dict[str, int]:
        return {"alice": {"portfolio_id": self.pid, "transaction_id": self.tid, "token_id": self.token_id,
                          "ticker": ALICE_TICKERS[0]},
                "missing": {"portfolio_id": MISSING_PID, "transaction_id": MISSING_TID, "token_id": MISSING_TOKEN,
                            "ticker": "NEVERHELD"},
                }[who]


def build_world(tmp_path) -> World:
    """Alice: a portfolio with two transactions, its holdings loaded and its chart generated, an API token.
    Bob: a portfolio of his own with one transaction, and an API token."""
    app, services = build_app(tmp_path, auth_required=True, secret_key=SECRET_KEY)
    accounts = Accounts(services.ledger)
    accounts.create_user(ALICE, PASSWORDS[ALICE])
    accounts.create_user(BOB, PASSWORDS[BOB])
    alice, bob = log_in(app, ALICE), log_in(app, BOB)

    pid = created(alice.post("/api/portfolios", json={"name": ALICE_NAME}, headers=ORIGIN))["portfolio"]["id"]
    imported = alice.post(f"/api/portfolios/{pid}/import", data=ALICE_CSV, content_type="text/csv", headers=ORIGIN)
    assert created(imported, 200) == {"imported": 2, "skipped_duplicates": 0, "warnings": []}
    transactions = alice.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    tid = transactions[0]["id"]
    holdings = alice.get(f"/api/dashboard-holdings-data/{pid}").get_json()["holdings"]
    assert {h["ticker"]: h["cost_basis"] for h in holdings} == ALICE_COST_BASIS
    market_values = {h["ticker"]: h["market_value"] for h in holdings}
    assert all(isinstance(v, float) for v in market_values.values()), holdings  # priced: a leak would show them
    deadline = time.monotonic() + 30
    while (chart := alice.get(f"/api/dashboard-chart-data/{pid}?range=1Y")).status_code != 200:
        assert chart.status_code == 202 and time.monotonic() < deadline, chart.get_data(as_text=True)
        time.sleep(0.1)
    token = created(alice.post("/api/tokens", json={"name": "alice laptop"}, headers=ORIGIN))

    bob_pid = created(bob.post("/api/portfolios", json={"name": "Bob Own"}, headers=ORIGIN))["portfolio"]["id"]
    created(bob.post(f"/api/portfolios/{bob_pid}/transactions", json=BOB_TRANSACTION, headers=ORIGIN))
    bob_token = created(bob.post("/api/tokens", json={"name": "bob laptop"}, headers=ORIGIN))
    return World(app, services, alice, bob, bob_token["secret"], token["secret"], pid, tid, token["token"]["id"],
                 bob_pid, market_values)


def alice_markers(world: World) -> list[str]:
    """Strings only alice's data contains: her portfolio's name, tickers, note, cost bases and market values."""
    numbers = [*ALICE_COST_BASIS.values(), ALICE_TOTAL_COST, *world.market_values.values(),
               sum(world.market_values.values())]
    shown = {f"{n:,.2f}" for n in numbers} | {f"{n:.2f}" for n in numbers} | {repr(n) for n in numbers}
    return [ALICE_NAME, *ALICE_TICKERS, ALICE_NOTE, *sorted(shown)]


def leaked(text: str, world: World) -> list[str]:
    return [marker for marker in alice_markers(world) if marker in text]


def alice_state(world: World) -> dict:
    """Everything of alice's that another user must not change, read as alice (and the ledger's version)."""
    alice = world.alice
    return {
        "portfolios": alice.get("/api/portfolios").get_json(),
        "transactions": alice.get(f"/api/portfolios/{world.pid}/transactions").get_json(),
        "export": alice.get(f"/api/portfolios/{world.pid}/export").get_data(as_text=True),
        "version": world.services.ledger.version(world.pid),
        "tokens": [(t["id"], t["name"]) for t in alice.get("/api/tokens").get_json()["tokens"]],
        "token works": alice.application.test_client().get(
            "/api/portfolios", headers={"Authorization": f"Bearer {world.alice_secret}"}).status_code,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("access"))
    yield world
    world.services.close()


# -- the operations ----------------------------------------------------------------------------------------------
def spec_operations() -> list[tuple[str, str, dict | None]]:
    """(METHOD, path, operation) of every operation the description has, then the account routes it lacks."""
    found = [(method.upper(), path, operation)
             for path, item in openapi_spec()["paths"].items()
             for method, operation in item.items() if method != "parameters"]
    described = {(method, path) for method, path, _ in found}
    return found + [(method, path, None) for method, path in ACCOUNT_ROUTES if (method, path) not in described]


def missing_from_spec() -> list[tuple[str, str]]:
    return [(method, path) for method, path, operation in spec_operations() if operation is None]


def fill(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


def request_kwargs(method: str, path: str, operation: dict | None) -> dict:
    """A valid body for the operation (JSON by its schema, or a CSV); a test fails on a schema it cannot fill."""
    if operation is None:
        body = ACCOUNT_BODIES.get((method, path))
        return {"json": body} if body is not None else {}
    content = (operation.get("requestBody") or {}).get("content")
    if not content:
        return {}
    if "application/json" in content:
        schema = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert schema in JSON_BODIES, f"{method} {path}: add a valid {schema} body to JSON_BODIES"
        return {"json": JSON_BODIES[schema]}
    assert "text/csv" in content, f"{method} {path}: no body for {sorted(content)}"
    return {"data": BOB_CSV, "content_type": "text/csv"}


def send(client: FlaskClient, method: str, path: str, operation: dict | None, headers: dict | None = None):
    return client.open(path, method=method, headers={**ORIGIN, **(headers or {})},
                       **request_kwargs(method, path, operation))


SCOPED_OPERATIONS = [(m, p, o) for m, p, o in spec_operations() if any(name in p for name in ID_PARAMETERS)]
# The operations known to take an id today: a description that drops one fails here rather than going untested.
KNOWN_SCOPED = {
    ("PATCH", "/api/portfolios/{portfolio_id}"), ("DELETE", "/api/portfolios/{portfolio_id}"),
    ("GET", "/api/portfolios/{portfolio_id}/transactions"), ("POST", "/api/portfolios/{portfolio_id}/transactions"),
    ("PATCH", "/api/portfolios/{portfolio_id}/transactions/{transaction_id}"),
    ("DELETE", "/api/portfolios/{portfolio_id}/transactions/{transaction_id}"),
    ("POST", "/api/portfolios/{portfolio_id}/import"), ("GET", "/api/portfolios/{portfolio_id}/export"),
    ("GET", "/api/dashboard-initial-data/{portfolio_id}"), ("GET", "/api/dashboard-holdings-data/{portfolio_id}"),
    ("GET", "/api/dashboard-chart-data/{portfolio_id}"), ("GET", "/api/chart-generator-progress/{portfolio_id}"),
    ("DELETE", "/api/tokens/{token_id}"),
}


def test_the_scoped_table_covers_every_operation_known_to_take_an_id():
    assert {(m, p) for m, p, _ in SCOPED_OPERATIONS} >= KNOWN_SCOPED
    assert len(SCOPED_OPERATIONS) >= 13


def _bob_headers(world: World, via: str) -> dict:
    return {"Authorization": f"Bearer {world.bob_secret}"} if via == "token" else {}


def _bob_client(world: World, via: str) -> FlaskClient:
    return world.bob if via == "session" else world.app.server.test_client()


def _same_as_missing(response, missing, world: World, ids: dict[str, int]) -> None:
    """Bob's answer for alice's id is the answer for an id that does not exist, but for the id itself."""
    assert response.status_code == 404, (response.status_code, response.get_data(as_text=True))
    assert response.is_json and set(response.get_json()) == {"error"}
    assert (missing.status_code, missing.is_json, set(missing.get_json() or {})) == (404, True, {"error"})
    expected = missing.get_json()["error"]
    for name, value in world.ids("missing").items():
        expected = re.sub(rf"\b{value}\b", str(ids[name]), expected)
    assert response.get_json()["error"] == expected
    assert leaked(response.get_data(as_text=True), world) == []


@pytest.mark.parametrize("via", ["session", "token"])
def test_another_users_ids_answer_404_as_ids_that_do_not_exist_and_change_nothing(world, via):
    before = alice_state(world)
    client, headers = _bob_client(world, via), _bob_headers(world, via)
    checked = []
    for method, path, operation in SCOPED_OPERATIONS:
        cases = [world.ids("alice")]
        if "{transaction_id}" in path:  # alice's transaction under bob's own portfolio: not bob's either
            cases.append({**world.ids("alice"), "portfolio_id": world.bob_pid})
        for ids in cases:
            response = send(client, method, fill(path, ids), operation, headers)
            absent = {**world.ids("missing"), **({"portfolio_id": ids["portfolio_id"]}
                                                 if ids["portfolio_id"] == world.bob_pid else {})}
            missing = send(client, method, fill(path, absent), operation, headers)
            _same_as_missing(response, missing, world, ids)
            checked.append((method, path))
        assert alice_state(world) == before, f"{method} {path} by bob changed alice's data"
    assert len(checked) >= 15  # 13 operations, 2 of them also with bob's own portfolio
    # Bob's own things still answer him: the 404s above are not a broken client.
    assert client.get(f"/api/portfolios/{world.bob_pid}/transactions", headers=headers).status_code == 200


def test_alice_reaches_every_scoped_read_with_the_same_requests(world):
    """The control of the test above: the same requests, sent by alice, find her data (so bob's 404s mean
    something). Only the reads: alice's writes would change what the other tests compare."""
    for method, path, operation in SCOPED_OPERATIONS:
        if method != "GET":
            continue
        response = send(world.alice, method, fill(path, world.ids("alice")), operation)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
    holdings = world.alice.get(f"/api/dashboard-holdings-data/{world.pid}").get_data(as_text=True)
    assert set(leaked(holdings, world)) >= {*ALICE_TICKERS, repr(ALICE_COST_BASIS["QZAL"])}


def test_bobs_list_never_shows_alices_portfolio(world):
    for headers in ({}, _bob_headers(world, "token")):
        client = world.bob if not headers else world.app.server.test_client()
        listed = client.get("/api/portfolios", headers=headers).get_json()["portfolios"]
        assert [p["id"] for p in listed] == [world.bob_pid]
        assert [t["name"] for t in client.get("/api/tokens", headers=headers).get_json()["tokens"]] == ["bob laptop"]


# -- anonymous requests ------------------------------------------------------------------------------------------
PUBLIC = {("POST", "/api/session"), ("GET", "/healthz"), ("GET", "/metrics")}


def test_without_a_session_or_token_every_operation_answers_401(world):
    before = alice_state(world)
    anonymous = world.app.server.test_client()
    refused = []
    for method, path, operation in spec_operations():
        if (method, path) in PUBLIC:
            continue
        response = send(anonymous, method, fill(path, world.ids("alice")), operation)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.is_json and set(response.get_json()) == {"error"}, (method, path)
        refused.append((method, path))
    # 15 described (the public /healthz and /metrics aside) and the account routes: a description that loses its
    # paths fails here.
    assert len(refused) >= 15 + len(ACCOUNT_ROUTES) - 1
    for method in ("GET", "POST", "DELETE"):  # an unknown API path says nothing more than 401 either
        assert anonymous.open("/api/no-such-thing", method=method, headers=ORIGIN).status_code == 401
    assert alice_state(world) == before


def test_without_a_session_every_route_of_the_server_is_refused(world):
    """Beyond the description: every rule of the Flask server (Dash's own, the account routes, any added later),
    its parameters filled, refuses an anonymous caller: 401 JSON, or for a page a redirect to the login."""
    from dashapp.auth import PUBLIC_PATHS, PUBLIC_PREFIXES

    anonymous = world.app.server.test_client()
    checked = 0
    for rule in world.app.server.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(world.ids("alice").get(m.group(1), world.pid)), rule.rule)
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, path) in PUBLIC:
                continue
            response = anonymous.open(path, method=method, headers=ORIGIN)
            if method == "GET" and not path.startswith(("/api/", "/_dash-")):
                assert response.status_code == 302, (method, path, response.status_code)
                assert response.headers["Location"] == f"/login?next={path}"
            else:
                assert response.status_code == 401, (method, path, response.status_code)
                assert set(response.get_json()) == {"error"}, (method, path)
            checked += 1
    assert checked >= 30


def test_the_public_operations_tell_anonymous_callers_nothing_more(world):
    anonymous = world.app.server.test_client()
    health = anonymous.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}
    metrics = anonymous.get("/metrics")
    assert metrics.status_code == 404 and set(metrics.get_json()) == {"error"}  # no METRICS_TOKEN: no /metrics
    wrong = anonymous.post("/api/session", json={"email": ALICE, "password": "not her password"}, headers=ORIGIN)
    assert wrong.status_code == 401 and set(wrong.get_json()) == {"error"}
    assert anonymous.get("/api/portfolios").status_code == 401  # a failed login starts no session
    assert anonymous.get("/login").status_code == 200


def test_the_logged_in_health_check_has_its_details(world):
    # The control of the test above: the anonymous answer was cut down, not empty by nature.
    assert {"status", "checks", "scheduler"} <= set(world.alice.get("/healthz").get_json())


def _pages(world: World) -> list[str]:
    return ["/", "/transactions", f"/portfolio/{world.pid}", f"/transactions?portfolio={world.pid}", "/no-such-page",
            f"/portfolio/{MISSING_PID}"]


def test_without_a_session_every_page_redirects_to_login(world):
    anonymous = world.app.server.test_client()
    for page in _pages(world):
        response = anonymous.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"] == f"/login?next={page}"
        assert ALICE_NAME not in response.get_data(as_text=True)


def test_with_a_session_the_pages_are_served_to_their_owner_only(world):
    """The first layout (/_dash-layout, for the page the Referer names) carries the portfolio: alice's pages show
    her portfolio to her; to bob they are the pages of a portfolio that does not exist (404, her name absent)."""
    for page in (f"/portfolio/{world.pid}", f"/transactions?portfolio={world.pid}"):
        assert world.alice.get(page).status_code == 200
        layout = world.alice.get("/_dash-layout", headers={"Referer": "http://localhost" + page})
        assert ALICE_NAME in layout.get_data(as_text=True), page
        assert world.bob.get(page).status_code == 404, page
        for referrer in (page, "/", "/transactions"):
            layout = world.bob.get("/_dash-layout", headers={"Referer": "http://localhost" + referrer})
            assert layout.status_code == 200 and leaked(layout.get_data(as_text=True), world) == [], referrer
        assert "Bob Own" in layout.get_data(as_text=True)  # the control: bob's layout shows his own


def test_without_a_session_dashs_routes_answer_401(world):
    anonymous = world.app.server.test_client()
    for path in ("/_dash-layout", "/_dash-dependencies"):
        response = anonymous.get(path)
        assert response.status_code == 401 and set(response.get_json()) == {"error"}, path
    body = {"output": "transactions-table.rowData", "outputs": {"id": "transactions-table", "property": "rowData"},
            "inputs": [{"id": "current-portfolio", "property": "data", "value": {"id": world.pid}}], "state": [],
            "changedPropIds": ["current-portfolio.data"]}
    response = anonymous.post("/_dash-update-component", json=body, headers=ORIGIN)
    assert response.status_code == 401 and set(response.get_json()) == {"error"}
    assert world.alice.get("/_dash-dependencies").status_code == 200  # the control


@pytest.mark.parametrize("secret", ["mst_not-a-token", "not even the prefix", "mst_" + "x" * 300])
def test_a_bad_token_answers_401(world, secret):
    client = world.app.server.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    for method, path in (("GET", "/api/portfolios"), ("GET", f"/api/portfolios/{world.pid}/transactions"),
                         ("DELETE", f"/api/portfolios/{world.pid}"), ("GET", "/"), ("GET", "/_dash-layout")):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 401 and set(response.get_json()) == {"error"}, (method, path)
    assert world.services.ledger.get_portfolio(world.pid).name == ALICE_NAME


def test_a_revoked_token_answers_401(world):
    token = created(world.alice.post("/api/tokens", json={"name": "to revoke"}, headers=ORIGIN))
    bearer = {"Authorization": f"Bearer {token['secret']}"}
    client = world.app.server.test_client()
    assert client.get(f"/api/portfolios/{world.pid}/transactions", headers=bearer).status_code == 200
    assert world.alice.delete(f"/api/tokens/{token['token']['id']}", headers=ORIGIN).status_code == 204
    response = client.get(f"/api/portfolios/{world.pid}/transactions", headers=bearer)
    assert response.status_code == 401 and set(response.get_json()) == {"error"}
    assert world.alice.delete(f"/api/tokens/{token['token']['id']}", headers=ORIGIN).status_code == 404


def test_a_session_ended_by_logout_answers_401(world):
    client = log_in(world.app, BOB)
    assert client.get("/api/portfolios").status_code == 200
    assert client.delete("/api/session", headers=ORIGIN).status_code == 204
    assert client.get("/api/portfolios").status_code == 401
    assert client.get("/").status_code == 302


# -- a deleted portfolio's id ------------------------------------------------------------------------------------
def test_a_deleted_portfolios_id_and_holdings_never_reach_the_next_owner(tmp_path):
    """With SQLite reusing the largest id, the replay memo (keyed by id and version) showed the deleted
    portfolio's holdings to whoever created the next one."""
    app, services = build_app(tmp_path, auth_required=True, secret_key=SECRET_KEY)
    try:
        accounts = Accounts(services.ledger)
        accounts.create_user(ALICE, PASSWORDS[ALICE])
        accounts.create_user(BOB, PASSWORDS[BOB])
        alice, bob = log_in(app, ALICE), log_in(app, BOB)
        pid = created(alice.post("/api/portfolios", json={"name": ALICE_NAME}, headers=ORIGIN))["portfolio"]["id"]
        alice.post(f"/api/portfolios/{pid}/import", data=ALICE_CSV, content_type="text/csv", headers=ORIGIN)
        holdings = alice.get(f"/api/dashboard-holdings-data/{pid}").get_json()["holdings"]  # the memo is filled
        assert sorted(h["ticker"] for h in holdings) == list(ALICE_TICKERS)
        assert alice.delete(f"/api/portfolios/{pid}", headers=ORIGIN).status_code == 204

        new = created(bob.post("/api/portfolios", json={"name": "Bob Own"}, headers=ORIGIN))["portfolio"]["id"]
        assert bob.get(f"/api/dashboard-holdings-data/{new}").get_json()["holdings"] == []
        assert new != pid
        assert bob.get(f"/api/dashboard-initial-data/{new}").get_json()["summary"]["holdings_count"] == 0
        assert bob.get(f"/api/portfolios/{new}/transactions").get_json()["transactions"] == []
        assert bob.get(f"/api/dashboard-holdings-data/{pid}").status_code == 404
        assert alice.get(f"/api/dashboard-holdings-data/{pid}").status_code == 404
    finally:
        services.close()


# -- a single-user run -------------------------------------------------------------------------------------------
def test_a_single_user_run_asks_for_no_login(tmp_path):
    """`python app.py --demo` on 127.0.0.1: logins are not required, so the dashboard opens at once."""
    app, services = build_app(tmp_path)
    try:
        assert services.settings.auth_required is False  # the default
        client = app.server.test_client()
        assert client.get("/").status_code == 200
        listed = client.get("/api/portfolios")
        assert listed.status_code == 200 and listed.get_json() == {"portfolios": []}
        pid = created(client.post("/api/portfolios", json={"name": "Mine"}, headers=ORIGIN))["portfolio"]["id"]
        assert client.get(f"/portfolio/{pid}").status_code == 200
        assert client.get(f"/api/portfolios/{pid}/transactions").status_code == 200
        assert client.get("/_dash-layout").status_code == 200
        login = client.get("/login")
        assert login.status_code == 302 and login.headers["Location"] == "/"
        assert client.get("/signup").headers["Location"] == "/"
        assert client.get("/api/session").get_json() == {"user": None, "auth_required": False}
        # A fresh client (no cookie at all) sees the same portfolio: every request acts as the local user.
        assert app.server.test_client().get("/api/portfolios").get_json()["portfolios"][0]["id"] == pid
    finally:
        services.close()
