"""The dashboard page's layout, drawn the same way for the static first paint and for Dash.

`dashboard_page(portfolio, static=True)` is the skeleton in the HTML of GET / (plain `dash.html`, rendered by
static_html.py); `static=False` is the Dash layout the page mounts with: the same boxes, with the live graphs,
grid, stores and tooltip in place of their plain stand-ins. Every part starts as a skeleton and is filled by
its own callback (pages/dashboard.py).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import ids
from dashapp.components.figures import CHART_HEIGHT, GRAPH_CONFIG, blank_figure
from dashapp.components.holding_view import closed_href
from dashapp.components.holdings_grid import holdings_grid
from dashapp.components.performance import MODES, TITLES, VALUE
from dashapp.components.skeleton import card, live_or_placeholder, part, skeleton_text
from dashapp.components.summary import summary_row
from services.analytics import RANGES

DEFAULT_RANGE = "1Y"
GRID_HEIGHT = "460px"
HIDDEN = {"display": "none"}
SHOWN_FLEX = {"display": "flex"}
CLOSED_LINK_TEXT = "Closed positions"  # until its count is written


def range_button_class(range_name: str, selected: str) -> str:
    """Bootstrap classes of one range button; the selected one is `active`."""
    return "btn btn-outline-secondary" + (" active" if range_name == selected else "")


def range_buttons(selected: str = DEFAULT_RANGE) -> html.Div:
    """1M / 3M / 6M / YTD / 1Y / 5Y / MAX as a button group (a clientside callback keeps one active)."""
    return html.Div([
        html.Button(name, id={"type": ids.RANGE_BUTTON, "range": name}, className=range_button_class(name, selected),
                    type="button", n_clicks=0)
        for name in RANGES
    ], className="btn-group btn-group-sm range-buttons", role="group", **{"aria-label": "Chart range"})


def mode_button_class(mode: str, selected: str) -> str:
    """Bootstrap classes of one Value / Performance button; the selected one is `active`."""
    return "btn btn-outline-primary" + (" active" if mode == selected else "")


def mode_buttons(selected: str = VALUE) -> html.Div:
    """Value | Performance: what the chart card draws (a clientside callback keeps one active and pressed)."""
    return html.Div([
        html.Button(label, id={"type": ids.CHART_MODE_BUTTON, "mode": mode},
                    className=mode_button_class(mode, selected), type="button", n_clicks=0,
                    **{"aria-pressed": "true" if mode == selected else "false"})
        for mode, label in MODES.items()
    ], className="btn-group btn-group-sm chart-mode-buttons", role="group", **{"aria-label": "Chart shows"})


def _chart_card(body: list) -> html.Div:
    """The value chart's card: its heading (which the toggle rewrites), the toggle and the range buttons."""
    header = [html.H2(TITLES[VALUE], id=ids.CHART_TITLE, className="h6 mb-0 card-title-text"),
              html.Div([mode_buttons(), range_buttons()],
                       className="ms-auto d-flex align-items-center gap-2 chart-controls")]
    return html.Div([html.Div(header, className="card-header d-flex align-items-center"),
                     html.Div(body, className="card-body p-2")], className="card h-100")


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=blank_figure(), config=GRAPH_CONFIG, style={"height": "100%"})


def _graph_placeholder() -> html.Div:
    return html.Div(style={"height": "100%"})


def _toolbar(portfolio: dict | None, static: bool) -> html.Div:
    title = portfolio["name"] if portfolio else skeleton_text("16rem", height="1.4rem")
    right: list = []
    if not static:
        right.append(html.Div([
            html.Span("Fetching prices", className="small text-muted text-nowrap"),
            dbc.Progress(id=ids.REFRESH_PROGRESS, value=0, striped=True, animated=True,
                         className="refresh-progress-bar"),
        ], id=ids.REFRESH_PROGRESS_WRAP, className="align-items-center gap-2", style=HIDDEN))
        right.append(html.Div(id=ids.REFRESH_MESSAGE, role="status", className="refresh-message"))
    right.append(html.Button("Refresh prices", id=ids.REFRESH_PRICES, type="button", n_clicks=0,
                             className="btn btn-outline-primary btn-sm", disabled=static))
    children = [
        html.H1(title, id=ids.PORTFOLIO_TITLE, className="h4 mb-0 page-title text-truncate"),
        html.Span(skeleton_text("5rem", height="0.75em"), id=ids.PRICE_BADGE,
                  className="badge rounded-pill price-badge", tabIndex="0"),
        html.Div(right, className="ms-auto d-flex align-items-center gap-2"),
    ]
    if not static:
        children.append(dbc.Tooltip([], id=ids.PRICE_BADGE_TOOLTIP, target=ids.PRICE_BADGE, placement="bottom"))
    return html.Div(children, className="page-toolbar d-flex flex-wrap align-items-center gap-2 mb-3")


def _stores(portfolio: dict | None) -> list[dcc.Store]:
    return [
        dcc.Store(id=ids.CURRENT_PORTFOLIO, data=portfolio),
        dcc.Store(id=ids.CHART_RANGE, data=DEFAULT_RANGE),
        dcc.Store(id=ids.CHART_MODE, data=VALUE),
        dcc.Store(id=ids.PRICES_PENDING), dcc.Store(id=ids.PRICES_READY),
        dcc.Store(id=ids.CHART_PENDING), dcc.Store(id=ids.CHART_READY),
    ]


def _closed_link(portfolio_id: int | None, static: bool) -> list:
    """The Holdings card's link to the closed positions (issue 15); pages/closed.py writes its count."""
    if portfolio_id is None:
        return []
    href = closed_href(portfolio_id)
    return [live_or_placeholder(
        static, lambda: dcc.Link(CLOSED_LINK_TEXT, id=ids.CLOSED_LINK, href=href, className="small closed-link"),
        html.A(CLOSED_LINK_TEXT, href=href, className="small closed-link"))]


def dashboard_page(portfolio: dict | None, *, static: bool = False) -> html.Div:
    """The dashboard of `portfolio` ({"id", "name", ...}); `static` gives the plain-HTML skeleton."""
    chart_overlay = None if static else html.Div([
        html.Div("Building the chart", className="small text-muted mb-1"),
        dbc.Progress(id=ids.CHART_PROGRESS, value=0, striped=True, animated=True, className="w-50"),
    ], id=ids.CHART_PROGRESS_WRAP, className="part-overlay", style=HIDDEN)
    chart_body = [
        live_or_placeholder(static, lambda: _graph(ids.VALUE_CHART), _graph_placeholder()),
        html.Div(id=ids.VALUE_CHART_MESSAGE, className="part-message"),
    ]
    # The performance figures (TWR, money-weighted, benchmark) under the chart, shown in Performance mode only.
    value_chart = _chart_card([
        part(ids.VALUE_CHART_PART, chart_body, height=f"{CHART_HEIGHT}px", overlay=chart_overlay),
        html.Div(id=ids.PERFORMANCE_FIGURES, className="perf-figures", style=HIDDEN, role="group",
                 **{"aria-label": "Returns over the range"}),
    ])
    allocation = card("Allocation", part(
        ids.ALLOCATION_PART,
        [live_or_placeholder(static, lambda: _graph(ids.ALLOCATION_CHART), _graph_placeholder()),
         html.Div(id=ids.ALLOCATION_MESSAGE, className="part-message")],
        height=f"{CHART_HEIGHT}px"))
    portfolio_id = int(portfolio["id"]) if portfolio else None
    holdings = card("Holdings", part(
        ids.HOLDINGS_PART,
        [live_or_placeholder(static, lambda: holdings_grid(portfolio_id), html.Div(style={"height": "100%"})),
         html.Div(id=ids.HOLDINGS_MESSAGE, className="part-message part-message-top")],
        height=GRID_HEIGHT), header_right=[html.Span(id=ids.HOLDINGS_COUNT, className="small text-muted"),
                                           *_closed_link(portfolio_id, static)])
    children = [
        _toolbar(portfolio, static),
        summary_row(),
        html.Div([html.Div(value_chart, className="col-lg-8"), html.Div(allocation, className="col-lg-4")],
                 className="row g-3 mb-3"),
        holdings,
    ]
    if not static:
        children = _stores(portfolio) + children
    return html.Div(children, className="container-fluid app-container page py-3")


def no_portfolio_page(message: str) -> html.Div:
    """What the dashboard shows without a portfolio to show (none yet, or an unknown id)."""
    return html.Div([
        dcc.Store(id=ids.CURRENT_PORTFOLIO, data=None),
        html.Div([
            html.H1("Nothing to show yet", className="h4"),
            html.P(message, className="mb-2"),
            dcc.Link("Open the Transactions page", href="/transactions", className="btn btn-primary btn-sm"),
        ], className="alert alert-light border mt-3"),
    ], className="container-fluid app-container page py-3")
