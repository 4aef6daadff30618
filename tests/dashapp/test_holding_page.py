"""The holding view and the closed positions page (issue 15) through the real app: layouts, callbacks, JSON API.

Real SQLite and diskcache, the demo provider, the clock frozen on Saturday 29 November 2025. The ledger: KO
bought 10 at 50 (fees 1) and 5 sold at 60 (fees 1); NFLX bought 4 at 100 and all 4 sold at 90 (closed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time

import plotly.utils
import pytest

import dashapp.api_holding  # noqa: F401  (adds its routes to the API blueprint before create_app registers it)
from dashapp import create_app
from dashapp.components.closed_view import NO_CLOSED, closed_link_text
from dashapp.components.holding_view import PRICES_NOT_LOADED, holding_href, price_figure
from dashapp.pages._holding import closed_count_text, closed_outputs, holding_key, holding_outputs
from services.config import Settings
from services.container import build_services
from services.holding_detail import ChartMarker, PriceHistory
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
HOST = "http://localhost/"
CSV = """date,ticker,type,quantity,price,fees,note
2025-03-03,KO,BUY,10,50,1,first lot
2025-06-02,KO,SELL,5,60,1,trim
2025-03-03,NFLX,BUY,4,100,0,
2025-05-01,NFLX,SELL,4,90,0,out
"""


@pytest.fixture
def world(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, warmup_enabled=False)
    clock = MarketClock(now=lambda: SATURDAY)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    pid = services.ledger.create_portfolio("Mine <b>").id
    services.ledger.import_csv(pid, CSV)
    empty = services.ledger.create_portfolio("Empty").id
    services.ledger.import_csv(empty, "date,ticker,type,quantity,price\n2025-03-03,KO,BUY,1,50\n")
    other = services.ledger.for_owner("someone-else").create_portfolio("Theirs").id
    app = create_app(settings, services)
    yield app, services, pid, empty, other
    services.close()


@contextlib.contextmanager
def as_user(app):
    """A request of the local user, through the app's own hooks (the login gate sets who is asking)."""
    with app.server.test_request_context("/"):
        app.server.preprocess_request()
        yield


def text_of(children) -> str:
    return json.dumps(children, cls=plotly.utils.PlotlyJSONEncoder)


def test_the_address_is_routed_to_the_holding_page_with_its_key(world):
    app, _services, pid, *_ = world
    client = app.server.test_client()
    layout = client.get("/_dash-layout", headers={"Referer": f"{HOST}portfolio/{pid}/holding/KO"}).get_data(
        as_text=True)
    assert '"holding-key"' in layout and '"ticker":"KO"' in layout and "value-chart" not in layout
    closed = client.get("/_dash-layout", headers={"Referer": f"{HOST}portfolio/{pid}/closed"}).get_data(
        as_text=True)
    assert '"closed-key"' in closed and "value-chart" not in closed
    assert client.get(f"/portfolio/{pid}/holding/KO").status_code == 200


def test_an_escaped_ticker_comes_back_whole():
    assert holding_href(3, "^GSPC") == "/portfolio/3/holding/%5EGSPC"
    assert holding_href(3, "BRK/B") == "/portfolio/3/holding/BRK%2FB"
    assert holding_key("3", "%5EGSPC") == {"portfolio_id": "3", "ticker": "^GSPC"}


def test_an_open_holding_shows_its_figures_and_transactions(world):
    app, _services, pid, *_ = world
    with as_user(app):
        children, settled = holding_outputs({"portfolio_id": str(pid), "ticker": "ko"})
    text = text_of(children)
    # Realized: 5 x 60 - 1 = 299 against 5 x (501 / 10) = 250.50: +48.50.
    assert "+$48.50" in text
    assert "first lot" in text and "trim" in text and text.index("trim") < text.index("first lot")  # newest first
    assert "Mine <b>" in text  # the portfolio's name, as text
    assert "Total return" in text and "Back to the dashboard" in text
    assert isinstance(settled, bool)


def test_a_closed_position_shows_its_realized_result(world):
    app, _services, pid, *_ = world
    with as_user(app):
        children, _settled = holding_outputs({"portfolio_id": str(pid), "ticker": "NFLX"})
    text = text_of(children)
    assert "Closed on" in text and "2025-05-01" in text
    assert text.count("-$40.00") >= 2  # realized 4 x 90 - 400 = -40, and the total with no dividends


@pytest.mark.parametrize(("key", "says"), [
    ({"portfolio_id": "PID", "ticker": "ZZZ"}, "This portfolio has never held 'ZZZ'."),
    ({"portfolio_id": "9999", "ticker": "KO"}, "There is no portfolio 9999"),
    ({"portfolio_id": "abc", "ticker": "KO"}, "There is no portfolio with the id 'abc'."),
    ({"portfolio_id": "OTHER", "ticker": "KO"}, "There is no portfolio OTHER"),  # another owner's: the same
])
def test_what_does_not_exist_says_so(world, key, says):
    app, _services, pid, _empty, other = world
    key = {k: v.replace("PID", str(pid)).replace("OTHER", str(other)) for k, v in key.items()}
    says = says.replace("OTHER", str(other))
    with as_user(app):
        children, settled = holding_outputs(key)
    text = text_of(children)
    assert says in text and "Holding not found" in text and settled is True


def test_the_chart_marks_buys_and_sells_or_says_its_prices_are_not_loaded():
    chart = PriceHistory("ready", (dt.date(2025, 3, 3), dt.date(2025, 3, 4)), (49.0, 51.0), "USD", (
        ChartMarker(dt.date(2025, 3, 3), "BUY", 50.0, 10.0, 50.0), ChartMarker(dt.date(2025, 3, 4), "SELL", 52.0,
                                                                                5.0, 52.0)))
    figure = price_figure(chart)
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["Close", "Buy", "Sell"]
    buy, sell = figure["data"][1], figure["data"][2]
    assert (buy["x"], buy["y"], buy["marker"]["symbol"]) == (["2025-03-03"], [50.0], "triangle-up")
    assert (sell["x"], sell["y"], sell["marker"]["symbol"]) == (["2025-03-04"], [52.0], "triangle-down")
    from dashapp.components.holding_view import chart_view

    assert PRICES_NOT_LOADED in text_of(chart_view(PriceHistory("not_loaded", (), (), None, ())))


def test_the_closed_positions_page_lists_them_and_says_when_there_are_none(world):
    app, _services, pid, empty, other = world
    with as_user(app):
        listed = text_of(closed_outputs(str(pid)))
        none = text_of(closed_outputs(str(empty)))
        theirs = text_of(closed_outputs(str(other)))
        count = closed_count_text(pid)
    assert "NFLX" in listed and "KO" not in listed and "2025-05-01" in listed
    assert f"/portfolio/{pid}/holding/NFLX" in listed
    assert NO_CLOSED in none
    assert f"There is no portfolio {other}" in theirs and "NFLX" not in theirs
    assert count == closed_link_text(1) == "Closed positions (1)"


def test_the_json_api_answers_a_holding_and_404s_what_is_not_there(world):
    app, _services, pid, _empty, other = world
    client = app.server.test_client()
    answer = client.get(f"/api/portfolios/{pid}/holdings/KO")
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["ticker"], body["is_open"], body["figures"]["realized_gain"]) == ("KO", True, 48.5)
    assert [t["type"] for t in body["transactions"]] == ["SELL", "BUY"]
    assert body["chart"]["status"] in ("ready", "not_loaded")
    for path in (f"/api/portfolios/{pid}/holdings/ZZZ", f"/api/portfolios/{other}/holdings/KO"):
        missing = client.get(path)
        assert missing.status_code == 404 and "error" in missing.get_json()
    closed = client.get(f"/api/portfolios/{pid}/closed-positions").get_json()
    assert [(c["ticker"], c["realized_gain"], c["total"]) for c in closed["closed"]] == [("NFLX", -40.0, -40.0)]


def _detail(**figures):
    from services.holding_detail import HoldingDetail, HoldingFigures
    from services.payloads import PortfolioInfo

    base = dict(quantity=6.0, avg_cost=100.5, cost_basis=603.0, price=None, market_value=None, unrealized_gain=None,
                unrealized_gain_pct=None, day_change=None, day_change_pct=None, realized_gain=116.0, dividends=3.0,
                total_return=None, price_status="missing", price_as_of=None, first_date=dt.date(2025, 3, 3),
                closed_on=None)
    is_open = figures.pop("is_open", True)
    return HoldingDetail(PortfolioInfo(1, "P", "EUR"), "AAA", is_open, HoldingFigures(**{**base, **figures}), (),
                         PriceHistory("not_loaded", (), (), None, ()))


def _tiles(children) -> dict[str, list[str]]:
    """{label: [value, sub]} of the rendered figure tiles."""
    tiles = {}

    def walk(node):
        if node is None or isinstance(node, str | int | float):
            return
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
            return
        if getattr(node, "className", None) == "holding-figure":
            texts = [child.children for child in node.children]
            tiles[texts[0]] = texts[1:]
            return
        walk(getattr(node, "children", None))

    walk(children)
    return tiles


def test_an_unpriced_holding_reads_missing_and_shows_no_made_up_value():
    from dashapp.components.holding_view import holding_body

    children = holding_body(_detail(), SATURDAY)
    tiles = _tiles(children)
    assert tiles["Market value"] == ["—"] and tiles["Total return"] == ["—"]
    assert tiles["Unrealized"] == ["—", "—"]
    assert tiles["Realized"] == ["+€116.00"] and tiles["Dividends"] == ["€3.00"]  # in the portfolio's currency
    assert '"Missing"' in text_of(children) and "text-bg-danger" in text_of(children)
    assert PRICES_NOT_LOADED in text_of(children)


def test_a_position_closed_today_shows_its_day_change():
    from dashapp.components.holding_view import holding_body

    closed = dict(is_open=False, quantity=0.0, avg_cost=None, cost_basis=None, price_status=None,
                  closed_on=dt.date(2025, 11, 28), total_return=119.0)
    tiles = _tiles(holding_body(_detail(**closed, day_change=-2.5), SATURDAY))
    assert tiles["Closed on"] == ["2025-11-28"] and tiles["Day change"] == ["-€2.50"]
    assert tiles["Total return"] == ["+€119.00"]
    assert "Day change" not in _tiles(holding_body(_detail(**closed), SATURDAY))  # not closed today: none


def test_the_api_answers_match_their_openapi_schemas(world):
    from jsonschema import Draft202012Validator

    from dashapp.openapi import openapi_spec
    from dashapp.openapi_holding import HOLDING_PATHS, HOLDING_SCHEMAS

    app, services, pid, *_ = world
    schemas = {**openapi_spec()["components"]["schemas"], **HOLDING_SCHEMAS}

    def problems(name: str, body: dict) -> list[str]:
        validator = Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}},
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(body)]

    client = app.server.test_client()
    services.dashboard.holdings(pid, wait_s=10)  # KO priced and charted: the ready chart's shape is checked too
    for ticker in ("KO", "NFLX"):
        body = client.get(f"/api/portfolios/{pid}/holdings/{ticker}").get_json()
        assert problems("HoldingDetail", body) == [], ticker
    ko = client.get(f"/api/portfolios/{pid}/holdings/KO").get_json()
    assert ko["chart"]["status"] == "ready" and ko["chart"]["markers"]
    closed = client.get(f"/api/portfolios/{pid}/closed-positions").get_json()
    assert problems("ClosedPositions", closed) == []
    assert problems("HoldingDetail", {**ko, "is_open": "yes"}) != []  # the check can fail
    assert set(HOLDING_PATHS) == {"/api/portfolios/{portfolio_id}/holdings/{ticker}",
                                  "/api/portfolios/{portfolio_id}/closed-positions"}


def test_the_static_skeletons_render_as_plain_html():
    """What a page-registry entry would paint before any JavaScript (dashapp/page_registry.py lists the kinds)."""
    from dashapp.components.closed_view import closed_page
    from dashapp.components.holding_view import holding_page
    from dashapp.components.static_html import to_html

    holding = to_html(holding_page(None, static=True))
    assert "skeleton" in holding and "holding-key" not in holding and "part is-loading" in holding
    closed = to_html(closed_page(None, static=True))
    assert "Closed positions" in closed and "closed-key" not in closed


def test_the_view_looks_again_until_a_stale_price_is_fresh_again(tmp_path):
    """Wednesday 26 November 2025, New York open: KO's quote is fresh, then 10 minutes later stale (older than
    its 5-minute window). Opening the view then starts its fetch and keeps looking (not settled) until the fresh
    quote has landed; it does not stop at the first answer as it did, showing "Stale" for good."""
    now = [dt.datetime(2025, 11, 26, 16, 0, tzinfo=dt.UTC)]
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, warmup_enabled=False)
    clock = MarketClock(now=lambda: now[0])
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    try:
        pid = services.ledger.create_portfolio("Mine").id
        services.ledger.import_csv(pid, "date,ticker,type,quantity,price\n2025-03-03,KO,BUY,10,50\n")
        app = create_app(settings, services)

        def look() -> tuple[bool, str | None]:
            with as_user(app):
                _children, settled = holding_outputs({"portfolio_id": str(pid), "ticker": "KO"})
            return settled, services.prices.prices(["KO"])["KO"].status  # the cache's answer, nothing fetched

        def until_settled() -> tuple[bool, str | None]:
            deadline = time.monotonic() + 20
            answer = look()
            while not answer[0] and time.monotonic() < deadline:
                time.sleep(0.1)
                answer = look()
            return answer

        assert until_settled() == (True, "fresh")
        now[0] += dt.timedelta(minutes=10)
        first = look()
        assert first == (False, "stale")  # stale: keep looking (the fetch has started)
        assert until_settled() == (True, "fresh")
    finally:
        services.close()
