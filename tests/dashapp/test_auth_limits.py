"""Login rate limits (README, "Accounts": LOGIN_LIMIT_PER_ACCOUNT, LOGIN_LIMIT_PER_ADDRESS) through Flask's test
client. Each test builds its own app with small limits; only failed attempts count."""

from __future__ import annotations

from tests.dashapp.test_auth import (
    ORIGIN,
    PASSWORD,
    add_user,
    alert_text,
    api_login,
    form_login,
    make_app_fixture,  # noqa: F401 (the `make_app` fixture)
)

SMALL = {"login_limit_per_account": "3 per minute", "login_limit_per_address": "5 per minute"}
WRONG = "not the password at all"


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_the_fourth_failure_on_one_account_is_429_from_any_address(make_app):
    server = make_app(**SMALL)
    add_user(server)
    client = server.test_client()
    # Three addresses, the email written three ways: one account.
    for n, email in enumerate(["ann@example.com", "ANN@example.com", " Ann@Example.com "]):
        assert api_login(client, email, WRONG, **_from(f"10.0.0.{n}")).status_code == 401
    refused = api_login(client, "ann@example.com", WRONG, **_from("10.0.0.9"))
    assert refused.status_code == 429
    assert refused.get_json() == {"error": "too many attempts: at most 3 per 1 minute; try again later"}
    # The account is locked for the window, even with its password; another account is not.
    assert api_login(client, **_from("10.0.0.10")).status_code == 429
    assert client.get("/api/portfolios").status_code == 401
    assert api_login(client, "bob@example.com", WRONG, **_from("10.0.0.11")).status_code == 401


def test_the_sixth_failure_from_one_address_is_429_across_accounts(make_app):
    server = make_app(**SMALL)
    client = server.test_client()
    for n in range(5):
        assert api_login(client, f"user{n}@example.com", WRONG).status_code == 401
    refused = api_login(client, "user5@example.com", WRONG)
    assert refused.status_code == 429
    assert refused.get_json() == {"error": "too many attempts: at most 5 per 1 minute; try again later"}
    assert api_login(client, "user6@example.com", WRONG, **_from("10.9.9.9")).status_code == 401


def test_x_forwarded_for_does_not_change_the_address_without_a_proxy(make_app):
    server = make_app(**SMALL)  # PROXY_HOPS=0: nothing in front is trusted to name the client
    client = server.test_client()
    for n in range(5):
        response = api_login(client, f"user{n}@example.com", WRONG, headers={"X-Forwarded-For": f"1.2.3.{n}"})
        assert response.status_code == 401
    assert api_login(client, "user5@example.com", WRONG, headers={"X-Forwarded-For": "1.2.3.99"}
                     ).status_code == 429


def test_successful_logins_do_not_count(make_app):
    server = make_app(**SMALL)
    add_user(server)
    client = server.test_client()
    for _ in range(6):  # more than either limit: each would be refused if successes counted
        assert api_login(client).status_code == 200
    for _ in range(2):
        assert form_login(server.test_client()).status_code == 302
    for _ in range(3):
        assert api_login(server.test_client(), password=WRONG).status_code == 401
    assert api_login(server.test_client(), password=WRONG).status_code == 429


def test_the_form_gets_an_html_page_that_says_so(make_app):
    server = make_app(**SMALL)
    add_user(server)
    client = server.test_client()
    for _ in range(3):
        assert form_login(client, password=WRONG).status_code == 401
    refused = form_login(client, password=WRONG)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    html = refused.get_data(as_text=True)
    assert alert_text(html) == "Too many attempts: at most 3 per 1 minute; try again later."
    assert '<form method="post" action="/login"' in html  # still the login page, with its theme
    assert "/assets/00-bootstrap-flatly.min.css" in html


SHARED_BUG = ("Flask-Limiter scopes a limit to its endpoint unless it is a shared_limit: /login and /api/session "
              "each count on their own, so an account (or an address) gets twice the attempts its limit says")


def test_the_form_and_the_api_count_against_the_same_account(make_app):
    server = make_app(**SMALL)
    add_user(server)
    answers = [form_login(server.test_client(), password=WRONG).status_code for _ in range(2)]
    answers += [api_login(server.test_client(), password=WRONG, **_from(f"10.1.1.{n}")).status_code
                for n in range(2)]
    answers.append(form_login(server.test_client(), password=WRONG).status_code)
    assert answers == [401, 401, 401, 429, 429]


def test_the_form_and_the_api_count_against_the_same_address(make_app):
    server = make_app(**SMALL)
    client = server.test_client()
    answers = [form_login(client, f"user{n}@example.com", WRONG).status_code for n in range(3)]
    answers += [api_login(client, f"user{n}@example.com", WRONG).status_code for n in range(3, 6)]
    assert answers == [401] * 5 + [429]


def test_the_counters_belong_to_one_app(make_app):
    first = make_app(**SMALL)
    add_user(first)
    for _ in range(3):
        api_login(first.test_client(), password=WRONG)
    assert api_login(first.test_client(), password=WRONG).status_code == 429
    second = make_app(**SMALL)  # same process, same account name and address: its own memory:// storage
    add_user(second)
    assert api_login(second.test_client(), password=WRONG).status_code == 401
    assert api_login(second.test_client()).status_code == 200


def test_signup_attempts_are_limited_per_address(make_app):
    server = make_app(signup="open", **SMALL)
    client = server.test_client()
    add_user(server)
    answers = [client.post("/signup", data={"email": "ann@example.com", "password": PASSWORD},
                           headers=ORIGIN).status_code for _ in range(6)]
    assert answers == [422] * 5 + [429]
