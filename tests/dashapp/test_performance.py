"""The performance chart, its figures and the benchmark picker (dashapp/components/performance.py,
benchmark_picker.py): figures from stated payloads, the picker through the app's real callback and ledger."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from dash import html, no_update

from dashapp import create_app, ids
from dashapp.components.holding_view import figures_view
from dashapp.components.part_views import PartView
from dashapp.components.performance import (
    NO_TWR,
    NOT_ANNUALIZED,
    NOT_AVAILABLE,
    benchmark_name,
    benchmark_of,
    field,
    performance_figure,
    performance_figures,
    performance_outputs,
)
from dashapp.components.skeleton import LOADED, LOADING
from dashapp.components.transactions import transactions_page
from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.payloads import ChartPending, ChartReady, RangeReturns, Series
from services.providers.demo import DemoProvider

# The README's worked week: Mon 0, Tue +10 %, Wed 1.1 x 0.9 - 1 = -1 %, Thu 0.99 x 1.1 - 1 = +8.9 %,
# Fri 1.089 x 1.1 - 1 = +19.79 %; the benchmark (its own closes 100, 101, 102, -, 105) 0, +1 %, +2 %, null, +5 %.
WEEK = ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06")
TWR = (0.0, 0.1, -0.01, 0.089, 0.1979)
BENCH = (0.0, 0.01, 0.02, None, 0.05)
SERIES = Series(WEEK, (1000.0, 1100.0, 1980.0, 1633.5, 1796.85), (1000.0, 1000.0, 2100.0, 1575.0, 1575.0),
                twr=TWR, benchmark=BENCH)
# Four days: not annualized; the XIRR is an annual rate (huge over 4 days), the money-weighted return over the
# range is shown instead (the README's worked week: about +17 %).
SHORT = RangeReturns(0.1979, None, "not annualized: range shorter than a year", 1.6e6, None, 0.17, 0.05, "^GSPC")
READY_VIEW = PartView(LOADED)


def test_both_lines_start_at_zero_on_the_first_date_on_a_percent_axis():
    figure = performance_figure(SERIES, "^GSPC")
    portfolio, benchmark = figure["data"]
    assert (portfolio["name"], benchmark["name"]) == ("Portfolio", "^GSPC")  # the benchmark named by its ticker
    assert portfolio["y"][0] == 0 and benchmark["y"][0] == 0
    assert portfolio["y"] == list(TWR) and benchmark["y"][3] is None  # a missing close is a gap, not a zero
    assert portfolio["x"] == benchmark["x"] == list(WEEK)
    assert figure["layout"]["yaxis"]["tickformat"].endswith("%")
    assert figure["layout"]["legend"]["orientation"] == "h"  # one row above the plot: readable on a phone
    json.dumps(figure)


def test_a_benchmark_without_prices_draws_no_line():
    figure = performance_figure(Series(WEEK, (1.0,) * 5, (1.0,) * 5, twr=TWR, benchmark=(None,) * 5), "^GSPC")
    assert [trace["name"] for trace in figure["data"]] == ["Portfolio"]


def _texts(figures) -> list[tuple[str, str, str | None]]:
    return [(f.label, f.value, f.sub) for f in figures]


def test_a_short_range_shows_the_money_weighted_return_over_it_and_no_annual_rate():
    assert _texts(performance_figures(SHORT, SERIES, "^GSPC")) == [
        ("TWR", "+19.79%", "time-weighted"),
        ("TWR p.a.", "—", NOT_ANNUALIZED),
        ("Money-weighted", "+17.00%", "over the range"),  # not the XIRR of +160,000,000 %
        ("^GSPC", "+5.00%", "S&P 500"),
    ]


def test_a_year_or_more_shows_the_annualized_twr_and_the_xirr():
    # 2024-01-02 .. 2026-01-02 is 731 days; (1 + 0.21) ** (365 / 731) - 1 = 0.1000... given as 0.1 by the payload.
    series = Series(("2024-01-02", "2026-01-02"), (100.0, 121.0), (100.0, 100.0), twr=(0.0, 0.21),
                    benchmark=(0.0, -0.125))
    returns = RangeReturns(0.21, 0.1, None, 0.0975, None, 0.204, -0.125, "VT")
    assert _texts(performance_figures(returns, series, "VT")) == [
        ("TWR", "+21.00%", "time-weighted"),
        ("TWR p.a.", "+10.00%", "annualized"),
        ("XIRR", "+9.75%", "money-weighted, p.a."),
        ("VT", "-12.50%", "Vanguard Total World"),
    ]


def test_undefined_measures_say_why_and_a_benchmark_without_prices_says_so():
    returns = RangeReturns(None, None, "not annualized: range shorter than a year", None, "no sign change", None,
                           None, "^IXIC")
    series = Series(WEEK, (None,) * 5, (1.0,) * 5, twr=(None,) * 5, benchmark=(None,) * 5)
    assert _texts(performance_figures(returns, series, "^IXIC")) == [
        ("TWR", "—", "time-weighted"),
        ("TWR p.a.", "—", NOT_ANNUALIZED),
        ("Money-weighted", "—", "no sign change"),
        ("^IXIC", "—", "Nasdaq Composite prices not loaded yet"),
    ]


def test_the_money_made_over_the_range_is_shown_in_the_series_currency():
    # The worked week's 1,796.85 - 1,000 + 544.50 - 1,100 = 241.35 (services/returns_chart.py `_range_gain`).
    returns = RangeReturns(0.1979, None, NOT_ANNUALIZED, 1.6e6, None, 0.17, 0.05, "^GSPC", 241.35)
    euros = Series(WEEK, SERIES.market_value, SERIES.cost_basis, "EUR", twr=TWR, benchmark=BENCH)
    gain = performance_figures(returns, euros, "^GSPC")[-1]
    assert (gain.label, gain.value, gain.sub, gain.tone) == ("Gain", "+€241.35", "over the range", "text-gain")
    assert performance_figures(SHORT, SERIES, "^GSPC")[-1].label == "^GSPC"  # a chart stored before: no tile


def test_tones_follow_the_sign():
    returns = RangeReturns(-0.05, None, "n", None, None, 0.0, 0.02, "^GSPC")
    tones = [f.tone for f in performance_figures(returns, SERIES, "^GSPC")]
    assert tones == ["text-loss", "text-muted", "text-muted", "text-gain"]


def test_the_benchmark_is_the_payloads_then_the_portfolios_then_the_default():
    assert benchmark_of(SHORT, {"benchmark": "VT"}) == "^GSPC"  # what the line was computed with
    assert benchmark_of(None, {"benchmark": "VT"}) == "VT"
    assert benchmark_of(None, {"id": 1}) == "^GSPC"
    assert benchmark_name("^gspc") == "S&P 500" and benchmark_name("ABC.L") == "ABC.L"
    assert field({"twr": 1}, "twr") == 1 and field(SHORT, "nope") is None and field(None, "twr") is None


def test_performance_outputs_while_pending_shimmer_and_when_ready_draw():
    pending = performance_outputs(ChartPending("1Y", 0.4), PartView(LOADING, wait=True), {"id": 1},
                                  has_holdings=True)
    assert pending[0] is no_update and pending[1] == LOADING and len(pending[3]) == 5  # five shimmering tiles
    ready = performance_outputs(ChartReady("1M", SERIES, (), returns=SHORT), READY_VIEW,
                                {"id": 1}, has_holdings=True)
    figure, class_name, message, tiles = ready
    assert [t["name"] for t in figure["data"]] == ["Portfolio", "^GSPC"] and class_name == LOADED
    assert message is None and len(tiles) == 4
    assert "+19.79%" in str(tiles[0])


def test_a_chart_built_before_returns_existed_says_not_available_yet():
    old = ChartReady("1M", Series(WEEK, (1.0,) * 5, (1.0,) * 5), ())  # no twr, no returns: a cached payload
    figure, _class, message, tiles = performance_outputs(old, READY_VIEW, {"id": 1}, has_holdings=True)
    assert figure["data"] == [] and NOT_AVAILABLE in str(message) and tiles == []
    unvalued = ChartReady("1M", Series(WEEK, (None,) * 5, (1.0,) * 5, twr=(None,) * 5), ())
    assert NO_TWR in str(performance_outputs(unvalued, READY_VIEW, None, has_holdings=True)[2])


def _ids(component) -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
            return
        if getattr(node, "id", None) is not None and isinstance(node.id, str):
            found.append(node.id)
        if hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return found


def test_the_picker_sits_under_the_base_currency_select_with_the_current_ticker():
    portfolio = {"id": 1, "name": "Main", "base_currency": "USD", "benchmark": "^IXIC"}
    page = transactions_page(portfolio, today="2026-03-02")
    order = _ids(page)
    assert (order.index(ids.PORTFOLIO_BASE_APPLY) < order.index(ids.BENCHMARK_INPUT)
            < order.index(ids.BENCHMARK_APPLY) < order.index(ids.PORTFOLIO_NEW_NAME))
    assert "^IXIC, Nasdaq Composite" in str(page)
    lonely = transactions_page(None, today="2026-03-02")
    assert ids.BENCHMARK_INPUT not in _ids(lonely)


# -- the picker's callback on the real app and ledger ----------------------------------------------------------
@pytest.fixture
def app_and_ledger(tmp_path):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False)
    clock = MarketClock(now=lambda: dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.UTC))
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    portfolio = services.ledger.create_portfolio("Main")
    yield create_app(settings, services).server.test_client(), services.ledger, portfolio.id
    services.close()


def _apply(client, pid: int, ticker: str | None) -> str:
    """Press Apply with `ticker` in the input, as the renderer sends it (the spec read from /_dash-dependencies)."""
    [spec] = [c for c in client.get("/_dash-dependencies").get_json()
              if {"id": ids.BENCHMARK_APPLY, "property": "n_clicks"} in c["inputs"]]
    outputs = [dict(zip(("id", "property"), part.split("@")[0].rsplit(".", 1), strict=True))
               for part in spec["output"].strip(".").split("...")]
    state = {ids.BENCHMARK_INPUT: ticker, ids.CURRENT_PORTFOLIO: {"id": pid, "name": "Main"}}
    body = {"output": spec["output"], "outputs": outputs, "changedPropIds": [f"{ids.BENCHMARK_APPLY}.n_clicks"],
            "inputs": [{"id": ids.BENCHMARK_APPLY, "property": "n_clicks", "value": 1}],
            "state": [{**s, "value": state.get(s["id"])} for s in spec["state"]]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:300]
    return response.get_data(as_text=True)


def test_apply_changes_the_benchmark_and_a_bad_ticker_is_refused_by_name(app_and_ledger):
    client, ledger, pid = app_and_ledger
    assert ledger.get_portfolio(pid).benchmark == "^GSPC"  # the default
    answer = _apply(client, pid, " ^ixic ")
    assert "Now compared with ^IXIC, Nasdaq Composite" in answer and ledger.get_portfolio(pid).benchmark == "^IXIC"
    refused = _apply(client, pid, "not a ticker!")
    assert "Benchmark not changed" in refused and "not a ticker symbol" in refused and "alert-danger" in refused
    assert ledger.get_portfolio(pid).benchmark == "^IXIC"  # unchanged
    assert "Now compared with ^GSPC" in _apply(client, pid, "  ")  # empty: back to the default
    assert ledger.get_portfolio(pid).benchmark == "^GSPC"


# -- the holding view's own TWR --------------------------------------------------------------------------------
def _detail(**extra) -> SimpleNamespace:
    figures = SimpleNamespace(quantity=10.0, avg_cost=100.0, market_value=1125.0, unrealized_gain=125.0,
                              unrealized_gain_pct=0.125, day_change=0.0, day_change_pct=0.0, realized_gain=0.0,
                              dividends=0.0, total_return=125.0, closed_on=None, **extra)
    return SimpleNamespace(is_open=True, figures=figures)


def test_the_holding_view_shows_its_twr_while_held_when_the_payload_has_it():
    # Bought 10 at 100, now 112.50 with no other flow: TWR = 112.5 / 100 - 1 = +12.50 %.
    shown = str(figures_view(_detail(twr=0.125), "USD"))
    assert "TWR while held" in shown and "+12.50%" in shown
    assert "TWR while held" not in str(figures_view(_detail(), "USD"))  # an older payload: no tile
    unknown = figures_view(_detail(twr=None), "USD")
    tile = next(c for c in unknown.children if "TWR while held" in str(c))
    assert isinstance(tile, html.Div) and "—" in str(tile)
