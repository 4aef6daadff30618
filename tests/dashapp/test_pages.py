"""The Dash side of the app through Flask's test client: the index page and the first layout of each page."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from dashapp import create_app
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.demo import DemoProvider

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)
HOST = "http://localhost/"


@pytest.fixture
def dash_app(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False)
    clock = MarketClock(now=lambda: SATURDAY)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    services.ledger.create_portfolio("First <one>")
    yield create_app(settings, services)
    services.close()


@pytest.fixture
def client(dash_app):
    return dash_app.server.test_client()


def _layout(client, referrer: str | None) -> str:
    headers = {"Referer": referrer} if referrer else {}
    response = client.get("/_dash-layout", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_index_has_the_skeleton_and_the_referrer_policy(client):
    html = client.get("/").get_data(as_text=True)
    assert html.index('id="static-skeleton"') < html.index("<script")
    assert '<meta name="referrer" content="same-origin">' in html
    assert "Demo mode" in html  # the demo provider is active
    assert "Add a transaction" in client.get("/transactions").get_data(as_text=True)


def _head_and_boot(html: str) -> tuple[str, str]:
    head = html[:html.index("</head>")]
    boot = re.search(r'<template id="dash-boot">(.*?)</template>', html, re.S)
    assert boot is not None, "Dash's tags belong in the boot template"
    return head, boot.group(1)


def test_index_inlines_the_skeletons_css_and_defers_the_stylesheets(client):
    head, boot = _head_and_boot(client.get("/").get_data(as_text=True))
    assert '<link rel="stylesheet"' not in head  # nothing in the head holds the first paint back
    critical = re.search(r'<style id="critical-css">(.*?)</style>', head, re.S).group(1)
    assert ".navbar{" in critical and ".summary-card" in critical
    assert ".modal{" not in critical and ".modal-dialog" not in critical  # the skeleton has no dialog
    assert len(critical) < 40_000
    links = re.findall(r'<link rel="stylesheet" href="([^"?]+)', boot)
    assert links == ["/assets/00-bootstrap-flatly.min.css", "/assets/app.css"]


def test_index_keeps_dashs_scripts_in_order_inside_the_boot_template(client):
    html = client.get("/portfolio/1").get_data(as_text=True)
    _head, boot = _head_and_boot(html)
    sources = re.findall(r'<script src="([^"]+)"', boot)
    renderer = next(i for i, src in enumerate(sources) if "dash_renderer" in src)
    react = next(i for i, src in enumerate(sources) if "/react@" in src)
    assert react < renderer
    assert boot.rstrip().endswith("var renderer = new DashRenderer();</script>")
    outside = html.replace(boot, "")
    assert "<script src=" not in outside  # every external script waits for the first paint
    assert "requestAnimationFrame" in outside  # the loader itself is inline


def test_transactions_index_inlines_the_css_of_its_own_skeleton(client):
    head, _boot = _head_and_boot(client.get("/transactions").get_data(as_text=True))
    dashboard_head, _ = _head_and_boot(client.get("/").get_data(as_text=True))
    critical = re.search(r'<style id="critical-css">(.*?)</style>', head, re.S).group(1)
    assert critical != re.search(r'<style id="critical-css">(.*?)</style>', dashboard_head, re.S).group(1)
    assert ".form-control" in critical  # the add-transaction form is part of this skeleton only


def test_external_stylesheets_stay_ordinary_links(dash_app):
    external = '<link rel="stylesheet" href="https://cdn.example.org/x.css">'
    local = '<link rel="stylesheet" href="/assets/app.css?m=1">'
    with dash_app.server.test_request_context("/"):
        head, deferred = dash_app.split_css(external + "\n" + local, "dashboard")
    assert external in head and local not in head
    assert deferred == local


def test_first_layout_carries_the_dashboard(client):
    layout = json.loads(_layout(client, HOST))
    text = json.dumps(layout)
    assert "summary-market-value" in text and "holdings-table" in text
    assert '"pathname": "/"' in text and f'"href": "{HOST}"' in text  # the location has nothing to report
    assert "First <one>" in text  # the selector starts filled (rendered as text by React)


@pytest.mark.parametrize(("path", "marker"), [
    ("transactions", "transactions-table"),
    ("transactions?portfolio=1", "transactions-table"),
    ("portfolio/1", "value-chart"),
    ("portfolio/999", "There is no portfolio 999"),
])
def test_first_layout_of_each_page(client, path, marker):
    assert marker in _layout(client, HOST + path)


@pytest.mark.parametrize("referrer", [None, "http://elsewhere.example/", HOST + "no/such/page"])
def test_without_a_usable_referrer_the_router_renders_the_page(client, referrer):
    text = _layout(client, referrer)
    assert "_pages_content" in text and "summary-market-value" not in text


def _props(output: str) -> list[str]:
    """`id.prop` of each output in a /_dash-dependencies output string (`..a.b...c.d..` when there are several;
    allow_duplicate outputs carry an `@hash` suffix)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [part.split("@", 1)[0] for part in parts]


def test_no_callback_waits_on_what_it_sets_off(client):
    """Dash's renderer holds a callback back while one of its inputs or states can still be changed by a pending
    callback downstream of it. A callback that reads PRICES_READY and writes PRICES_PENDING (which sets off the
    wait that writes PRICES_READY) is then held back by itself: the holdings table stayed a skeleton after the
    prices had landed (issue 11, item 3). So no callback may read anything its own outputs lead to."""
    callbacks = client.get("/_dash-dependencies").get_json()
    by_input: dict[str, list[dict]] = {}
    for callback in callbacks:
        for item in callback["inputs"]:
            by_input.setdefault(f"{item['id']}.{item['property']}", []).append(callback)

    def downstream(outputs: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(outputs)
        while todo:
            prop = todo.pop()
            for callback in by_input.get(prop, []):
                for produced in _props(callback["output"]):
                    if produced not in seen:
                        seen.add(produced)
                        todo.append(produced)
        return seen

    # The first fills (they run as the page mounts) never wait for the cold path: nothing they read lies
    # downstream of a *_PENDING store, or the summary appears only after every price has landed.
    cold_path = downstream(["prices-pending.data", "chart-pending.data"])
    first_fills = [c for c in callbacks if any(item["id"] == "current-portfolio" for item in c["inputs"])]
    assert len(first_fills) >= 4  # summary, holdings, allocation, chart (and the shell)
    held_back = {c["output"]: sorted({f"{i['id']}.{i['property']}" for i in c["inputs"]} & cold_path)
                 for c in first_fills}
    assert {output: read for output, read in held_back.items() if read} == {}

    loops = []
    for callback in callbacks:
        own = set(_props(callback["output"]))
        read = {f"{item['id']}.{item['property']}" for item in callback["inputs"] + callback["state"]} - own
        if caught := read & downstream(sorted(own)):
            loops.append((callback["output"], sorted(caught)))
    assert len(by_input["prices-ready.data"]) >= 3  # the graph was read: summary, holdings, allocation, chart
    assert loops == []


@pytest.mark.parametrize(("path", "status"), [
    ("/", 200), ("/portfolio/1", 200), ("/transactions", 200), ("/transactions?portfolio=1", 200),
    ("/nope", 404), ("/portfolio/999", 404), ("/portfolio/abc", 404), ("/transactions?portfolio=999", 404),
    ("/404", 404), ("/portfolio/1/extra", 404),
])
def test_pages_that_show_nothing_that_exists_answer_404(client, path, status):
    """The fixture's ledger has portfolio 1 only. The body is still the app (its 404 page or its message)."""
    response = client.get(path)
    assert response.status_code == status
    assert 'id="static-skeleton"' in response.get_data(as_text=True)


def test_the_api_and_assets_keep_their_own_status(client):
    assert client.get("/api/portfolios").status_code == 200
    assert client.get("/api/portfolios/999/transactions").status_code == 404
    assert client.get("/assets/app.css").status_code == 200


def test_the_selector_is_filled_on_every_page_the_404_page_included(client):
    def find(node, wanted):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == wanted:
                return node["props"]
            return next((found for child in node.values() if (found := find(child, wanted))), None)
        if isinstance(node, list):
            return next((found for child in node if (found := find(child, wanted))), None)
        return None

    select = find(json.loads(_layout(client, HOST + "nope")), "portfolio-select")
    assert select["options"] == [{"label": "First <one>", "value": "1"}]
    assert select["placeholder"] == "Choose a portfolio"


def _find_props(node, wanted: str) -> dict | None:
    """The props of the component whose id is `wanted` in a /_dash-layout tree (None when absent)."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == wanted:
            return node["props"]
        return next((found for child in node.values() if (found := _find_props(child, wanted))), None)
    if isinstance(node, list):
        return next((found for child in node if (found := _find_props(child, wanted))), None)
    return None


def test_the_chart_card_mounts_in_value_mode_and_its_toggle_asks_the_server_nothing(client):
    """Issue 16: the Value | Performance toggle adds no request to the page's load: the mode store starts at
    "value", the toggle is a clientside callback that does not run on load, and the one server callback reading
    the mode is the chart's first fill (which ran on load before)."""
    layout = json.loads(_layout(client, HOST + "portfolio/1"))
    assert _find_props(layout, "chart-mode")["data"] == "value"
    assert _find_props(layout, "chart-title")["children"] == "Value over time"
    assert _find_props(layout, "performance-figures")["style"] == {"display": "none"}
    callbacks = client.get("/_dash-dependencies").get_json()
    readers = [c for c in callbacks if {"id": "chart-mode", "property": "data"} in c["inputs"]]
    assert [_props(c["output"])[:1] for c in readers] == [["value-chart.figure"]]
    toggle = [c for c in callbacks if "chart-mode.data" in _props(c["output"])]
    assert len(toggle) == 1 and toggle[0]["clientside_function"] and toggle[0]["prevent_initial_call"]


def test_the_transactions_page_offers_the_benchmark_under_the_base_currency(client):
    layout = json.loads(_layout(client, HOST + "transactions?portfolio=1"))
    assert _find_props(layout, "benchmark-input")["value"] == "^GSPC"  # the default of a new portfolio
    assert _find_props(layout, "benchmark-label")["children"] == "^GSPC, S&P 500"
    text = json.dumps(layout)
    assert text.index("portfolio-base-apply") < text.index("benchmark-input") < text.index("portfolio-new-name")
