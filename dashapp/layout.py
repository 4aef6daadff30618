"""The app shell around every page: navbar with the portfolio selector, the demo banner, the page container.

`app_shell(static=True)` is the same shell as plain HTML for the first paint (see index_template.py).
"""

from __future__ import annotations

from collections.abc import Callable

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from dashapp import ids
from dashapp.components.dashboard import dashboard_page
from dashapp.components.skeleton import field_placeholder, live_or_placeholder
from dashapp.components.transactions import transactions_page

DEMO_TEXT = "Demo mode: prices are simulated, not market data."


def page_kind(path: str) -> str:
    """Which page a URL path shows: `transactions` or `dashboard` (the skeleton drawn for it)."""
    return "transactions" if path.rstrip("/").endswith("/transactions") else "dashboard"


def nav_class(active: bool) -> str:
    return "nav-link active" if active else "nav-link"


def navbar(*, static: bool = False, active: str = "dashboard") -> html.Nav:
    """Brand, page links and the portfolio selector (links and selector are kept current by a callback)."""
    def link(label: str, link_id: str, href: str, kind: str):
        return live_or_placeholder(
            static, lambda: dcc.Link(label, id=link_id, href=href, className=nav_class(kind == active)),
            html.A(label, href=href, className=nav_class(kind == active)))

    select = live_or_placeholder(
        static, lambda: dbc.Select(id=ids.PORTFOLIO_SELECT, options=[], size="sm", className="portfolio-select",
                                   name="portfolio"),
        field_placeholder("form-select form-select-sm portfolio-select"))
    return html.Nav(html.Div([
        html.A("MyStockTracker", href="/", className="navbar-brand fw-bold"),
        html.Div([link("Dashboard", ids.NAV_DASHBOARD, "/", "dashboard"),
                  link("Transactions", ids.NAV_TRANSACTIONS, "/transactions", "transactions")],
                 className="navbar-nav me-auto"),
        html.Div([html.Label("Portfolio", htmlFor=ids.PORTFOLIO_SELECT,
                             className="navbar-text small mb-0 d-none d-md-inline"), select],
                 className="d-flex align-items-center gap-2"),
    ], className="container-fluid app-container"), id=ids.NAVBAR,
        className="navbar navbar-expand navbar-dark bg-primary app-navbar")


def demo_banner() -> html.Div:
    """The strip that says prices are simulated (shown while the demo provider is active)."""
    return html.Div(DEMO_TEXT, id=ids.DEMO_BANNER, role="status",
                    className="demo-banner alert alert-warning rounded-0 border-0 mb-0 py-1 small text-center")


def app_shell(*, demo: bool, static: bool = False, path: str = "/") -> html.Div:
    """The whole page: the live Dash layout, or (`static`) the skeleton of the page at `path`."""
    kind = page_kind(path)
    children: list = [navbar(static=static, active=kind)]
    if demo:
        children.append(demo_banner())
    if static:
        children.append(transactions_page(None, static=True) if kind == "transactions"
                        else dashboard_page(None, static=True))
    else:
        children += [dash.page_container, dcc.Location(id=ids.URL, refresh="callback-nav")]
    return html.Div(children, id=ids.APP_SHELL, className="app-shell")


def portfolio_options(portfolios: list[dict]) -> list[dict]:
    """The selector's options (dbc.Select values are strings; labels render as text)."""
    return [{"label": p["name"], "value": str(p["id"])} for p in portfolios]


def nav_state(portfolio_id: int | None, pathname: str | None) -> tuple[str, str, str, str]:
    """The page links' hrefs and classes for the portfolio shown on the page at `pathname`."""
    kind = page_kind(pathname or "/")
    dashboard_href = f"/portfolio/{portfolio_id}" if portfolio_id is not None else "/"
    transactions_href = f"/transactions?portfolio={portfolio_id}" if portfolio_id is not None else "/transactions"
    return (dashboard_href, transactions_href, nav_class(kind == "dashboard"), nav_class(kind == "transactions"))


def register_shell_callbacks(app: dash.Dash, list_portfolios: Callable[[], list[dict]]) -> None:
    """The shell's two callbacks: keep the selector and links current, and navigate when the selector changes."""

    @app.callback(
        Output(ids.PORTFOLIO_SELECT, "options"), Output(ids.PORTFOLIO_SELECT, "value"),
        Output(ids.NAV_DASHBOARD, "href"), Output(ids.NAV_TRANSACTIONS, "href"),
        Output(ids.NAV_DASHBOARD, "className"), Output(ids.NAV_TRANSACTIONS, "className"),
        # Optional: both stores belong to pages, which mount after the shell (and a 404 page has none).
        Input(ids.CURRENT_PORTFOLIO, "data", allow_optional=True),
        Input(ids.PORTFOLIO_RENAMED, "data", allow_optional=True),
        State(ids.URL, "pathname"),
    )
    def sync_shell(portfolio: dict | None, _renamed: int | None, pathname: str | None):
        portfolio_id = portfolio["id"] if portfolio else None
        options = portfolio_options(list_portfolios())
        value = str(portfolio_id) if portfolio_id is not None else None
        return options, value, *nav_state(portfolio_id, pathname)

    app.clientside_callback(
        """
        function(value, portfolio, pathname) {
            if (!value || (portfolio && String(portfolio.id) === value)) {
                return dash_clientside.no_update;
            }
            const onTransactions = (pathname || "").replace(/\\/+$/, "").endsWith("/transactions");
            return onTransactions ? "/transactions?portfolio=" + value : "/portfolio/" + value;
        }
        """,
        Output(ids.URL, "href"),
        Input(ids.PORTFOLIO_SELECT, "value"),
        State(ids.CURRENT_PORTFOLIO, "data", allow_optional=True), State(ids.URL, "pathname"),
        prevent_initial_call=True,
    )
