"""The dashboard of one portfolio, at /portfolio/<id> (home.py shows the first one at /).

One callback per part, so each part fills on its own: summary cards and badge (`initial_data`, cache only),
holdings table and allocation (`holdings_data` without waiting), value chart (`chart_data` without waiting; in
Performance mode, issue 16, the same payload's TWR and benchmark lines and returns: components/performance.py).
When a payload says data is still arriving, the part writes a *_PENDING store and a background callback waits
for it with a progress bar, then writes *_READY, which makes the parts' refills run from the now-warm cache.
"""

from __future__ import annotations

import json
import time

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components import split_warnings
from dashapp.components.cold_path import POLL_INTERVAL_MS, POLL_S, Stall, price_progress, wait_request
from dashapp.components.dashboard import DEFAULT_RANGE, HIDDEN, SHOWN_FLEX, dashboard_page, no_portfolio_page
from dashapp.components.figures import allocation_figure, blank_figure, value_figure
from dashapp.components.holdings_grid import COLUMN_DEFS, PHONE_MAX_WIDTH, grid_rows, phone_column_defs
from dashapp.components.part_views import (
    PartView,
    allocation_view,
    chart_view,
    drawable,
    holdings_count,
    holdings_view,
    refresh_message,
)
from dashapp.components.performance import MODE_TOGGLE_JS, PERFORMANCE, VALUE, performance_outputs
from dashapp.components.price_badge import badge_view, tooltip_children
from dashapp.components.split_warnings import with_split_warnings
from dashapp.components.summary import figure_children, summary_figures
from dashapp.pages._services import currency_of, resolve_portfolio
from dashapp.services_access import services
from services.analytics import allocation_slices
from services.models import NotFoundError
from services.payloads import ChartReady, PriceBlock

split_warnings.register()  # the split warning's callbacks (again for every app built)
dash.register_page(__name__, path_template="/portfolio/<portfolio_id>", name="Dashboard",
                   title="MyStockTracker")


def layout(portfolio_id: str | None = None, **_query: str) -> html.Div:
    """The dashboard skeleton of the portfolio; its callbacks fill it."""
    portfolio, problem = resolve_portfolio(portfolio_id)
    # The split warning (and its callbacks, in its module) under the toolbar: issue 15.
    return with_split_warnings(dashboard_page(portfolio)) if portfolio else no_portfolio_page(problem or "")


def _portfolio_id(portfolio: dict | None) -> int:
    if not portfolio:
        raise PreventUpdate
    return int(portfolio["id"])


# Every part has a first fill (on CURRENT_PORTFOLIO: it runs when the page mounts) and a refill (on *_READY: it runs
# when a background wait ends). They are separate callbacks because Dash's renderer holds a callback back while any
# of its inputs can still be changed by a pending callback upstream: a first fill that also listened to
# PRICES_READY waited for the whole cold path (the summary appeared only after every price had landed), and one
# that read PRICES_READY and wrote PRICES_PENDING waited on itself (the holdings stayed a skeleton). Only first
# fills write *_PENDING; refills never do (tests/dashapp/test_pages.py checks both rules on the callback graph).

# -- summary cards and price badge -----------------------------------------------------------------------------
_SUMMARY_OUTPUTS = [Output(value_id, "children", allow_duplicate=True) for value_id in (
    ids.SUMMARY_MARKET_VALUE, ids.SUMMARY_MARKET_VALUE_SUB, ids.SUMMARY_DAY_CHANGE, ids.SUMMARY_DAY_CHANGE_SUB,
    ids.SUMMARY_UNREALIZED, ids.SUMMARY_UNREALIZED_SUB, ids.SUMMARY_REALIZED, ids.SUMMARY_REALIZED_SUB)] + [
    Output(ids.PRICE_BADGE, "children", allow_duplicate=True),
    Output(ids.PRICE_BADGE, "className", allow_duplicate=True),
    Output(ids.PRICE_BADGE_TOOLTIP, "children", allow_duplicate=True)]


def _summary(portfolio: dict | None) -> tuple:
    """The summary cards and the badge, from the cache alone (never waits on the price source)."""
    try:
        payload = services().dashboard.initial(_portfolio_id(portfolio))
    except NotFoundError:
        raise PreventUpdate from None
    cards = summary_figures(payload.summary, prices=payload.prices)
    badge = badge_view(payload.prices, payload.market, services().clock.now())
    texts = [child for card in cards for child in figure_children(card)]
    return *texts, badge.text, badge.class_name, tooltip_children(badge)


@callback(*_SUMMARY_OUTPUTS, Input(ids.CURRENT_PORTFOLIO, "data"), prevent_initial_call="initial_duplicate")
def fill_summary(portfolio: dict | None):
    """The summary as the page mounts."""
    return _summary(portfolio)


@callback(*_SUMMARY_OUTPUTS, Input(ids.PRICES_READY, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
          prevent_initial_call=True)
def refill_summary(_ready: str | None, portfolio: dict | None):
    """The summary once the prices' wait has ended."""
    return _summary(portfolio)


# -- holdings table --------------------------------------------------------------------------------------------
_HOLDINGS_OUTPUTS = (Output(ids.HOLDINGS_TABLE, "rowData", allow_duplicate=True),
                     Output(ids.HOLDINGS_PART, "className", allow_duplicate=True),
                     Output(ids.HOLDINGS_COUNT, "children", allow_duplicate=True),
                     Output(ids.HOLDINGS_MESSAGE, "children", allow_duplicate=True))


def _holdings(portfolio: dict | None, *, final: bool) -> tuple[tuple, PartView, PriceBlock]:
    """(the holdings outputs, the part's view, the payload's prices block); starts fetching what is due."""
    portfolio_id = _portfolio_id(portfolio)
    try:
        payload = services().dashboard.holdings(portfolio_id, wait_s=0)
    except NotFoundError:
        raise PreventUpdate from None
    rows = grid_rows(payload.holdings, currency_of(portfolio), services().clock.now())
    view = holdings_view(payload.holdings, payload.prices, final=final, portfolio_id=portfolio_id)
    return (rows, view.class_name, holdings_count(payload.holdings), view.message), view, payload.prices


@callback(
    *_HOLDINGS_OUTPUTS, Output(ids.PRICES_PENDING, "data"), Output(ids.REFRESH_MESSAGE, "children"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.REFRESH_PRICES, "n_clicks"),
    prevent_initial_call="initial_duplicate",
)
def fill_holdings(portfolio: dict | None, _clicks: int):
    """The holdings rows; while prices are still on their way, start the background wait for them."""
    outputs, view, prices = _holdings(portfolio, final=False)
    request = wait_request(int(portfolio["id"]), tickers=price_progress(prices).unsettled) if view.wait else no_update
    refreshed = refresh_message(prices) if ctx.triggered_id == ids.REFRESH_PRICES else None
    return *outputs, request, refreshed


@callback(*_HOLDINGS_OUTPUTS, Input(ids.PRICES_READY, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
          prevent_initial_call=True)
def refill_holdings(_ready: str | None, portfolio: dict | None):
    """The holdings once the wait has ended: what there is, unpriced rows shown at cost (never a skeleton)."""
    outputs, _view, _prices = _holdings(portfolio, final=True)
    return outputs


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
        prices = dashboard.initial(pending["portfolio_id"]).prices
        progress = price_progress(prices)
        set_progress((progress.percent, progress.label))
        # A ticker still being fetched is progress too: only a wait with nothing in flight goes quiet.
        return progress.unsettled, bool(prices.fetching), not progress.unsettled

    _poll_unless_gone(look)
    return pending["nonce"]


# -- allocation ------------------------------------------------------------------------------------------------
_ALLOCATION_OUTPUTS = (Output(ids.ALLOCATION_CHART, "figure", allow_duplicate=True),
                       Output(ids.ALLOCATION_PART, "className", allow_duplicate=True),
                       Output(ids.ALLOCATION_MESSAGE, "children", allow_duplicate=True))


def _allocation(portfolio: dict | None, *, final: bool) -> tuple:
    """The allocation donut from the priced holdings' weights (a message when none is priced)."""
    portfolio_id = _portfolio_id(portfolio)
    try:
        payload = services().dashboard.holdings(portfolio_id, wait_s=0)
    except NotFoundError:
        raise PreventUpdate from None
    allocation = allocation_slices(payload.holdings)  # the one allocation builder, as the chart payload's
    view = allocation_view(payload.holdings, allocation, payload.prices, final=final, portfolio_id=portfolio_id)
    figure = allocation_figure(allocation, holdings=len(payload.holdings)) if allocation else blank_figure()
    return figure, view.class_name, view.message


@callback(*_ALLOCATION_OUTPUTS, Input(ids.CURRENT_PORTFOLIO, "data"), prevent_initial_call="initial_duplicate")
def fill_allocation(portfolio: dict | None):
    """The donut as the page mounts (a skeleton while the first prices are on their way)."""
    return _allocation(portfolio, final=False)


@callback(*_ALLOCATION_OUTPUTS, Input(ids.PRICES_READY, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
          prevent_initial_call=True)
def refill_allocation(_ready: str | None, portfolio: dict | None):
    """The donut once the prices' wait has ended (a message if nothing could be priced)."""
    return _allocation(portfolio, final=True)


# -- value chart (or the performance chart: the card's Value | Performance toggle) -----------------------------
_CHART_OUTPUTS = (Output(ids.VALUE_CHART, "figure", allow_duplicate=True),
                  Output(ids.VALUE_CHART_PART, "className", allow_duplicate=True),
                  Output(ids.VALUE_CHART_MESSAGE, "children", allow_duplicate=True),
                  Output(ids.PERFORMANCE_FIGURES, "children", allow_duplicate=True))


def _chart(portfolio: dict | None, range_name: str | None, mode: str | None = VALUE, *,
           final: bool) -> tuple[tuple, PartView]:
    """The chart card's outputs from the one chart payload: the value chart, or in Performance mode the TWR and
    benchmark lines and the returns' figures (the same payload: toggling asks the cache, never the source)."""
    portfolio_id = _portfolio_id(portfolio)
    dashboard = services().dashboard
    try:
        chart = dashboard.chart(portfolio_id, range_name or DEFAULT_RANGE, wait_s=0)
        has_holdings = bool(dashboard.load(portfolio_id).open_tickers)
    except NotFoundError:
        raise PreventUpdate from None
    series = chart.series if isinstance(chart, ChartReady) else None
    view = chart_view(series, final=final, has_holdings=has_holdings, portfolio_id=portfolio_id)
    if mode == PERFORMANCE:
        return performance_outputs(chart, view, portfolio, has_holdings=has_holdings), view
    if series is None:
        figure = no_update  # generating, or unavailable: the part says which
    elif (not has_holdings and view.message is not None) or not drawable(series):
        figure = blank_figure()  # an empty portfolio, or no point to draw: the part's message, over no axes
    else:
        figure = value_figure(series, currency_of(portfolio))  # with no market value yet, the cost basis alone
    return (figure, view.class_name, view.message, no_update), view


@callback(
    *_CHART_OUTPUTS, Output(ids.CHART_PENDING, "data"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.CHART_RANGE, "data"), Input(ids.CHART_MODE, "data"),
    prevent_initial_call="initial_duplicate",
)
def fill_chart(portfolio: dict | None, range_name: str | None, mode: str | None):
    """The chart over the range (value, or performance); while history is fetched, start the background wait."""
    outputs, view = _chart(portfolio, range_name, mode, final=False)
    request = wait_request(int(portfolio["id"]), range=range_name) if view.wait else no_update
    return *outputs, request


@callback(*_CHART_OUTPUTS, Input(ids.CHART_READY, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
          State(ids.CHART_RANGE, "data"), State(ids.CHART_MODE, "data"), prevent_initial_call=True)
def refill_chart(_ready: str | None, portfolio: dict | None, range_name: str | None, mode: str | None):
    """The chart once its wait has ended: the series, or a message saying why there is none (never a skeleton)."""
    outputs, _view = _chart(portfolio, range_name, mode, final=True)
    return outputs


@callback(*_CHART_OUTPUTS, Input(ids.PRICES_READY, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
          State(ids.CHART_RANGE, "data"), State(ids.CHART_MODE, "data"), prevent_initial_call=True)
def redraw_chart_with_prices(_ready: str | None, portfolio: dict | None, range_name: str | None, mode: str | None):
    """New prices landed: draw the chart again if it is ready (its own wait handles a chart still generated)."""
    outputs, view = _chart(portfolio, range_name, mode, final=False)
    if view.wait:
        raise PreventUpdate
    return outputs


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
        progress = dashboard.progress(pending["portfolio_id"])
        set_progress(round(100 * progress.progress))
        return progress.progress, progress.state == "running", progress.state in ("done", "error")

    _poll_unless_gone(look)
    return pending["nonce"]


def _poll_unless_gone(look) -> None:
    """`_poll`, ending without an update when the portfolio is gone (deleted meanwhile, or another user's)."""
    try:
        _poll(look)
    except NotFoundError:
        raise PreventUpdate from None


def _poll(look) -> None:
    """Call `look()` -> (what it saw, still moving, finished) until finished or nothing changed for a while."""
    stall = Stall(quiet_s=services().settings.page_wait_quiet_s)
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


# Value | Performance: in the browser, the buttons' state, the card's heading and the figures row (shown in
# Performance mode only); the chart callback reacts to the store.
clientside_callback(
    MODE_TOGGLE_JS,
    Output(ids.CHART_MODE, "data"),
    Output({"type": ids.CHART_MODE_BUTTON, "mode": ALL}, "className"),
    Output({"type": ids.CHART_MODE_BUTTON, "mode": ALL}, "aria-pressed"),
    Output(ids.CHART_TITLE, "children"),
    Output(ids.PERFORMANCE_FIGURES, "style"),
    Input({"type": ids.CHART_MODE_BUTTON, "mode": ALL}, "n_clicks"),
    State(ids.CHART_MODE, "data"),
    prevent_initial_call=True,
)


# Phones: the holdings columns of a phone (see holdings_grid.py), set once when the page mounts.
clientside_callback(
    """
    function(portfolio, defs) {
        return (window.innerWidth > MAX_WIDTH || !defs) ? dash_clientside.no_update : PHONE_DEFS;
    }
    """.replace("MAX_WIDTH", str(PHONE_MAX_WIDTH)).replace("PHONE_DEFS", json.dumps(phone_column_defs(COLUMN_DEFS))),
    Output(ids.HOLDINGS_TABLE, "columnDefs"),
    Input(ids.CURRENT_PORTFOLIO, "data"), State(ids.HOLDINGS_TABLE, "columnDefs"),
)
