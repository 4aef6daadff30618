"""API tokens, /metrics, /healthz and Cache-Control on an app that requires logins (README, "Accounts"), through
Flask's test client; the single-user answers for contrast."""

from __future__ import annotations

import pytest

from tests.dashapp.test_auth import ORIGIN, add_user, api_login, make_app_fixture  # noqa: F401 (the fixture)

METRICS_TOKEN = "metrics-token-for-the-test"
DEV_KEY = "dev-insecure-secret-key"


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def _token(client, name: str = "my script") -> dict:
    response = client.post("/api/tokens", json={"name": name}, headers=ORIGIN)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- API tokens ---------------------------------------------------------------------------------------------------
def test_a_token_secret_is_shown_once(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    api_login(client)
    body = _token(client, "  nightly import  ")
    assert set(body) == {"token", "secret"}
    assert body["secret"].startswith("mst_") and len(body["secret"]) > 40
    assert body["token"]["name"] == "nightly import"
    listed = client.get("/api/tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.get_json()["tokens"]] == [body["token"]["id"]]
    assert body["secret"] not in listed.get_data(as_text=True)
    assert body["secret"][4:] not in listed.get_data(as_text=True)
    assert "secret" not in listed.get_json()["tokens"][0]


def test_a_bearer_token_works_on_every_api_path_without_origin(make_app):
    server = make_app()
    add_user(server)
    owner = server.test_client()
    api_login(owner)
    headers = _bearer(_token(owner)["secret"])
    script = server.test_client()  # no cookie, no Origin: a script
    created = script.post("/api/portfolios", json={"name": "Via token"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    pid = created.get_json()["portfolio"]["id"]
    assert script.get("/api/portfolios", headers=headers).get_json()["portfolios"][0]["name"] == "Via token"
    txn = script.post(f"/api/portfolios/{pid}/transactions", headers=headers, json={
        "date": "2025-01-06", "ticker": "AAPL", "type": "BUY", "quantity": 2, "price": 100})
    assert txn.status_code == 201, txn.get_json()
    assert len(script.get(f"/api/portfolios/{pid}/transactions", headers=headers).get_json()["transactions"]) == 1
    assert script.patch(f"/api/portfolios/{pid}", json={"name": "Renamed"}, headers=headers).status_code == 200
    assert script.get("/api/session", headers=headers).get_json()["user"]["email"] == "ann@example.com"
    assert script.get("/api/tokens", headers=headers).status_code == 200
    # What the token made is the user's own: the browser session sees it.
    assert owner.get("/api/portfolios").get_json()["portfolios"][0]["name"] == "Renamed"
    assert script.delete(f"/api/portfolios/{pid}", headers=headers).status_code == 204
    # The same write by cookie without Origin is refused (CSRF): only Bearer requests are exempt.
    assert owner.post("/api/portfolios", json={"name": "No origin"}).status_code == 403
    # Anything else in the Authorization header is no key at all.
    for bad in ("mst_not-a-real-token", "not-even-prefixed", ""):
        response = script.get("/api/portfolios", headers=_bearer(bad))
        assert response.status_code == 401, bad
        assert "error" in response.get_json()


def test_a_deleted_token_is_401(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    api_login(client)
    body, kept = _token(client, "to revoke"), _token(client, "to keep")
    assert client.get("/api/portfolios", headers=_bearer(body["secret"])).status_code == 200
    assert client.delete(f"/api/tokens/{body['token']['id']}", headers=ORIGIN).status_code == 204
    script = server.test_client()
    response = script.get("/api/portfolios", headers=_bearer(body["secret"]))
    assert response.status_code == 401
    assert response.get_json() == {"error": "the API token is invalid or revoked"}
    assert script.post("/api/portfolios", json={"name": "x"}, headers=_bearer(body["secret"])).status_code == 401
    assert script.get("/api/portfolios", headers=_bearer(kept["secret"])).status_code == 200
    assert [t["name"] for t in client.get("/api/tokens").get_json()["tokens"]] == ["to keep"]
    assert client.delete(f"/api/tokens/{body['token']['id']}", headers=ORIGIN).status_code == 404


def test_another_users_token_is_404_as_if_it_did_not_exist(make_app):
    server = make_app()
    add_user(server, "ann@example.com")
    add_user(server, "bob@example.com")
    ann, bob = server.test_client(), server.test_client()
    api_login(ann, "ann@example.com")
    api_login(bob, "bob@example.com")
    anns = _token(ann)
    gone = bob.delete(f"/api/tokens/{anns['token']['id']}", headers=ORIGIN)
    never = bob.delete("/api/tokens/999999", headers=ORIGIN)
    assert gone.status_code == never.status_code == 404
    assert set(gone.get_json()) == set(never.get_json())
    assert bob.get("/api/tokens").get_json() == {"tokens": []}
    assert server.test_client().get("/api/portfolios", headers=_bearer(anns["secret"])).status_code == 200
    # Bob's token sees Bob's portfolios only.
    ann.post("/api/portfolios", json={"name": "Ann's"}, headers=ORIGIN)
    bobs = _token(bob)
    assert server.test_client().get("/api/portfolios", headers=_bearer(bobs["secret"])).get_json() \
        == {"portfolios": []}


def test_token_names_are_checked(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    api_login(client)
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": 7}, {"name": "x" * 500}):
        response = client.post("/api/tokens", json=body, headers=ORIGIN)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.get_json()["errors"]] == ["name"]
    assert client.post("/api/tokens", data="[1]", content_type="application/json", headers=ORIGIN).status_code == 400
    assert server.test_client().post("/api/tokens", json={"name": "anonymous"}, headers=ORIGIN).status_code == 401


def test_a_single_user_app_gives_no_tokens(make_app):
    server = make_app(auth_required=False, secret_key=DEV_KEY)
    client = server.test_client()
    response = client.post("/api/tokens", json={"name": "my script"})
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["field"] == "name"
    assert "single-user" in error["message"]
    assert client.get("/api/tokens").get_json() == {"tokens": []}
    assert client.delete("/api/tokens/1").status_code == 404


# -- /metrics -----------------------------------------------------------------------------------------------------
def test_metrics_do_not_exist_without_a_metrics_token(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    assert client.get("/metrics").status_code == 404
    api_login(client)
    assert client.get("/metrics").status_code == 404  # a session is not enough either
    assert client.get("/metrics", headers=_bearer("anything")).status_code == 404


def test_metrics_need_the_metrics_token(make_app):
    server = make_app(metrics_token=METRICS_TOKEN)
    add_user(server)
    client = server.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_bearer("a-wrong-token")).status_code == 401
    assert client.get("/metrics", headers=_bearer(METRICS_TOKEN + "x")).status_code == 401
    assert client.get("/metrics", headers={"Authorization": METRICS_TOKEN}).status_code == 401
    api_login(client)
    assert client.get("/metrics").status_code == 401  # a user's session is not the operator's token
    user_token = client.post("/api/tokens", json={"name": "t"}, headers=ORIGIN).get_json()["secret"]
    assert server.test_client().get("/metrics", headers=_bearer(user_token)).status_code == 401
    response = server.test_client().get("/metrics", headers=_bearer(METRICS_TOKEN))
    assert response.status_code == 200
    assert "stocktracker_" in response.get_data(as_text=True)


def test_metrics_on_a_single_user_app_are_open(make_app):
    server = make_app(auth_required=False, secret_key=DEV_KEY)
    response = server.test_client().get("/metrics")
    assert response.status_code == 200
    assert "stocktracker_" in response.get_data(as_text=True)


# -- /healthz -----------------------------------------------------------------------------------------------------
FULL = {"status", "checks", "circuit", "scheduler"}


def test_healthz_tells_anonymous_callers_only_the_status(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    api_login(client)
    full = client.get("/healthz").get_json()
    assert set(full) >= FULL, full
    assert full["status"] == "ok"
    assert full["checks"] == {"database": True, "cache": True}
    token = client.post("/api/tokens", json={"name": "t"}, headers=ORIGIN).get_json()["secret"]
    assert set(server.test_client().get("/healthz", headers=_bearer(token)).get_json()) >= FULL


def test_healthz_on_a_single_user_app_is_full(make_app):
    server = make_app(auth_required=False, secret_key=DEV_KEY)
    body = server.test_client().get("/healthz").get_json()
    assert set(body) >= FULL, body


# -- Cache-Control ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
def test_logged_in_answers_are_private_and_not_stored_but_assets_are_not(make_app, production):
    server = make_app(app_env="production" if production else "development")
    add_user(server)
    client = server.test_client()
    api_login(client)
    for path in ("/", "/transactions", "/api/portfolios", "/api/session", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("Cache-Control") == "private, no-store", path
    for path in ("/assets/app.css", "/assets/00-bootstrap-flatly.min.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" not in response.headers.get("Cache-Control", ""), path
    # The single-user app has no one else's answers to keep apart.
    local = make_app(auth_required=False, secret_key=DEV_KEY).test_client()
    assert "no-store" not in local.get("/api/portfolios").headers.get("Cache-Control", "")
