"""Accounts on an app that requires logins (README, "Accounts"), through Flask's test client: logging in by form
and by JSON, the session cookie, where `next` may lead, logging out, sign-up policies and the account pages.

Every test builds its own app (a temporary SQLite file, demo prices, no warm-up), so nothing (the login rate
limiter's counters above all) carries from one test to the next. The rate limits are in test_auth_limits.py,
tokens, /metrics, /healthz and Cache-Control in test_auth_tokens.py; both import the builder from here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from dashapp import create_app
from dashapp.auth import accounts_of
from services.accounts import Accounts, User
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
SECRET = "a-test-secret-of-32-characters!!"
PASSWORD = "a long passphrase"
ORIGIN = {"Origin": "http://localhost"}  # the test client's own origin: writes by cookie must show it (CSRF)
COOKIE = "mst_session"
MakeApp = Callable[..., Flask]


@pytest.fixture(name="make_app")
def make_app_fixture(tmp_path) -> Iterator[MakeApp]:
    """Build apps (their Flask servers) that require logins unless `auth_required=False` is passed; each one on its
    own database and its own rate limiter."""
    built = []

    def make(**overrides) -> Flask:
        base = tmp_path / f"app{len(built)}"
        base.mkdir()
        settings = Settings().with_overrides(**{
            "data_dir": base, "cache_dir": base / "cache", "database_url": f"sqlite:///{base / 'db.sqlite'}",
            "price_provider": "demo", "demo_mode": False, "warmup_enabled": False, "auth_required": True,
            "secret_key": SECRET, **overrides})
        clock = MarketClock(now=lambda: SATURDAY)
        services = build_services(settings, clock=clock, provider=DemoProvider(clock))
        built.append(services)
        return create_app(settings, services).server

    yield make
    for services in built:
        services.close()


def accounts(server: Flask) -> Accounts:
    return accounts_of(server)


def add_user(server: Flask, email: str = "ann@example.com", password: str = PASSWORD) -> User:
    return accounts(server).create_user(email, password)


def api_login(client, email: str = "ann@example.com", password: str = PASSWORD, headers: dict | None = None,
              **kwargs):
    return client.post("/api/session", json={"email": email, "password": password},
                       headers={**ORIGIN, **(headers or {})}, **kwargs)


def form_login(client, email: str = "ann@example.com", password: str = PASSWORD, **fields):
    return client.post("/login", data={"email": email, "password": password, **fields}, headers=ORIGIN)


def set_cookie_header(response, name: str = COOKIE) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    return header


def alert_text(html: str) -> str:
    found = re.search(r'<div class="alert alert-danger" role="alert" id="account-error">(.*?)</div>', html)
    assert found, html[-600:]
    return found.group(1)


# -- logging in ---------------------------------------------------------------------------------------------------
def test_json_login_with_the_right_password_starts_a_session(make_app):
    server = make_app()
    user = add_user(server)
    client = server.test_client()
    assert client.get("/api/portfolios").status_code == 401
    response = api_login(client, "  Ann@Example.COM ")  # the email is matched trimmed, in any case
    assert response.status_code == 200
    assert response.get_json() == {"user": {"id": user.id, "email": "ann@example.com"}}
    assert client.get("/api/portfolios").status_code == 200
    assert client.get("/api/session").get_json() == {"user": {"id": user.id, "email": "ann@example.com"},
                                                     "auth_required": True}


def test_form_login_redirects_to_next(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    response = form_login(client, next="/transactions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/transactions"
    assert client.get("/api/portfolios").status_code == 200


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    wrong, unknown = api_login(client, password="not the password"), api_login(client, "bob@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json() == {"error": "wrong email or password"}
    wrong, unknown = form_login(client, password="not the password"), form_login(client, "bob@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.mimetype == "text/html"
    assert alert_text(wrong.get_data(as_text=True)) == alert_text(unknown.get_data(as_text=True)) \
        == "Wrong email or password."
    assert client.get("/api/portfolios").status_code == 401


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
def test_the_session_cookie_is_httponly_lax_and_secure_only_in_production(make_app, production):
    server = make_app(app_env="production" if production else "development")
    add_user(server)
    for response in (api_login(server.test_client()), form_login(server.test_client())):
        flags = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie_header(response).split(";")}
        assert "httponly" in flags
        assert flags["samesite"] == "SameSite=Lax"
        assert ("secure" in flags) is production
        assert "expires" in flags  # a permanent session (14 days), not one that ends with the browser


@pytest.mark.parametrize("login", [api_login, form_login], ids=["json", "form"])
def test_login_starts_a_fresh_session_so_nothing_planted_before_survives(make_app, login):
    server = make_app()
    add_user(server)
    client = server.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by whoever held the browser before"
        session["csrf_token"] = "x" * 40
    before = client.get_cookie(COOKIE).value
    assert login(client).status_code in (200, 302)
    after = client.get_cookie(COOKIE).value
    assert after != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != "x" * 40
        assert session.get("_user_id", "").startswith("1:")


# -- where `next` leads -------------------------------------------------------------------------------------------
# Browsers drop tabs and newlines from URLs: '/\t/evil.example' would be sent as '//evil.example'.
@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "\\\\evil.example",
    " //evil.example", "http:/evil.example", "",
    "/\t/evil.example", "/\n/evil.example",
], ids=["scheme-relative", "absolute", "backslash", "javascript", "double-backslash", "leading-space",
        "scheme-one-slash", "empty", "tab", "newline"])
def test_next_never_leaves_the_site(make_app, target):
    server = make_app()
    add_user(server)
    client = server.test_client()
    response = form_login(client, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = server.test_client().get("/login", query_string={"next": target})
    assert page.status_code == 200
    assert '<input type="hidden" name="next" value="/">' in page.get_data(as_text=True)
    # Once logged in, /login goes straight on to next: it too stays on the site.
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302
    assert again.headers["Location"] == "/"


def _round_trip(server, path: str) -> str:
    """Ask for `path` without a session, follow the redirect to /login, submit its form: where it lands."""
    client = server.test_client()
    response = client.get(path)
    assert response.status_code == 302
    login_page = client.get(response.headers["Location"])
    next_field = re.search(r'name="next" value="([^"]*)"', login_page.get_data(as_text=True)).group(1)
    landed = form_login(client, next=next_field.replace("&amp;", "&"))
    assert landed.status_code == 302
    return landed.headers["Location"]


def test_a_page_asked_for_without_a_session_comes_back_with_its_query_after_login(make_app):
    server = make_app()
    add_user(server)
    assert server.test_client().get("/transactions?portfolio=3").headers["Location"] \
        == "/login?next=/transactions?portfolio=3"
    assert _round_trip(server, "/transactions?portfolio=3") == "/transactions?portfolio=3"
    assert _round_trip(server, "/transactions") == "/transactions"
    # The JSON API is never redirected: 401 JSON telling how to authenticate.
    anonymous = server.test_client().get("/api/portfolios")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"].startswith("login required")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_query_of_several_parameters_survives_the_login_redirect(make_app):
    server = make_app()
    add_user(server)
    assert _round_trip(server, "/transactions?portfolio=3&range=1Y") == "/transactions?portfolio=3&range=1Y"


# -- logging out --------------------------------------------------------------------------------------------------
def test_post_logout_ends_the_session(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    api_login(client)
    assert client.get("/api/portfolios").status_code == 200
    response = client.post("/logout", headers=ORIGIN)
    assert (response.status_code, response.headers["Location"]) == (302, "/login")
    assert client.get("/api/portfolios").status_code == 401
    assert client.get("/").status_code == 302


def test_delete_api_session_ends_the_session(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    form_login(client)
    assert client.delete("/api/session", headers=ORIGIN).status_code == 204
    assert client.get("/api/portfolios").status_code == 401


def test_get_logout_and_a_cross_site_logout_do_not_log_out(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    api_login(client)
    response = client.get("/logout")  # a link or an <img> on another page must not end the session
    assert response.status_code in (200, 404, 405)
    assert client.get("/api/portfolios").status_code == 200
    assert client.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/api/portfolios").status_code == 200


def test_a_cookie_copied_before_logout_is_dead_after_it(make_app):
    server = make_app()
    add_user(server)
    client = server.test_client()
    api_login(client)
    copied = client.get_cookie(COOKIE).value
    client.post("/logout", headers=ORIGIN)
    thief = server.test_client()
    thief.set_cookie(COOKIE, copied)
    assert thief.get("/api/portfolios").status_code == 401


def test_a_password_change_ends_existing_sessions(make_app):
    server = make_app()
    user = add_user(server)
    client, other = server.test_client(), server.test_client()
    api_login(client)
    form_login(other)
    accounts(server).set_password(user.id, "a brand new passphrase")
    assert client.get("/api/portfolios").status_code == 401
    assert other.get("/").status_code == 302
    assert api_login(client).status_code == 401  # the old password is gone
    assert api_login(client, password="a brand new passphrase").status_code == 200
    assert client.get("/api/portfolios").status_code == 200


# -- sign-up ------------------------------------------------------------------------------------------------------
def _signup(client, email: str, password: str = PASSWORD):
    return client.post("/signup", data={"email": email, "password": password}, headers=ORIGIN)


def test_signup_first_lets_one_user_in_and_then_closes(make_app):
    server = make_app()  # SIGNUP=first is the default
    first = server.test_client()
    assert 'href="/signup"' in first.get("/login").get_data(as_text=True)  # offered while no user exists
    assert first.get("/signup").status_code == 200
    response = _signup(first, "owner@example.com")
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert first.get("/api/session").get_json()["user"]["email"] == "owner@example.com"  # logged in by signing up
    second = server.test_client()
    for response in (second.get("/signup"), _signup(second, "second@example.com")):
        assert response.status_code == 403
        assert alert_text(response.get_data(as_text=True)).startswith("Sign-up is closed on this server")
    assert accounts(server).user_count() == 1
    assert 'href="/signup"' not in second.get("/login").get_data(as_text=True)


def test_signup_open_takes_any_number(make_app):
    server = make_app(signup="open")
    for n in range(3):
        client = server.test_client()
        response = _signup(client, f"user{n}@example.com")
        assert response.status_code == 302, response.get_data(as_text=True)[-300:]
        assert client.get("/api/session").get_json()["user"]["email"] == f"user{n}@example.com"
    assert accounts(server).user_count() == 3


def test_signup_closed_refuses_even_the_first(make_app):
    server = make_app(signup="closed")
    client = server.test_client()
    assert client.get("/signup").status_code == 403
    assert _signup(client, "owner@example.com").status_code == 403
    assert accounts(server).user_count() == 0
    assert 'href="/signup"' not in client.get("/login").get_data(as_text=True)


def test_signup_names_what_is_wrong(make_app):
    server = make_app(signup="open")
    client = server.test_client()
    short = _signup(client, "ann@example.com", "too short")
    assert short.status_code == 422
    assert alert_text(short.get_data(as_text=True)) == "The password must have at least 10 characters."
    assert 'value="ann@example.com"' in short.get_data(as_text=True)  # what was typed is kept
    assert _signup(client, "ann@example.com").status_code == 302
    duplicate = _signup(server.test_client(), "ANN@example.com")
    assert duplicate.status_code == 422
    assert alert_text(duplicate.get_data(as_text=True)) == "An account with this email exists."
    bad = _signup(server.test_client(), "not-an-email")
    assert bad.status_code == 422
    assert alert_text(bad.get_data(as_text=True)) == "Not an email address."
    assert accounts(server).user_count() == 1


# -- the account pages --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/login", "/signup"])
def test_the_account_pages_use_the_theme_and_post_to_themselves(make_app, path):
    server = make_app()
    client = server.test_client()
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<link rel="stylesheet" href="/assets/00-bootstrap-flatly.min.css">' in html
    assert f'<form method="post" action="{path}"' in html
    assert 'name="email"' in html and 'name="password"' in html
    theme = client.get("/assets/00-bootstrap-flatly.min.css")  # public: the login page needs it before a login
    assert theme.status_code == 200
    assert b".btn-primary" in theme.data
    assert client.head(path).status_code == 200


def test_head_login_is_not_a_login_attempt(make_app):
    server = make_app(login_limit_per_address="2 per minute")
    client = server.test_client()
    for _ in range(5):
        assert client.head("/login").status_code == 200
        assert client.get("/login").status_code == 200
    assert form_login(client, "nobody@example.com").status_code == 401


def test_a_single_user_app_has_no_login(make_app):
    server = make_app(auth_required=False, secret_key="dev-insecure-secret-key")
    client = server.test_client()
    for path in ("/login", "/signup", "/login?next=/transactions"):
        response = client.get(path)
        assert response.status_code == 302, path
    assert client.get("/login").headers["Location"] == "/"
    assert client.get("/login?next=/transactions").headers["Location"] == "/transactions"
    assert client.get("/api/portfolios").status_code == 200
    assert client.get("/api/session").get_json() == {"user": None, "auth_required": False}
