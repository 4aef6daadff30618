"""The dashboard of one portfolio, at /portfolio/<id> (home.py shows the first one at /).

One callback per part, so each part fills on its own: summary cards and badge (`initial_data`, cache only),
holdings table and allocation (`holdings_data` without waiting), value chart (`chart_data` without waiting).
When a payload says data is still arriving, the part writes a *_PENDING store and a background callback waits
for it with a progress bar, then writes *_READY, which makes the parts fill again from the now-warm cache.
"""

from __future__ import annotations

import time

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components.cold_path import (
    POLL_INTERVAL_MS,
    POLL_S,
    Stall,
    is_waiting,
    price_progress,
    wait_request,
)
from dashapp.components.dashboard import HIDDEN, SHOWN_FLEX, dashboard_page, no_portfolio_page
from dashapp.components.holdings_grid import grid_rows
from dashapp.components.price_badge import badge_view, tooltip_children
from dashapp.components.skeleton import LOADED, LOADING
from dashapp.components.summary import figure_children, summary_figures
from dashapp.figures import allocation_figure, allocation_from_holdings, value_figure
from dashapp.pages._services import currency_of, resolve_portfolio, services
from services.models import NotFoundError

dash.register_page(__name__, path_template="/portfolio/<portfolio_id>", name="Dashboard",
                   title="MyStockTracker")


def layout(portfolio_id: str | None = None, **_query: str) -> html.Div:
    """The dashboard skeleton of the portfolio; its callbacks fill it."""
    portfolio, problem = resolve_portfolio(portfolio_id)
    return dashboard_page(portfolio) if portfolio else no_portfolio_page(problem or "")


def _portfolio_id(portfolio: dict | None) -> int:
    if not portfolio:
        raise PreventUpdate
    return int(portfolio["id"])


# -- summary cards and price badge -----------------------------------------------------------------------------
_SUMMARY_OUTPUTS = [Output(value_id, "children") for value_id in (
    ids.SUMMARY_MARKET_VALUE, ids.SUMMARY_MARKET_VALUE_SUB, ids.SUMMARY_DAY_CHANGE, ids.SUMMARY_DAY_CHANGE_SUB,
    ids.SUMMARY_UNREALIZED, ids.SUMMARY_UNREALIZED_SUB, ids.SUMMARY_REALIZED, ids.SUMMARY_REALIZED_SUB)]


@callback(
    *_SUMMARY_OUTPUTS,
    Output(ids.PRICE_BADGE, "children"), Output(ids.PRICE_BADGE, "className"),
    Output(ids.PRICE_BADGE_TOOLTIP, "children"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.PRICES_READY, "data"),
)
def fill_summary(portfolio: dict | None, _ready: str | None):
    """The summary cards and the badge, from the cache alone (never waits on the price source)."""
    try:
        payload = services().dashboard.initial_data(_portfolio_id(portfolio))
    except NotFoundError:
        raise PreventUpdate from None
    cards = summary_figures(payload["summary"], currency_of(payload["portfolio"]))
    badge = badge_view(payload["prices"], payload.get("market"), services().clock.now())
    texts = [child for card in cards for child in figure_children(card)]
    return *texts, badge.text, badge.class_name, tooltip_children(badge)


# -- holdings table and allocation -----------------------------------------------------------------------------
@callback(
    Output(ids.HOLDINGS_TABLE, "rowData"), Output(ids.HOLDINGS_PART, "className"),
    Output(ids.HOLDINGS_COUNT, "children"), Output(ids.PRICES_PENDING, "data"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.PRICES_READY, "data"), Input(ids.REFRESH_PRICES, "n_clicks"),
    State(ids.PRICES_PENDING, "data"),
)
def fill_holdings(portfolio: dict | None, ready: str | None, _clicks: int, pending: dict | None):
    """The holdings rows; if prices are still arriving, start the background wait for them."""
    portfolio_id = _portfolio_id(portfolio)
    try:
        payload = services().dashboard.holdings_data(portfolio_id, wait_s=0)  # starts fetching what is due
    except NotFoundError:
        raise PreventUpdate from None
    rows = grid_rows(payload["holdings"], currency_of(portfolio), services().clock.now())
    progress = price_progress(payload["prices"])
    count = f"{len(rows)} open position{'s' if len(rows) != 1 else ''}"
    waited = ctx.triggered_id == ids.PRICES_READY  # the wait just ended: show what there is, do not wait again
    if not progress.unsettled or waited:
        return rows, LOADED, count, no_update
    request = no_update if is_waiting(pending, ready) else wait_request(portfolio_id, tickers=progress.unsettled)
    nothing_priced = progress.settled == 0 and bool(rows)
    return rows, LOADING if nothing_priced else LOADED, count, request


@callback(
    Output(ids.PRICES_READY, "data"),
    Input(ids.PRICES_PENDING, "data"),
    background=True,
    interval=POLL_INTERVAL_MS,
    progress=[Output(ids.REFRESH_PROGRESS, "value"), Output(ids.REFRESH_PROGRESS, "label")],
    running=[(Output(ids.REFRESH_PROGRESS_WRAP, "style"), SHOWN_FLEX, HIDDEN),
             (Output(ids.REFRESH_PRICES, "disabled"), True, False)],
    prevent_initial_call=True,
)
def wait_for_prices(set_progress, pending: dict | None) -> str:
    """The cold path: poll the cache until every price has landed (or nothing more is arriving)."""
    if not pending:
        raise PreventUpdate
    dashboard = services().dashboard

    def look() -> tuple[object, bool, bool]:
        prices = dashboard.initial_data(pending["portfolio_id"])["prices"]
        progress = price_progress(prices)
        set_progress((progress.percent, progress.label))
        # A ticker still being fetched is progress too: only a wait with nothing in flight goes quiet.
        return progress.unsettled, bool(prices.get("fetching")), not progress.unsettled

    _poll(look)
    return pending["nonce"]


@callback(
    Output(ids.ALLOCATION_CHART, "figure"), Output(ids.ALLOCATION_PART, "className"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.PRICES_READY, "data"),
)
def fill_allocation(portfolio: dict | None, _ready: str | None):
    """The allocation donut from the holdings' weights; a skeleton until at least one holding is priced."""
    try:
        payload = services().dashboard.holdings_data(_portfolio_id(portfolio), wait_s=0)
    except NotFoundError:
        raise PreventUpdate from None
    allocation = allocation_from_holdings(payload["holdings"])
    if payload["holdings"] and not allocation and ctx.triggered_id != ids.PRICES_READY:
        return no_update, LOADING
    return allocation_figure(allocation), LOADED


# -- value chart -----------------------------------------------------------------------------------------------
@callback(
    Output(ids.VALUE_CHART, "figure"), Output(ids.VALUE_CHART_PART, "className"),
    Output(ids.VALUE_CHART_MESSAGE, "children"), Output(ids.CHART_PENDING, "data"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.CHART_RANGE, "data"), Input(ids.CHART_READY, "data"),
    Input(ids.PRICES_READY, "data"),
    State(ids.CHART_PENDING, "data"),
)
def fill_chart(portfolio: dict | None, range_name: str, ready: str | None, _prices_ready: str | None,
               pending: dict | None):
    """Market value and cost basis over the range; while history is fetched, start the background wait."""
    portfolio_id = _portfolio_id(portfolio)
    try:
        status, payload = services().dashboard.chart_data(portfolio_id, range_name or "1Y", wait_s=0)
    except NotFoundError:
        raise PreventUpdate from None
    if status == 200:
        return value_figure(payload["series"], currency_of(portfolio)), LOADED, None, no_update
    if ctx.triggered_id == ids.CHART_READY:  # waited already: say so instead of waiting forever
        message = "Price history is not available for every holding yet. Try Refresh prices in a minute."
        return no_update, LOADED, html.Div(message, className="alert alert-light border small mb-0"), no_update
    request = no_update if is_waiting(pending, ready) else wait_request(portfolio_id, range=range_name)
    return no_update, LOADING, None, request


@callback(
    Output(ids.CHART_READY, "data"),
    Input(ids.CHART_PENDING, "data"),
    background=True,
    interval=POLL_INTERVAL_MS,
    progress=[Output(ids.CHART_PROGRESS, "value")],
    running=[(Output(ids.CHART_PROGRESS_WRAP, "style"), SHOWN_FLEX, HIDDEN)],
    prevent_initial_call=True,
)
def wait_for_chart(set_progress, pending: dict | None) -> str:
    """The cold path of the chart: poll the history's progress until it is cached (or stops moving)."""
    if not pending:
        raise PreventUpdate
    dashboard = services().dashboard

    def look() -> tuple[object, bool, bool]:
        progress = dashboard.chart_progress(pending["portfolio_id"])
        set_progress(round(100 * float(progress.get("progress") or 0)))
        return progress.get("progress"), progress.get("state") == "running", progress.get("state") in ("done", "error")

    _poll(look)
    return pending["nonce"]


def _poll(look) -> None:
    """Call `look()` -> (what it saw, still moving, finished) until finished or nothing changed for a while."""
    stall = Stall(quiet_s=max(1.0, services().settings.price_wait_s))
    started = changed = time.monotonic()
    last = None
    while True:
        seen, moving, finished = look()
        now = time.monotonic()
        if seen != last or moving:
            last, changed = seen, now
        if finished or stall.over(now - started, now - changed):
            return
        time.sleep(POLL_S)


# Range buttons: in the browser, no round trip; the chart callback reacts to the store.
clientside_callback(
    """
    function(clicks, current) {
        const triggered = dash_clientside.callback_context.triggered_id;
        const selected = (triggered && triggered.range) || current;
        const names = dash_clientside.callback_context.inputs_list[0].map(i => i.id.range);
        const classes = names.map(n => "btn btn-outline-secondary" + (n === selected ? " active" : ""));
        return [selected === current ? dash_clientside.no_update : selected, classes];
    }
    """,
    Output(ids.CHART_RANGE, "data"),
    Output({"type": ids.RANGE_BUTTON, "range": ALL}, "className"),
    Input({"type": ids.RANGE_BUTTON, "range": ALL}, "n_clicks"),
    State(ids.CHART_RANGE, "data"),
    prevent_initial_call=True,
)
