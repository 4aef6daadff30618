"""The holding view (issue 15): one holding's figures, its price chart with trade markers and its transactions.

`holding_page` is the skeleton the page mounts with; `holding_body` draws a `HoldingDetail` (services/
holding_detail.py) into it, `holding_not_found` says why there is nothing to draw. Pure: no services here.
Every text is a React text child (escaped); links are dcc.Link, so they navigate inside the app.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from dash import dcc, html

from dashapp import ids
from dashapp.components.figures import CHART_HEIGHT, GRAPH_CONFIG
from dashapp.components.format import DASH, currency_prefix, money, percent, tone
from dashapp.components.price_badge import TONES, badge_text
from dashapp.components.skeleton import LOADED, card, part, skeleton_text
from services.holding_detail import ChartMarker, HoldingDetail, PriceHistory

POLL_MS = 3000  # how often the page looks again while the chart's prices are not loaded
POLL_TIMES = 20  # ... for at most a minute
PRICES_NOT_LOADED = ("Prices not loaded yet: this ticker's price history is not in the cache. It is being "
                     "fetched; the chart appears here when it lands.")
# Marker styles by transaction type: shape and colour tell BUY from SELL without colour alone.
MARKERS = {
    "BUY": ("Buy", "triangle-up", "#18bc9c"),
    "SELL": ("Sell", "triangle-down", "#e74c3c"),
    "DIVIDEND": ("Dividend", "circle", "#3498db"),
    "SPLIT": ("Split", "diamond", "#8e44ad"),
}
CLOSE_COLOUR = "#2c3e50"


def holding_href(portfolio_id: int, ticker: str) -> str:
    """The holding view's address; the ticker is escaped (^GSPC, EURUSD=X and BRK/B stay one path segment)."""
    return f"/portfolio/{int(portfolio_id)}/holding/{quote(ticker, safe='')}"


def closed_href(portfolio_id: int) -> str:
    return f"/portfolio/{int(portfolio_id)}/closed"


def portfolio_store(portfolio: dict | None) -> list:
    """The page's CURRENT_PORTFOLIO store when its portfolio exists: the shell's selector and links follow it."""
    return [dcc.Store(id=ids.CURRENT_PORTFOLIO, data=portfolio)] if portfolio else []


def holding_page(key: dict | None, portfolio: dict | None = None, *, static: bool = False) -> html.Div:
    """The page as it mounts: the key of the holding to show, and shimmering parts its callback fills. `static`:
    the plain-HTML skeleton of the first paint (no stores; the ticker not known yet)."""
    ticker = (key or {}).get("ticker") or ""
    body = [
        html.Div([skeleton_text("100%", height="3.2rem")] * 4, className="holding-figures mb-3",
                 **{"aria-hidden": "true"}),
        part("holding-chart-part", html.Div(), height=f"{CHART_HEIGHT}px"),
    ]
    live = [] if static else [
        *portfolio_store(portfolio),
        dcc.Store(id=ids.HOLDING_KEY, data=key),
        dcc.Interval(id=ids.HOLDING_POLL, interval=POLL_MS, max_intervals=POLL_TIMES, disabled=True),
    ]
    return html.Div([
        *live,
        html.H1(ticker or skeleton_text("6rem", height="1.4rem"), className="h4 mb-3 page-title"),
        html.Div(body, id=ids.HOLDING_BODY),
    ], className="container-fluid app-container page py-3")


def _back(portfolio_id: int | None) -> dcc.Link | None:
    if portfolio_id is None:
        return None
    return dcc.Link("Back to the dashboard", href=f"/portfolio/{int(portfolio_id)}", className="small")


def holding_not_found(message: str, portfolio_id: int | None = None) -> html.Div:
    """The page's body for an unknown ticker or portfolio (or another owner's): says so, offers a way back."""
    links = [dcc.Link("Go to the dashboard", href=f"/portfolio/{int(portfolio_id)}" if portfolio_id else "/",
                      className="btn btn-primary btn-sm")]
    return html.Div([
        html.H2("Holding not found", className="h5"),
        html.P(message, className="mb-2"),
        *links,
    ], className="alert alert-light border holding-not-found", role="alert")


def _figure(label: str, value: str, class_name: str = "", sub: str | None = None) -> html.Div:
    """One tile: its label, its value and, below it, a smaller line (a percentage) when there is one."""
    children = [html.Div(label, className="figure-label small text-muted"),
                html.Div(value, className=f"figure-value fw-semibold {class_name}".strip())]
    if sub is not None:
        children.append(html.Div(sub, className=f"figure-sub small {class_name}".strip()))
    return html.Div(children, className="holding-figure")


def _status_badge(detail: HoldingDetail, now: dt.datetime) -> html.Span:
    f = detail.figures
    if not detail.is_open:
        return html.Span("Closed", className="badge rounded-pill text-bg-secondary holding-status")
    status = f.price_status or "missing"
    return html.Span(badge_text(status, f.price_as_of, now), title="Price status",
                     className=f"badge rounded-pill {TONES.get(status, TONES['none'])} holding-status")


def figures_view(detail: HoldingDetail, currency: str) -> html.Div:
    """The holding's numbers: open figures then results (a closed position: its close and its result)."""
    f = detail.figures
    if detail.is_open:
        items = [
            _figure("Shares", f"{f.quantity:,.6g}"),
            _figure("Avg cost", money(f.avg_cost, currency)),
            _figure("Market value", money(f.market_value, currency)),
            _figure("Unrealized", money(f.unrealized_gain, currency, signed=True), tone(f.unrealized_gain),
                    percent(f.unrealized_gain_pct)),
            _figure("Day change", money(f.day_change, currency, signed=True), tone(f.day_change),
                    percent(f.day_change_pct)),
        ]
    else:
        items = [_figure("Closed on", f.closed_on.isoformat() if f.closed_on else DASH),
                 _figure("Shares", "0")]
        if f.day_change is not None:
            items.append(_figure("Day change", money(f.day_change, currency, signed=True), tone(f.day_change)))
    items += [
        _figure("Realized", money(f.realized_gain, currency, signed=True), tone(f.realized_gain)),
        _figure("Dividends", money(f.dividends, currency)),
        _figure("Total return", money(f.total_return, currency, signed=True), tone(f.total_return)),
    ]
    if hasattr(f, "twr"):  # issue 16: the holding's own time-weighted return over the time it was held
        items.append(_figure("TWR while held", percent(f.twr), tone(f.twr)))
    return html.Div(items, className="holding-figures mb-3")


def _marker_trace(kind: str, markers: list[ChartMarker]) -> dict:
    label, symbol, colour = MARKERS.get(kind, (kind.title(), "circle", "#7f8c8d"))
    return {
        "type": "scatter", "mode": "markers", "name": label,
        "x": [m.date.isoformat() for m in markers], "y": [m.y for m in markers],
        "customdata": [[m.quantity, m.price, m.currency or ""] for m in markers],
        "marker": {"symbol": symbol, "size": 12, "color": colour, "line": {"color": "#ffffff", "width": 1}},
        "hovertemplate": f"{label} %{{customdata[0]:,}} at %{{customdata[1]:,.4~f}} %{{customdata[2]}}"
                         f"<br>%{{x}}<extra></extra>" if kind != "SPLIT" else
                         f"{label} %{{customdata[0]}} for 1<br>%{{x}}<extra></extra>",
    }


def price_figure(chart: PriceHistory) -> dict:
    """The closes as a line and one marker trace per transaction type present (BUY, SELL, DIVIDEND, SPLIT)."""
    prefix = currency_prefix(chart.currency).strip() if chart.currency else ""
    traces = [{"type": "scatter", "mode": "lines", "name": "Close", "x": [d.isoformat() for d in chart.dates],
               "y": list(chart.closes), "line": {"color": CLOSE_COLOUR, "width": 1.5},
               "hovertemplate": f"{prefix}%{{y:,.2f}}<br>%{{x}}<extra>Close</extra>"}]
    for kind in MARKERS:
        markers = [m for m in chart.markers if m.type == kind]
        if markers:
            traces.append(_marker_trace(kind, markers))
    layout = {
        "height": CHART_HEIGHT, "margin": {"l": 8, "r": 8, "t": 28, "b": 8},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12,
                 "color": "#2c3e50"},
        "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"},
        "xaxis": {"showgrid": False, "automargin": True},
        "yaxis": {"tickprefix": prefix, "gridcolor": "#ecf0f1", "automargin": True},
    }
    return {"data": traces, "layout": layout}


def chart_view(chart: PriceHistory) -> html.Div:
    """The chart, or the honest message that its prices are not loaded yet."""
    if chart.status != "ready":
        return html.Div(html.Div(PRICES_NOT_LOADED, className="alert alert-light border small mb-0",
                                 role="status"), className="holding-chart-empty")
    title = f"Daily closes in {chart.currency}" if chart.currency else "Daily closes"
    return html.Div([
        dcc.Graph(id=ids.HOLDING_CHART, figure=price_figure(chart), config=GRAPH_CONFIG,
                  style={"height": f"{CHART_HEIGHT}px"}),
        html.Div(title + ", with each transaction at its date and price.", className="small text-muted"),
    ])


def _number(value: float) -> str:
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def transactions_table(detail: HoldingDetail) -> html.Div:
    """Every transaction of the ticker, newest first (price and fees in their own currency)."""
    if not detail.transactions:
        return html.P("No transactions.", className="text-muted small mb-0")
    head = html.Thead(html.Tr([html.Th(h, scope="col", className=c) for h, c in (
        ("Date", ""), ("Type", ""), ("Quantity", "text-end"), ("Price", "text-end"), ("Fees", "text-end"),
        ("Note", ""))]))
    rows = []
    for t in detail.transactions:
        price = DASH if t.type == "SPLIT" else f"{_number(t.price)}" + (f" {t.currency}" if t.currency else "")
        quantity = f"{_number(t.quantity)} for 1" if t.type == "SPLIT" else _number(t.quantity)
        rows.append(html.Tr([html.Td(t.date.isoformat(), className="text-nowrap"), html.Td(t.type),
                             html.Td(quantity, className="text-end"), html.Td(price, className="text-end"),
                             html.Td(f"{t.fees:,.2f}", className="text-end"), html.Td(t.note or "")]))
    return html.Div(html.Table([head, html.Tbody(rows)],
                               className="table table-sm table-striped mb-0 holding-transactions"),
                    className="table-responsive")


def holding_body(detail: HoldingDetail, now: dt.datetime) -> list:
    """The filled view: status line, figures, chart card and transactions card."""
    currency = detail.portfolio.base_currency
    status = html.Div([_status_badge(detail, now),
                       html.Span(f"{detail.portfolio.name} · in {currency}", className="small text-muted"),
                       html.Div(_back(detail.portfolio.id), className="ms-auto")],
                      className="d-flex flex-wrap align-items-center gap-2 mb-3")
    chart = card("Price", html.Div(chart_view(detail.chart), id="holding-chart-part",
                                   className=LOADED if detail.chart.status == "ready" else LOADED + " is-empty"))
    transactions = card(f"Transactions ({len(detail.transactions)})", transactions_table(detail))
    return [status, figures_view(detail, currency), html.Div(chart, className="mb-3"), transactions]

