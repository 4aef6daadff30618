"""The transactions page at /transactions?portfolio=<id>: the ledger, the add form, CSV in and out, portfolios.

Each callback calls one Ledger method and renders its answer; a rejection (ValidationError) is shown where it
belongs: at the form's fields, or as a table of CSV lines. Every change bumps TXN_VERSION, which refills the grid.
"""

from __future__ import annotations

import contextlib

import dash
from dash import Input, Output, State, callback, clientside_callback, html, no_update
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components.skeleton import LOADED
from dashapp.components.transactions import (
    csv_errors_view,
    decode_upload,
    download_name,
    form_errors,
    transactions_page,
    txn_rows,
)
from dashapp.pages._services import currency_of, resolve_portfolio, services
from services.models import NotFoundError, ValidationError

dash.register_page(__name__, path="/transactions", name="Transactions", title="Transactions · MyStockTracker",
                   order=1)

def layout(portfolio: str | None = None, **_query: str) -> html.Div:
    """The page of the portfolio named in the query string (the first one without it)."""
    found, _problem = resolve_portfolio(portfolio)
    settings = services().settings
    return transactions_page(found, today=services().clock.now().date().isoformat(),
                             max_upload_bytes=settings.max_upload_bytes)


def _id(portfolio: dict | None) -> int:
    if not portfolio:
        raise PreventUpdate
    return int(portfolio["id"])


def _clicked(clicks: int | None) -> None:
    """Stop a button's callback unless the button was pressed.

    A callback whose output lives outside the page (the shell's stores) runs when the page mounts, despite
    prevent_initial_call, because Dash counts the newly inserted button as a change (n_clicks 0 or None).
    """
    if not clicks:
        raise PreventUpdate


def _alert(text: str, tone: str) -> html.Div:
    return html.Div(text, className=f"alert alert-{tone} py-2 px-3 mb-0 small", role="status")


@callback(
    Output(ids.TXN_TABLE, "rowData"), Output(ids.TXN_TABLE_PART, "className"),
    Input(ids.CURRENT_PORTFOLIO, "data"), Input(ids.TXN_VERSION, "data"),
)
def fill_ledger(portfolio: dict | None, _version: int):
    """The portfolio's transactions, newest first (the grid sorts by date)."""
    try:
        transactions = services().ledger.list_transactions(_id(portfolio))
    except NotFoundError:
        raise PreventUpdate from None
    return txn_rows([t.to_json() for t in transactions], currency_of(portfolio)), LOADED


_FIELD_STATES = [State(ids.txn_input(field), "value") for field in ids.TXN_FIELDS]
_CLEARED = ("ticker", "quantity", "price", "fees", "note")


@callback(
    Output(ids.TXN_VERSION, "data", allow_duplicate=True),
    Output(ids.TXN_FORM_MESSAGE, "children"),
    *[Output(ids.txn_input(field), "invalid") for field in ids.TXN_FIELDS],
    *[Output(ids.txn_feedback(field), "children") for field in ids.TXN_FIELDS],
    *[Output(ids.txn_input(field), "value") for field in _CLEARED],
    Input(ids.TXN_SUBMIT, "n_clicks"),
    *_FIELD_STATES,
    State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"),
    prevent_initial_call=True,
)
def add_transaction(clicks: int, *values):
    """Add the form's transaction, or show every error at its field."""
    _clicked(clicks)
    *fields, portfolio, version = values
    data = {field: value for field, value in zip(ids.TXN_FIELDS, fields, strict=True) if value not in (None, "")}
    try:
        added = services().ledger.add_transaction(_id(portfolio), data)
    except ValidationError as error:
        shown = form_errors([e.to_json() for e in error.errors], error.message)
        message = html.Span(shown.general or "Please correct the fields marked in red.", className="text-loss")
        return (no_update, message, *[shown.fields[f] is not None for f in ids.TXN_FIELDS],
                *[shown.fields[f] for f in ids.TXN_FIELDS], *[no_update] * len(_CLEARED))
    except NotFoundError:
        raise PreventUpdate from None
    text = f"Added {added.type} {added.ticker} on {added.date.isoformat()}."
    return ((version or 0) + 1, html.Span(text, className="text-gain"), *[False] * len(ids.TXN_FIELDS),
            *[None] * len(ids.TXN_FIELDS), *[""] * len(_CLEARED))


@callback(
    Output(ids.TXN_VERSION, "data", allow_duplicate=True), Output(ids.TXN_DELETE_MESSAGE, "children"),
    Input(ids.TXN_DELETE, "n_clicks"),
    State(ids.TXN_TABLE, "selectedRows"), State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"),
    prevent_initial_call=True,
)
def delete_transactions(clicks: int, selected: list[dict] | None, portfolio: dict | None, version: int):
    """Delete the selected transactions, one by one; one that would leave a later SELL short stays."""
    _clicked(clicks)
    if not selected:
        return no_update, _alert("Select transactions in the grid first (the checkboxes).", "light")
    portfolio_id = _id(portfolio)
    deleted, refused = 0, []
    for row in selected:
        try:
            services().ledger.delete_transaction(portfolio_id, int(row["id"]))
            deleted += 1
        except ValidationError as error:
            refused.extend(e.message for e in error.errors)
        except NotFoundError:
            continue
    text = f"Deleted {deleted} transaction{'s' if deleted != 1 else ''}."
    if refused:
        return (version or 0) + (1 if deleted else 0), _alert(f"{text} Kept: {' '.join(refused)}", "warning")
    return (version or 0) + 1, _alert(text, "success")


@callback(
    Output(ids.TXN_VERSION, "data", allow_duplicate=True), Output(ids.CSV_UPLOAD_RESULT, "children"),
    Output(ids.CSV_UPLOAD, "contents"),
    Input(ids.CSV_UPLOAD, "contents"),
    State(ids.CSV_UPLOAD, "filename"), State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"),
    prevent_initial_call=True,
)
def import_csv(contents: str | None, filename: str | None, portfolio: dict | None, version: int):
    """Import an uploaded CSV in full, or show every rejected line (and import nothing)."""
    if not contents:
        raise PreventUpdate
    text, problem = decode_upload(contents)
    if problem is not None:
        return no_update, csv_errors_view("the file is not UTF-8 text", [problem]), None
    try:
        count = services().ledger.import_csv(_id(portfolio), text or "")
    except ValidationError as error:
        return no_update, csv_errors_view(error.message, [e.to_json() for e in error.errors]), None
    name = filename or "the file"
    return (version or 0) + 1, _alert(f"Imported {count} transaction{'s' if count != 1 else ''} from {name}.",
                                      "success"), None


@callback(
    Output(ids.CSV_DOWNLOAD, "data"),
    Input(ids.CSV_DOWNLOAD_BUTTON, "n_clicks"), State(ids.CURRENT_PORTFOLIO, "data"),
    prevent_initial_call=True,
)
def download_csv(clicks: int, portfolio: dict | None) -> dict:
    """The ledger as CSV (it imports back to the same transactions)."""
    _clicked(clicks)
    csv_text = services().ledger.export_csv(_id(portfolio))
    return {"content": csv_text, "filename": download_name(portfolio["name"]), "type": "text/csv"}


# -- portfolios ------------------------------------------------------------------------------------------------
# Every output is on this page (its own Location and stores), so prevent_initial_call holds when it mounts.
@callback(
    Output(ids.TXN_LOCATION, "href", allow_duplicate=True),
    Output(ids.PORTFOLIO_MESSAGE, "children", allow_duplicate=True),
    Input(ids.PORTFOLIO_CREATE, "n_clicks"),
    State(ids.PORTFOLIO_NEW_NAME, "value"),
    prevent_initial_call=True,
)
def create_portfolio(clicks: int, name: str | None):
    """Create a portfolio and open its transactions page."""
    _clicked(clicks)
    try:
        created = services().ledger.create_portfolio(name or "")
    except ValidationError as error:
        return no_update, _alert("Name " + "; ".join(e.message for e in error.errors), "danger")
    return f"/transactions?portfolio={created.id}", no_update


@callback(
    Output(ids.PORTFOLIO_RENAMED, "data"),
    Output(ids.PORTFOLIO_MESSAGE, "children", allow_duplicate=True),
    Output(ids.TXN_TITLE, "children"),
    Input(ids.PORTFOLIO_RENAME, "n_clicks"),
    State(ids.PORTFOLIO_RENAME_NAME, "value"), State(ids.CURRENT_PORTFOLIO, "data"),
    State(ids.PORTFOLIO_RENAMED, "data"),
    prevent_initial_call=True,
)
def rename_portfolio(clicks: int, name: str | None, portfolio: dict | None, renamed: int):
    """Rename the portfolio shown."""
    _clicked(clicks)
    try:
        result = services().ledger.rename_portfolio(_id(portfolio), name or "")
    except ValidationError as error:
        return no_update, _alert("Name " + "; ".join(e.message for e in error.errors), "danger"), no_update
    return (renamed or 0) + 1, _alert(f"Renamed to \u201c{result.name}\u201d.", "success"), result.name


@callback(
    Output(ids.TXN_LOCATION, "href", allow_duplicate=True),
    Input(ids.PORTFOLIO_DELETE_CONFIRM, "submit_n_clicks"),
    State(ids.CURRENT_PORTFOLIO, "data"),
    prevent_initial_call=True,
)
def delete_portfolio(confirmed: int | None, portfolio: dict | None) -> str:
    """Delete the portfolio shown (after the confirmation dialog) and go to the first one left."""
    _clicked(confirmed)
    portfolio_id = _id(portfolio)
    with contextlib.suppress(NotFoundError):  # deleted meanwhile: the outcome is the same
        services().ledger.delete_portfolio(portfolio_id)
    # A query string that differs from the current URL, so the page is rendered again (for the first portfolio).
    return f"/transactions?deleted={portfolio_id}"


clientside_callback(
    "function(clicks) { return clicks > 0; }",
    Output(ids.PORTFOLIO_DELETE_CONFIRM, "displayed"),
    Input(ids.PORTFOLIO_DELETE, "n_clicks"),
    prevent_initial_call=True,
)
