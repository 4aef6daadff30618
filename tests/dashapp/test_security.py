"""Request hardening (dashapp/security.py) through Flask's test client on the real app: trusted hosts, CSRF,
security headers, the dev server's banner."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from dashapp import create_app
from dashapp.security import SERVER_NAME, _QuietRequestHandler, csrf_token, host_allowed, host_name
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
SELF = "http://localhost"  # the test client's own origin (Host: localhost, http)
EVIL = "http://evil.example"
CSV = "date,ticker,type,quantity,price\n2025-01-06,AAPL,BUY,10,100\n2025-02-03,MSFT,BUY,2,300\n"
# Another file: the same one again would be skipped as duplicates (imported 0), which is not what these tests ask.
CSV_OTHER = "date,ticker,type,quantity,price\n2025-01-07,AAPL,BUY,10,101\n2025-02-04,MSFT,BUY,2,301\n"


def _build(tmp_path, **overrides):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, price_wait_s=1.0, warmup_enabled=False, **overrides)
    clock = MarketClock(now=lambda: SATURDAY)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    return create_app(settings, services), services


@pytest.fixture
def local(tmp_path):
    """The app as `python app.py` runs it: single-user, loopback hosts only."""
    app, services = _build(tmp_path)
    yield app, app.server.test_client(), services
    services.close()


@pytest.fixture
def portfolio(local):
    """A portfolio with one transaction, made through the API the way a script does (no Origin)."""
    _, client, _ = local
    pid = client.post("/api/portfolios", json={"name": "Mine"}).get_json()["portfolio"]["id"]
    created = client.post(f"/api/portfolios/{pid}/transactions", json={
        "date": "2025-01-02", "ticker": "KO", "type": "BUY", "quantity": 1, "price": 50})
    assert created.status_code == 201
    return pid, created.get_json()["transaction"]["id"]


def _ledger(services, pid: int) -> list[tuple]:
    return [(t.id, t.ticker, t.quantity) for t in services.ledger.list_transactions(pid)]


def _refused(response) -> str:
    assert response.status_code == 403, response.data[:300]
    error = response.get_json()["error"]
    assert error.startswith("cross-site request refused: ")
    return error


# -- trusted hosts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("host", "name"), [
    ("localhost", "localhost"), ("LocalHost:8050", "localhost"), ("127.0.0.1:80", "127.0.0.1"),
    ("[::1]:8050", "[::1]"), ("[::1]", "[::1]"), ("app.example.com", "app.example.com"),
    ("evil.example/x", None), ("a b", None), ("", None), ("[::1", None)])
def test_host_name_drops_the_port_and_keeps_ipv6_brackets(host, name):
    assert host_name(host) == name


def test_host_allowed_matches_names_ipv6_and_subdomains():
    loopback = Settings().allowed_hosts
    assert set(loopback) == {"localhost", "127.0.0.1", "::1", "[::1]"}
    for host in ("localhost:8050", "127.0.0.1", "[::1]:8050"):
        assert host_allowed(host, loopback)
    for host in ("evil.example", "evil.example:8050", "127.0.0.2", "localhost.evil.example", "[::2]"):
        assert not host_allowed(host, loopback)
    assert host_allowed("a.example.org", (".example.org",)) and host_allowed("example.org", (".example.org",))
    assert not host_allowed("badexample.org", (".example.org",))
    assert host_allowed("anything.example", ())  # empty: any well-formed host
    assert not host_allowed("bad host", ())


@pytest.mark.parametrize("path", ["/api/portfolios", "/healthz", "/metrics"])
def test_a_rebound_dns_name_is_refused_with_json(local, path):
    _, client, _ = local
    response = client.get(path, headers={"Host": "attacker.example:8050"})
    assert response.status_code == 400
    assert "host" in response.get_json()["error"]


def test_a_page_for_a_bad_host_is_a_short_html_400(local):
    _, client, _ = local
    response = client.get("/", headers={"Host": "attacker.example"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert b"not served here" in response.data and len(response.data) < 500


def test_a_write_for_a_bad_host_changes_nothing(local, portfolio):
    _, client, services = local
    pid, _ = portfolio
    before = _ledger(services, pid)
    response = client.post(f"/api/portfolios/{pid}/import", data=CSV, content_type="text/plain",
                           headers={"Host": "attacker.example"})
    assert response.status_code == 400
    assert _ledger(services, pid) == before


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8050", "[::1]:8050"])
def test_loopback_names_are_served(local, host):
    _, client, _ = local
    assert client.get("/api/portfolios", headers={"Host": host}).status_code == 200


def test_trusted_hosts_replace_the_loopback_names(tmp_path):
    app, services = _build(tmp_path, trusted_hosts=("stocks.example.com",))
    client = app.server.test_client()
    try:
        assert client.get("/healthz", headers={"Host": "stocks.example.com"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 400
    finally:
        services.close()


# -- headers ---------------------------------------------------------------------------------------------------
def test_security_headers_on_pages_and_the_api(local):
    _, client, _ = local
    for path in ("/", "/transactions", "/api/portfolios", "/healthz", "/assets/app.css", "/no-such-page"):
        response = client.get(path)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in headers, path  # never outside production
        policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["img-src"] == "'self' data:"
        assert policy["object-src"] == "'none'"
        assert policy["style-src"] == "'self' 'unsafe-inline'"
        scripts = policy["script-src"].split()
        assert scripts[0] == "'self'" and len(scripts) > 1
        assert all(s.startswith("'sha256-") for s in scripts[1:])
        assert "'unsafe-eval'" not in headers["Content-Security-Policy"]


def test_the_policy_allows_every_inline_script_of_the_page_and_nothing_else(local):
    import hashlib
    import re

    _, client, _ = local
    response = client.get("/")
    allowed = set(response.headers["Content-Security-Policy"].split("script-src ")[1].split(";")[0].split()[1:])
    # Every executable inline <script> of the page (deferred_boot.js, and inside the boot template Dash's
    # renderer start and clientside callbacks), hashed as the browser hashes it.
    html = response.get_data(as_text=True)
    inline = [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
              if "src=" not in attrs and "application/json" not in attrs]
    assert len(inline) >= 3
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
              for body in inline}
    assert hashes <= allowed


def test_hsts_only_in_production(tmp_path):
    app, services = _build(tmp_path, app_env="production", auth_required=True, secret_key="x" * 40)
    try:
        response = app.server.test_client().get("/healthz", base_url="https://stocks.example.com")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    finally:
        services.close()


def test_https_is_forced_only_in_production_behind_the_proxy(tmp_path, local):
    _, local_client, _ = local
    assert local_client.get("/healthz").status_code == 200  # plain http locally: no redirect
    app, services = _build(tmp_path / "prod", app_env="production", auth_required=True, secret_key="x" * 40,
                           proxy_hops=1)
    client = app.server.test_client()
    try:
        plain = client.get("/healthz?x=1", headers={"Host": "stocks.example.com", "X-Forwarded-Proto": "http"})
        assert plain.status_code == 301
        assert plain.headers["Location"] == "https://stocks.example.com/healthz?x=1"
        secure = client.get("/healthz", headers={"Host": "stocks.example.com", "X-Forwarded-Proto": "https"})
        assert secure.status_code != 301
    finally:
        services.close()


def test_the_dev_server_names_itself_without_versions(local):
    app, _, _ = local
    # What `python app.py` does (Dash's run -> Flask's run -> run_simple) gets our request handler.
    seen = {}
    import werkzeug.serving

    original = werkzeug.serving.run_simple
    werkzeug.serving.run_simple = lambda *args, **kwargs: seen.update(kwargs)
    try:
        app.run(host="127.0.0.1", port=1, debug=False, use_reloader=False)
    finally:
        werkzeug.serving.run_simple = original
    assert seen["request_handler"] is _QuietRequestHandler
    # And the handler says so on the wire.
    server = make_server("127.0.0.1", 0, app.server, request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz", timeout=10) as response:
            assert response.headers.get_all("Server") == [SERVER_NAME]
    finally:
        server.shutdown()
        server.server_close()


# -- CSRF ------------------------------------------------------------------------------------------------------
def test_cross_origin_writes_to_the_api_are_refused_and_change_nothing(local, portfolio):
    _, client, services = local
    pid, tid = portfolio
    before = _ledger(services, pid)
    cross = {"Origin": EVIL}
    _refused(client.post("/api/portfolios", json={"name": "Planted"}, headers=cross))
    _refused(client.post(f"/api/portfolios/{pid}/transactions", headers=cross, json={
        "date": "2025-01-06", "ticker": "AAPL", "type": "BUY", "quantity": 1, "price": 1}))
    _refused(client.patch(f"/api/portfolios/{pid}", json={"name": "Renamed"}, headers=cross))
    _refused(client.patch(f"/api/portfolios/{pid}/transactions/{tid}", json={"quantity": 99}, headers=cross))
    _refused(client.delete(f"/api/portfolios/{pid}/transactions/{tid}", headers=cross))
    _refused(client.delete(f"/api/portfolios/{pid}", headers=cross))
    _refused(client.put(f"/api/portfolios/{pid}", json={"name": "Put"}, headers=cross))
    assert _ledger(services, pid) == before
    assert [p.name for p in services.ledger.list_portfolios()] == ["Mine"]


@pytest.mark.parametrize("origin", [EVIL, "null", "https://localhost", "http://localhost:8050",
                                    "http://sub.localhost", "not a url"])
def test_any_other_origin_is_refused(local, portfolio, origin):
    _, client, _ = local
    pid, _ = portfolio
    _refused(client.patch(f"/api/portfolios/{pid}", json={"name": "x"}, headers={"Origin": origin}))


def test_a_cross_origin_text_plain_import_is_refused(local, portfolio):
    _, client, services = local
    pid, _ = portfolio
    before = _ledger(services, pid)
    for content_type in ("text/plain", "text/csv", "application/x-www-form-urlencoded"):
        _refused(client.post(f"/api/portfolios/{pid}/import", data=CSV, content_type=content_type,
                             headers={"Origin": EVIL}))
    assert _ledger(services, pid) == before


def test_a_cross_origin_multipart_import_is_refused(local, portfolio):
    import io

    _, client, services = local
    pid, _ = portfolio
    before = _ledger(services, pid)
    response = client.post(f"/api/portfolios/{pid}/import", headers={"Origin": EVIL},
                           data={"file": (io.BytesIO(CSV.encode()), "ledger.csv"), "csrf_token": "guessed"},
                           content_type="multipart/form-data")
    _refused(response)
    # A form's Referer alone (a browser that sends no Origin) is judged the same way.
    _refused(client.post(f"/api/portfolios/{pid}/import", data=CSV, content_type="text/plain",
                         headers={"Referer": EVIL + "/free-tips.html"}))
    assert _ledger(services, pid) == before


def test_a_same_origin_import_is_accepted(local, portfolio):
    import io

    _, client, services = local
    pid, _ = portfolio
    response = client.post(f"/api/portfolios/{pid}/import", data=CSV, content_type="text/plain",
                           headers={"Origin": SELF})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"imported": 2, "skipped_duplicates": 0, "warnings": []}
    response = client.post(f"/api/portfolios/{pid}/import", headers={"Referer": SELF + "/transactions"},
                           data={"file": (io.BytesIO(CSV_OTHER.encode()), "ledger.csv")},
                           content_type="multipart/form-data")
    assert response.get_json() == {"imported": 2, "skipped_duplicates": 0, "warnings": []}
    # The default port is the same origin written either way.
    assert client.patch(f"/api/portfolios/{pid}", json={"name": "Kept"},
                        headers={"Origin": "http://localhost:80"}).status_code == 200
    assert len(_ledger(services, pid)) == 5


def test_origin_follows_the_scheme_the_proxy_reports(tmp_path):
    app, services = _build(tmp_path, proxy_hops=1)
    client = app.server.test_client()
    try:
        behind = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        assert client.post("/api/portfolios", json={"name": "A"},
                           headers={**behind, "Origin": "https://localhost"}).status_code == 201
        _refused(client.post("/api/portfolios", json={"name": "B"}, headers={**behind, "Origin": SELF}))
    finally:
        services.close()


def test_a_bearer_request_is_exempt(local, portfolio):
    _, client, _ = local
    pid, _ = portfolio
    response = client.patch(f"/api/portfolios/{pid}", json={"name": "By token"},
                            headers={"Origin": EVIL, "Authorization": "Bearer some-secret"})
    assert response.status_code != 403  # judged by the login gate, not as a cross-site request
    # "Bearer" with nothing after it is no token.
    _refused(client.patch(f"/api/portfolios/{pid}", json={"name": "x"},
                          headers={"Origin": EVIL, "Authorization": "Bearer "}))
    _refused(client.patch(f"/api/portfolios/{pid}", json={"name": "x"},
                          headers={"Origin": EVIL, "Authorization": "Basic dTpw"}))


def test_the_csrf_token_lets_a_write_through_whatever_its_origin(local, portfolio):
    import io

    app, client, services = local
    pid, _ = portfolio
    with client.session_transaction() as session:
        session["csrf_token"] = token = "t" * 43
    _refused(client.post(f"/api/portfolios/{pid}/import", data=CSV, content_type="text/plain",
                         headers={"Origin": EVIL, "X-CSRF-Token": "u" * 43}))
    assert len(_ledger(services, pid)) == 1
    response = client.post(f"/api/portfolios/{pid}/import", data=CSV, content_type="text/plain",
                           headers={"Origin": EVIL, "X-CSRF-Token": token})
    assert response.get_json() == {"imported": 2, "skipped_duplicates": 0, "warnings": []}
    # The login forms' hidden field.
    response = client.post(f"/api/portfolios/{pid}/import", headers={"Origin": "null"},
                           data={"file": (io.BytesIO(CSV_OTHER.encode()), "ledger.csv"), "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.get_json() == {"imported": 2, "skipped_duplicates": 0, "warnings": []}
    # Another browser (no session, so no token) cannot replay it.
    other = app.server.test_client()
    _refused(other.post(f"/api/portfolios/{pid}/import", data=CSV, content_type="text/plain",
                        headers={"Origin": EVIL, "X-CSRF-Token": token}))


def test_csrf_token_is_made_once_per_session(local):
    app, _, _ = local
    with app.server.test_request_context("/"):
        first = csrf_token()
        assert len(first) >= 32 and csrf_token() == first
    with app.server.test_request_context("/"):
        assert csrf_token() != first  # another session


def test_requests_without_origin_are_allowed_locally_and_refused_where_logins_are_required(local, tmp_path):
    _, client, _ = local
    # Locally: curl, scripts and tests send no Origin, and a browser always sends one cross-site.
    assert client.post("/api/portfolios", json={"name": "By script"}).status_code == 201
    # Unless the browser says where it comes from.
    _refused(client.post("/api/portfolios", json={"name": "x"}, headers={"Sec-Fetch-Site": "cross-site"}))
    app, services = _build(tmp_path / "auth", auth_required=True, secret_key="x" * 40)
    try:
        strict = app.server.test_client()
        error = _refused(strict.post("/api/portfolios", json={"name": "x"}))
        assert "no Origin, Referer or CSRF token" in error
        assert strict.post("/api/portfolios", json={"name": "x"}, headers={"Origin": SELF}).status_code != 403
        assert strict.post("/api/portfolios", json={"name": "x"},
                           headers={"Authorization": "Bearer abc"}).status_code != 403
        assert strict.get("/healthz").status_code != 403  # reads are never judged
    finally:
        services.close()


def _upload_callback(client, pid: int, csv_text: str) -> dict:
    """The body dcc.Upload's callback sends (its spec read from /_dash-dependencies, as the renderer does)."""
    [spec] = [c for c in client.get("/_dash-dependencies").get_json()
              if {"id": "csv-upload", "property": "contents"} in c["inputs"]]
    outputs = [dict(zip(("id", "property"), part.split("@")[0].rsplit(".", 1), strict=True))
               for part in spec["output"].strip(".").split("...")]
    values = {"csv-upload.filename": "upload.csv", "current-portfolio.data": {"id": pid, "name": "Mine"},
              "transactions-version.data": 0}
    contents = "data:text/csv;base64," + base64.b64encode(csv_text.encode()).decode()
    return {"output": spec["output"], "outputs": outputs, "changedPropIds": ["csv-upload.contents"],
            "inputs": [{"id": "csv-upload", "property": "contents", "value": contents}],
            "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]]}


def test_a_cross_origin_dash_callback_is_refused_and_imports_nothing(local, portfolio):
    _, client, services = local
    pid, _ = portfolio
    body = _upload_callback(client, pid, CSV)
    response = client.post("/_dash-update-component", json=body, headers={"Origin": EVIL})
    _refused(response)
    assert response.mimetype == "application/json"
    assert len(_ledger(services, pid)) == 1
    # The same callback from the page itself (the renderer's fetch sends Origin) goes through.
    response = client.post("/_dash-update-component", json=body, headers={"Origin": SELF})
    assert response.status_code == 200, response.data[:300]
    assert "Imported 2 transactions" in response.get_data(as_text=True)
    assert len(_ledger(services, pid)) == 3


def test_a_refused_page_form_is_html(local):
    _, client, _ = local
    response = client.post("/transactions", data={"a": "b"}, headers={"Origin": EVIL})
    assert response.status_code == 403
    assert response.mimetype == "text/html" and b"cross-site request refused" in response.data
