"""Accounts in a real Chromium, on a server that requires logins: the login redirect, a visible error, sign-up,
the dashboard of the new user only, logout, and the account pages' accessibility (README, "Accounts")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.axe import axe_missing, describe, run_axe
from tests.browser.support import PHONE, VIEWPORT, DemoServer, wait_for_settled_dashboard
from tests.browser.test_transactions import assert_visible

SECRET = "browser-test-secret-of-some-length"
PASSWORD = "a long enough passphrase"
CSV = "date,ticker,type,quantity,price,fees,note\n2025-01-06,AAPL,BUY,10,100,5,\n2025-02-03,MSFT,BUY,5,300,0,\n"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[DemoServer]:
    """`python app.py --demo` with AUTH_REQUIRED=1 (the demo seeds its sample portfolio for the local user only)."""
    server = DemoServer(tmp_path_factory.mktemp("auth-app"),
                        env={"AUTH_REQUIRED": "1", "SECRET_KEY": SECRET, "WARMUP_ENABLED": "0"}).wait_ready()
    yield server
    server.stop()


@pytest.fixture
def context(browser, auth_server):
    context = browser.new_context(viewport=VIEWPORT, base_url=auth_server.base)
    context.set_default_timeout(20_000)
    yield context
    context.close()


def _sign_up(page, email: str) -> None:
    page.goto("/signup")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def _log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")


def _api(page, method: str, path: str, base: str, headers: dict | None = None, **kwargs):
    return page.request.fetch(base + path, method=method, headers={"Origin": base, **(headers or {})}, **kwargs)


def test_a_page_without_a_session_goes_to_login_and_comes_back_after_it(context, auth_server):
    page = context.new_page()
    page.goto("/transactions")
    assert page.url == f"{auth_server.base}/login?next=/transactions"
    # The first account of a SIGNUP=first server: made through the API's sign-up page by another browser.
    other = context.browser.new_context(base_url=auth_server.base)
    try:
        _sign_up(other.new_page(), "first@example.com")
    finally:
        other.close()
    page.fill("#email", "first@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/transactions")
    page.wait_for_selector("#logout-button", state="visible")
    assert page.locator(".account-email").inner_text() == "first@example.com"


def test_a_wrong_password_is_said_visibly_and_the_page_passes_axe(context, auth_server):
    page = context.new_page()
    _log_in(page, "nobody@example.com", "not the password")
    seen = assert_visible(page, "#account-error", "Wrong email or password")
    assert seen["contrast"] >= 4.5  # WCAG AA for body text
    assert page.url.startswith(f"{auth_server.base}/login")
    if axe_missing():
        pytest.skip(axe_missing())
    violations = run_axe(page)
    assert not violations, describe(violations)


def test_each_user_sees_only_their_own_portfolio_and_logout_ends_it(context, auth_server):
    # SIGNUP=first: the first account is made by the test above, or here when this test runs alone.
    page = context.new_page()
    status = _api(page, "POST", "/api/session", auth_server.base,
                  data={"email": "first@example.com", "password": PASSWORD}).status
    if status == 401:  # run alone: this test makes the first account itself
        _sign_up(page, "first@example.com")
    page.goto("/")
    created = _api(page, "POST", "/api/portfolios", auth_server.base, data={"name": "First's"})
    assert created.status == 201, created.text()
    pid = created.json()["portfolio"]["id"]
    imported = _api(page, "POST", f"/api/portfolios/{pid}/import", auth_server.base, data=CSV,
                    headers={"Content-Type": "text/csv"})
    assert imported.status == 200, imported.text()
    page.goto(f"/portfolio/{pid}")
    wait_for_settled_dashboard(page)
    # AG Grid puts a row in before its cells' text: wait for the text (CI once read two empty rows).
    page.wait_for_selector("#react-entry-point #holdings-table .ag-pinned-left-cols-container .ag-row >> text=MSFT")
    tickers = page.locator("#react-entry-point #holdings-table .ag-pinned-left-cols-container .ag-row")
    assert sorted(tickers.all_inner_texts()) == ["AAPL", "MSFT"]
    # The demo's sample portfolio belongs to the local user: not in this user's selector.
    options = page.locator("#portfolio-select option:not([disabled])").all_inner_texts()
    assert [o for o in options if o.strip() and o != "Choose a portfolio"] == ["First's"]

    page.click("#logout-button")
    page.wait_for_url("**/login")
    page.goto(f"/portfolio/{pid}")
    assert page.url == f"{auth_server.base}/login?next=/portfolio/{pid}"
    assert _api(page, "GET", "/api/portfolios", auth_server.base).status == 401


def test_the_login_page_on_a_phone(browser, auth_server):
    context = browser.new_context(viewport=PHONE, base_url=auth_server.base, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto("/login")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the login page scrolls sideways on a phone: {width} px"
        box = page.locator("button[type=submit]").bounding_box()
        assert box and box["height"] >= 36 and box["width"] > PHONE["width"] / 2
    finally:
        context.close()
