"""The app shell around every page: navbar with the portfolio selector, the demo banner, the page container.

`app_shell(static=True)` is the same shell as plain HTML for the first paint (see index_template.py).

The live shell is served by `shell_layout`, a layout function: it puts the requested page into the first layout
instead of leaving it to Dash Pages' router callback, which saves a round trip (and the graphs start loading
plotly.js one round trip earlier). Dash's router still handles every later navigation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html

from dashapp import ids
from dashapp.components.skeleton import field_placeholder, live_or_placeholder
from dashapp.page_registry import page_kind

log = logging.getLogger(__name__)

DEMO_TEXT = "Demo mode: prices are simulated, not market data."


def nav_class(active: bool) -> str:
    return "nav-link active" if active else "nav-link"


def account_menu(email: str) -> html.Form:
    """Who is logged in, and the logout button (a POST: a link or an image elsewhere cannot log anyone out)."""
    from dashapp.security import csrf_token

    return html.Form([
        dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
        html.Span(email, className="navbar-text small account-email text-truncate", title=email),
        html.Button("Log out", type="submit", id=ids.LOGOUT, className="btn btn-sm btn-outline-light"),
    ], action="/logout", method="post", className="account-menu d-flex align-items-center gap-2 ms-3 mb-0")


def navbar(*, static: bool = False, active: str = "dashboard", options: list[dict] | None = None,
           value: str | None = None, hrefs: tuple[str, str] = ("/", "/transactions"),
           account: str | None = None) -> html.Nav:
    """Brand, page links, the portfolio selector (links and selector are kept current by a callback) and, when
    logins are required, the account menu."""
    def link(label: str, link_id: str, href: str, kind: str):
        return live_or_placeholder(
            static, lambda: dcc.Link(label, id=link_id, href=href, className=nav_class(kind == active)),
            html.A(label, href=href, className=nav_class(kind == active)))

    select = live_or_placeholder(
        static, lambda: dbc.Select(id=ids.PORTFOLIO_SELECT, options=options or [], value=value, size="sm",
                                   className="portfolio-select", name="portfolio",
                                   placeholder="Choose a portfolio" if options else "No portfolio yet"),
        field_placeholder("form-select form-select-sm portfolio-select"))
    return html.Nav(html.Div([
        html.A("MyStockTracker", href="/", className="navbar-brand fw-bold"),
        html.Div([link("Dashboard", ids.NAV_DASHBOARD, hrefs[0], "dashboard"),
                  link("Transactions", ids.NAV_TRANSACTIONS, hrefs[1], "transactions")],
                 className="navbar-nav me-auto"),
        html.Div([html.Label("Portfolio", htmlFor=ids.PORTFOLIO_SELECT,
                             className="navbar-text small mb-0 navbar-portfolio-label"), select],
                 className="navbar-portfolio d-flex align-items-center gap-2"),
        *([account_menu(account)] if account else []),
    ], className="container-fluid app-container"), id=ids.NAVBAR,
        className="navbar navbar-expand navbar-dark bg-primary app-navbar")


def demo_banner() -> html.Div:
    """The strip that says prices are simulated (shown while the demo provider is active)."""
    return html.Div(DEMO_TEXT, id=ids.DEMO_BANNER, role="status",
                    className="demo-banner alert alert-warning rounded-0 border-0 mb-0 py-1 small text-center")


def app_shell(*, demo: bool, static: bool = False, path: str = "/", pages: html.Div | None = None,
              portfolios: list[dict] | None = None, account: str | None = None) -> html.Div:
    """The whole page: the live Dash layout (around `pages`, Dash Pages' container by default), or (`static`)
    the skeleton of the page at `path`. With `portfolios`, the selector and links start filled for the page's
    portfolio (the shell callback then only runs when that changes)."""
    kind = page_kind(path).name
    if portfolios is not None and not static:
        shown = _page_portfolio(pages)
        shown_id = shown["id"] if shown else None
        dashboard_href, transactions_href, _, _ = nav_state(shown_id, path)
        bar = navbar(active=kind, options=portfolio_options(portfolios),
                     value=str(shown_id) if shown_id is not None else None,
                     hrefs=(dashboard_href, transactions_href), account=account)
    else:
        bar = navbar(static=static, active=kind)
    children: list = [bar]
    if demo:
        children.append(demo_banner())
    if static:
        children.append(page_kind(path).skeleton())
    else:
        children += [pages if pages is not None else dash.page_container,
                     dcc.Location(id=ids.URL, refresh="callback-nav")]
    return html.Div(children, id=ids.APP_SHELL, className="app-shell")


def _page_portfolio(component) -> dict | None:
    """The data of the page's CURRENT_PORTFOLIO store, found in a rendered layout (None if it has none)."""
    if component is None or isinstance(component, str | int | float):
        return None
    if isinstance(component, list | tuple):
        return next((found for child in component if (found := _page_portfolio(child))), None)
    if getattr(component, "id", None) == ids.CURRENT_PORTFOLIO:
        return getattr(component, "data", None)
    return _page_portfolio(getattr(component, "children", None))


def rendered_page_container(app: dash.Dash, url: str) -> html.Div | None:
    """Dash Pages' container with the page at `url` already rendered in it, as the router would render it.

    The location component is given every part of the URL (pathname, search, hash, href) so that it has nothing
    to report when it mounts: the router callback then does not run for this first page. Uses Dash's private
    page-container ids and path matching (dash 4.4.1); None whenever that does not work, and the caller falls
    back to the plain container and its router round trip.
    """
    try:
        from dash._pages import _parse_query_string, _path_to_page
        from dash.dash import _ID_CONTENT, _ID_DUMMY, _ID_LOCATION, _ID_STORE

        parts = urlsplit(url)
        search = f"?{parts.query}" if parts.query else ""
        page, variables = _path_to_page(app.strip_relative_path(parts.path))
        if not page:
            return None  # unknown path: let the router draw the 404 page
        layout, title = page.get("layout", ""), page["title"]
        if callable(layout):
            layout = layout(**{**(variables or {}), **_parse_query_string(search)})
        if callable(title):
            title = title(**(variables or {}))
        return html.Div([
            dcc.Location(id=_ID_LOCATION, refresh="callback-nav", pathname=parts.path, search=search, hash="",
                         href=url),
            html.Div(layout, id=_ID_CONTENT, disable_n_clicks=True),
            dcc.Store(id=_ID_STORE, data={"title": title}),
            html.Div(id=_ID_DUMMY, disable_n_clicks=True),
        ])
    except Exception:  # any surprise in Dash's internals: the router renders the page instead
        log.exception("could not render the first page into the layout; falling back to the router")
        return None


def shell_layout(app: dash.Dash, *, demo: bool, list_portfolios: Callable[[], list[dict]],
                 account: Callable[[], str | None] = lambda: None) -> Callable[[], html.Div]:
    """The app's layout function: the shell, with the page that asked for it already inside.

    The page's URL is the Referer of the browser's `_dash-layout` request: the index page sets the referrer
    policy `same-origin` (index_template.py), so a same-origin request carries the full URL even where a server
    header asks for less. Without a referrer the page is left to the router.
    """
    def layout() -> html.Div:
        referrer = flask.request.referrer if flask.has_request_context() else None
        same_origin = referrer and flask.request.host_url and referrer.startswith(flask.request.host_url)
        pages = rendered_page_container(app, referrer) if same_origin else None
        # The selector is filled on every page, the 404 page included (it has no page store to fill it later).
        path = urlsplit(referrer).path if same_origin else "/"
        return app_shell(demo=demo, pages=pages, path=path, portfolios=list_portfolios(), account=account())

    return layout


def portfolio_options(portfolios: list[dict]) -> list[dict]:
    """The selector's options (dbc.Select values are strings; labels render as text)."""
    return [{"label": p["name"], "value": str(p["id"])} for p in portfolios]


def nav_state(portfolio_id: int | None, pathname: str | None) -> tuple[str, str, str, str]:
    """The page links' hrefs and classes for the portfolio shown on the page at `pathname`."""
    kind = page_kind(pathname or "/").name
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
        # Not when the app loads: the first layout has the selector filled (shell_layout). A page that the
        # router inserts later still runs it (its store is new, and the outputs lie outside the page).
        prevent_initial_call=True,
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
