"""The dashboard's split warning: splits of held tickers that disagree with the price source, each with a one-click
fix (add the missing SPLIT, or move a misdated one to the source's date).

Its callbacks call one builder (`services.corporate_actions`), from the cache alone: the warning appears as the
page mounts if the bars are cached, else once the prices' or the chart's wait has ended. A fix writes through the
owner-scoped ledger (validation, versions), then sets the page's portfolio store again, so every part fills anew
from the changed ledger (the chart loses its cliff).
"""

from __future__ import annotations

import re

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.services_access import services
from services.corporate_actions import CorporateActions, SplitCheck, apply_fix, corporate_actions, find_check
from services.models import NotFoundError, ValidationError

PAGE_TOOLBAR_CLASS = "page-toolbar"


def split_warning_area() -> html.Div:
    """The empty places of the warning and of the last fix's message (no height until filled)."""
    return html.Div([html.Div(id=ids.SPLIT_WARNINGS), html.Div(id=ids.SPLIT_FIX_MESSAGE, role="status"),
                     dcc.Store(id=ids.SPLIT_FIX_REQUEST, data=None)], className="split-warning-area")


def with_split_warnings(page: html.Div) -> html.Div:
    """The dashboard page with the warning's area right under its toolbar (at the top if it has none)."""
    children = list(page.children)
    toolbar = next((i for i, child in enumerate(children)
                    if PAGE_TOOLBAR_CLASS in (getattr(child, "className", None) or "").split()), -1)
    children.insert(toolbar + 1, split_warning_area())
    page.children = children
    return page


def _value_change(ratio: str) -> str:
    """The false move of the value on the day of a split never entered: N:M shares -> price x M/N."""
    new, old = (int(part) for part in ratio.split(":"))
    return f"{(old / new - 1):+.0%}".replace("%", " %")


def _unbroken_dates(text: str) -> list:
    """The text with its ISO dates kept on one line (a phone broke "2024-\n07-12")."""
    parts = re.split(r"(\d{4}-\d{2}-\d{2})", text)
    return [html.Span(part, className="text-nowrap") if i % 2 else part for i, part in enumerate(parts) if part]


def _line(check: SplitCheck) -> tuple[str, str | None]:
    """(what is wrong, the fix button's label or None) for one check."""
    if check.status == "misdated":
        return (f"{check.ticker}: the ledger's {check.ratio} split is dated {check.ledger_date}, but the price source "
                f"split it on {check.date}; the chart jumps between the two days.", f"Move it to {check.date}")
    if check.status == "missing" and check.transaction_id is not None:
        return (f"{check.ticker}: the ledger's split on {check.date} is {check.ledger_ratio}, but the price source's "
                f"is {check.ratio}.", f"Make it {check.ratio}")
    if check.status == "missing":
        return (f"{check.ticker}: the price source split it {check.ratio} on {check.date} and the ledger has no such "
                f"split, so the chart and the holding show a false {_value_change(check.ratio)} move that day.",
                f"Add the {check.ratio} split")
    return (f"{check.ticker}: the ledger has a {check.ratio} split on {check.date} that the price source does not "
            "know; check it against your broker's statement.", None)


def warning_view(actions: CorporateActions) -> dbc.Alert | None:
    """The warning listing every check that is not `recorded` (None when the ledger agrees with the source)."""
    problems = actions.problems
    if not problems:
        return None
    items = []
    for check in problems:
        text, label = _line(check)
        button = None if label is None else html.Button(
            label, id={"type": ids.SPLIT_FIX, "ticker": check.ticker, "date": check.date.isoformat()},
            n_clicks=0, type="button", className="btn btn-sm btn-primary text-nowrap split-fix")
        items.append(html.Li([html.Span(_unbroken_dates(text), className="me-2"), button],
                             className="split-warning-item mb-1", **{"data-ticker": check.ticker}))
    return dbc.Alert([html.Div("Splits disagree with the price source", className="fw-semibold mb-1"),
                      html.Ul(items, className="mb-0 ps-3")],
                     color="warning", className="split-warning mb-3")


def _actions(portfolio_id: int) -> CorporateActions:
    """The one builder, on the ledger as the dashboard's loader holds it (memoized per version)."""
    scoped = services()
    transactions = scoped.dashboard.load(portfolio_id).transactions
    return corporate_actions(scoped.ledger, scoped.cache, portfolio_id, transactions)


def _view(portfolio: dict | None) -> dbc.Alert | None:
    if not portfolio:
        raise PreventUpdate
    try:
        return warning_view(_actions(int(portfolio["id"])))
    except NotFoundError:
        raise PreventUpdate from None


def fill_split_warnings(portfolio: dict | None):
    """The warning as the page mounts (or after a fix), from the bars already cached."""
    return _view(portfolio)


def refill_split_warnings(_prices: str | None, _chart: str | None, portfolio: dict | None):
    """The warning once the prices' or the chart's wait has ended: their bars may have just been cached."""
    return _view(portfolio)


def fix_split(request: dict | None, portfolio: dict | None):
    """Apply the requested fix ({"ticker", "date"}) to the ledger, then set the portfolio store again so every
    part fills anew."""
    if not portfolio or not isinstance(request, dict):
        raise PreventUpdate
    portfolio_id = int(portfolio["id"])
    try:
        check = find_check(_actions(portfolio_id), str(request.get("ticker")), str(request.get("date")))
        if check is None or not check.fixable:
            return _message("That split already agrees with the price source.", "secondary"), dict(portfolio)
        apply_fix(services().ledger, portfolio_id, check)
    except NotFoundError:
        raise PreventUpdate from None
    except ValueError as error:  # a date that is not ISO (ValidationError, the ledger's refusal, is handled below)
        if isinstance(error, ValidationError):
            reasons = "; ".join(e.message for e in error.errors) or str(error)
            return _message(f"The ledger refused the fix: {reasons}", "danger"), dict(portfolio)
        raise PreventUpdate from None
    if check.status == "misdated":
        done = f"Moved the {check.ratio} split of {check.ticker} to {check.date}."
    elif check.transaction_id is not None:
        done = f"Corrected the split of {check.ticker} on {check.date} to {check.ratio}."
    else:
        done = f"Added the {check.ratio} split of {check.ticker} on {check.date}."
    return _message(done, "success"), dict(portfolio)


def _message(text: str, color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, className="split-fix-result mb-3", dismissable=True)


def register() -> None:
    """Register the callbacks with the app being built. Called by the dashboard page, which Dash runs again for every
    app it builds (decorated at import, they would join the first app only)."""
    callback(Output(ids.SPLIT_WARNINGS, "children", allow_duplicate=True), Input(ids.CURRENT_PORTFOLIO, "data"),
             prevent_initial_call="initial_duplicate")(fill_split_warnings)
    callback(Output(ids.SPLIT_WARNINGS, "children", allow_duplicate=True),
             Input(ids.PRICES_READY, "data"), Input(ids.CHART_READY, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
             prevent_initial_call=True)(refill_split_warnings)
    # A click on one of the fix buttons (pattern ids, drawn per problem) becomes one request in a plain store, in the
    # browser: the server's callback then takes an ordinary input, and buttons drawn anew (n_clicks 0) request nothing.
    clientside_callback(
        """
        function(clicks) {
            const context = dash_clientside.callback_context;
            const button = context.triggered_id;
            const fired = context.triggered.length && context.triggered[0].value;
            if (!button || !fired) { return dash_clientside.no_update; }
            return {ticker: button.ticker, date: button.date, nonce: Date.now()};
        }
        """,
        Output(ids.SPLIT_FIX_REQUEST, "data"),
        Input({"type": ids.SPLIT_FIX, "ticker": ALL, "date": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    callback(Output(ids.SPLIT_FIX_MESSAGE, "children"), Output(ids.CURRENT_PORTFOLIO, "data", allow_duplicate=True),
             Input(ids.SPLIT_FIX_REQUEST, "data"), State(ids.CURRENT_PORTFOLIO, "data"),
             prevent_initial_call=True)(fix_split)
