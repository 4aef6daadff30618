"""The closed positions (issue 15): a table of every sold-out ticker with what it made, each linking to its view.

Pure: draws a `ClosedPositions` payload (services/closed_positions.py). Texts are React text children (escaped).
"""

from __future__ import annotations

from dash import dcc, html

from dashapp import ids
from dashapp.components.format import DASH, money, tone
from dashapp.components.holding_view import holding_href, holding_not_found, portfolio_store
from dashapp.components.skeleton import skeleton_text
from services.closed_positions import ClosedPositions

NO_CLOSED = "There are no closed positions: every ticker this portfolio bought is still held."


def closed_link_text(count: int) -> str:
    """The dashboard's link to the list: "Closed positions (N)"."""
    return f"Closed positions ({count})"


def closed_page(portfolio_id: str | None, portfolio: dict | None = None, *, static: bool = False) -> html.Div:
    """The page as it mounts: the portfolio's id and a shimmering table its callback fills (`static`: the plain-HTML
    skeleton of the first paint, without the stores)."""
    live = [] if static else [*portfolio_store(portfolio),
                              dcc.Store(id=ids.CLOSED_KEY, data=str(portfolio_id or "")[:40])]
    return html.Div([
        *live,
        html.H1("Closed positions", className="h4 mb-3 page-title"),
        html.Div([skeleton_text("100%", height="2rem")] * 3, id=ids.CLOSED_BODY, className="d-grid gap-2"),
    ], className="container-fluid app-container page py-3")


def closed_table(payload: ClosedPositions) -> html.Table:
    currency = payload.portfolio.base_currency
    head = html.Thead(html.Tr([html.Th(h, scope="col", className=c) for h, c in (
        ("Ticker", ""), ("Closed on", ""), ("Realized", "text-end"), ("Dividends", "text-end"),
        ("Total", "text-end"))]))
    rows = [html.Tr([
        html.Td(dcc.Link(row.ticker, href=holding_href(payload.portfolio.id, row.ticker),
                         className="fw-semibold closed-ticker")),
        html.Td(row.closed_on.isoformat() if row.closed_on else DASH, className="text-nowrap"),
        html.Td(money(row.realized_gain, currency, signed=True), className=f"text-end {tone(row.realized_gain)}"),
        html.Td(money(row.dividends, currency), className="text-end"),
        html.Td(money(row.total, currency, signed=True), className=f"text-end fw-semibold {tone(row.total)}"),
    ]) for row in payload.closed]
    return html.Table([head, html.Tbody(rows)], className="table table-sm table-striped mb-0 closed-positions")


def closed_body(payload: ClosedPositions) -> list:
    """The filled page: where it is from, then the table (or the empty state)."""
    back = dcc.Link("Back to the dashboard", href=f"/portfolio/{payload.portfolio.id}", className="small ms-auto")
    intro = html.Div([html.Span(f"{payload.portfolio.name} · in {payload.portfolio.base_currency}",
                                className="small text-muted"), back],
                     className="d-flex flex-wrap align-items-center gap-2 mb-3")
    if not payload.closed:
        return [intro, html.Div(NO_CLOSED, className="alert alert-light border closed-empty", role="status")]
    return [intro, html.Div(html.Div(closed_table(payload), className="table-responsive"),
                            className="card card-body p-2")]


def closed_not_found(message: str) -> list:
    return [holding_not_found(message)]
