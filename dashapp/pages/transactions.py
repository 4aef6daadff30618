"""The transactions page at /transactions?portfolio=<id>: the ledger, the add/edit form, CSV in and out, portfolios.

Each callback calls one Ledger method and renders its answer; a rejection (ValidationError) is shown where it
belongs: at the form's fields, or as a table of CSV lines. Every change bumps TXN_VERSION, which refills the grid.
The form edits instead of adding while TXN_EDITING holds a transaction id ("Edit selected" puts it there, Save and
Cancel take it out). The import's callbacks (our CSV or a broker's export) are in pages/_broker_import.py.
Every message is text in an alert (or Bootstrap's field feedback), never bare text.
"""

from __future__ import annotations

import contextlib
import json
import logging

import dash
from dash import Input, Output, State, callback, clientside_callback, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components import benchmark_picker
from dashapp.components.skeleton import LOADED
from dashapp.components.transactions import (
    delete_outcome,
    delete_question,
    download_name,
    edit_values,
    form_errors,
    form_mode,
    name_problem,
    transactions_page,
    txn_rows,
)
from dashapp.pages import _broker_import
from dashapp.pages._services import currency_of, resolve_portfolio
from dashapp.services_access import services
from services.csv_io import plain_decimal
from services.import_mappings import ImportMappings
from services.models import NotFoundError, Transaction, ValidationError

log = logging.getLogger(__name__)

_broker_import.register()  # the import's callbacks: file, mapping, save (again for every app built)
benchmark_picker.register()  # issue 16: the Portfolio card's benchmark ticker
dash.register_page(__name__, path="/transactions", name="Transactions", title="Transactions · MyStockTracker",
                   order=1)

def layout(portfolio: str | None = None, **_query: str) -> html.Div:
    """The page of the portfolio named in the query string (the first one without it). An id that names no
    portfolio says so and offers the portfolios there are; "No portfolio yet" only when there is none at all."""
    found, problem = resolve_portfolio(portfolio)
    settings = services().settings
    others = [] if found else [p.to_json() for p in services().ledger.list_portfolios()]
    asked = portfolio is not None and str(portfolio).strip() != ""
    return transactions_page(found, today=_today(), max_upload_bytes=settings.max_upload_bytes,
                             problem=problem if asked else None, portfolios=others,
                             import_format=_saved_format(found))


def _saved_format(portfolio: dict | None) -> dict | None:
    """The portfolio's saved import format (the select starts on it); None without a portfolio."""
    if not portfolio:
        return None
    try:
        return ImportMappings(services().ledger).get(int(portfolio["id"])).to_json()
    except NotFoundError:
        return None


def _today() -> str:
    return services().clock.now().date().isoformat()


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


def _alert(text, tone: str) -> html.Div:
    return html.Div(text, className=f"alert alert-{tone} py-2 px-3 mb-0 small", role="status")


def _describe(transaction: Transaction) -> str:
    return f"{transaction.type} {transaction.ticker} on {transaction.date.isoformat()}"


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
_CLEARED = ("ticker", "quantity", "price", "fees", "currency", "fx_rate", "note")
_NO_ERRORS = (*[False] * len(ids.TXN_FIELDS), *[None] * len(ids.TXN_FIELDS))


def _blank_form(keep_date_and_type: bool) -> list:
    """The form's values after an add (date and type kept for the next row) or after an edit or Cancel."""
    head = [no_update, no_update] if keep_date_and_type else [_today(), "BUY"]
    return [*head, *[""] * len(_CLEARED)]  # in _FORM_VALUES order


_FORM_VALUES = ("date", "type", *_CLEARED)  # the order _blank_form returns them in


@callback(
    Output(ids.TXN_VERSION, "data", allow_duplicate=True),
    Output(ids.TXN_FORM_MESSAGE, "children"),
    *[Output(ids.txn_input(field), "invalid") for field in ids.TXN_FIELDS],
    *[Output(ids.txn_feedback(field), "children") for field in ids.TXN_FIELDS],
    *[Output(ids.txn_input(field), "value") for field in _FORM_VALUES],
    Output(ids.TXN_EDITING, "data"),
    Input(ids.TXN_SUBMIT, "n_clicks"),
    *_FIELD_STATES,
    State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"), State(ids.TXN_EDITING, "data"),
    prevent_initial_call=True,
)
def submit_transaction(clicks: int, *values):
    """Add the form's transaction, or save the one being edited; or show every error at its field."""
    _clicked(clicks)
    *fields, portfolio, version, editing = values
    unchanged = [no_update] * len(_FORM_VALUES)
    ledger = services().ledger
    try:
        if editing is None:
            data = {f: v for f, v in zip(ids.TXN_FIELDS, fields, strict=True) if v not in (None, "")}
            saved = ledger.add_transaction(_id(portfolio), data)
        else:
            # Every field, blanks included: a cleared note or fee is a change, not "keep the stored value".
            data = {f: ("" if v is None else v) for f, v in zip(ids.TXN_FIELDS, fields, strict=True)}
            saved = ledger.update_transaction(_id(portfolio), int(editing), data)
    except ValidationError as error:
        shown = form_errors([e.to_json() for e in error.errors], error.message)
        verb = "added" if editing is None else "saved"
        text = f"Not {verb}: {shown.general or 'please correct the fields marked in red.'}"
        return (no_update, _alert(text, "danger"), *[shown.fields[f] is not None for f in ids.TXN_FIELDS],
                *[shown.fields[f] for f in ids.TXN_FIELDS], *unchanged, no_update)
    except NotFoundError:
        if editing is None:
            raise PreventUpdate from None
        text = "That transaction no longer exists (it was deleted meanwhile); nothing was saved."
        return ((version or 0) + 1, _alert(text, "warning"), *_NO_ERRORS, *_blank_form(False), None)
    if editing is None:
        return ((version or 0) + 1, _alert(f"Added {_describe(saved)}.", "success"), *_NO_ERRORS,
                *_blank_form(True), no_update)
    return ((version or 0) + 1, _alert(f"Saved changes: {_describe(saved)}.", "success"), *_NO_ERRORS,
            *_blank_form(False), None)


@callback(
    Output(ids.TXN_EDITING, "data", allow_duplicate=True),
    *[Output(ids.txn_input(field), "value", allow_duplicate=True) for field in _FORM_VALUES],
    *[Output(ids.txn_input(field), "invalid", allow_duplicate=True) for field in ids.TXN_FIELDS],
    *[Output(ids.txn_feedback(field), "children", allow_duplicate=True) for field in ids.TXN_FIELDS],
    Output(ids.TXN_FORM_MESSAGE, "children", allow_duplicate=True),
    Output(ids.TXN_DELETE_MESSAGE, "children", allow_duplicate=True),
    Input(ids.TXN_EDIT, "n_clicks"), Input(ids.TXN_CANCEL, "n_clicks"),
    State(ids.TXN_TABLE, "selectedRows"), State(ids.CURRENT_PORTFOLIO, "data"),
    prevent_initial_call=True,
)
def edit_or_cancel(edit_clicks: int, cancel_clicks: int, selected: list[dict] | None, portfolio: dict | None):
    """"Edit selected" fills the form with the one selected transaction; Cancel empties it and adds again."""
    if ctx.triggered_id == ids.TXN_CANCEL:
        _clicked(cancel_clicks)
        return None, *_blank_form(False), *_NO_ERRORS, None, no_update
    _clicked(edit_clicks)
    untouched = [no_update] * (1 + len(_FORM_VALUES) + len(_NO_ERRORS) + 1)
    selected = selected or []
    if len(selected) != 1:
        text = ("Select the transaction to edit in the grid first (its checkbox)." if not selected else
                f"Select exactly one transaction to edit ({len(selected)} are selected).")
        return *untouched, _alert(text, "warning")
    try:
        stored = services().ledger.get_transaction(_id(portfolio), int(selected[0]["id"]))
    except NotFoundError:
        return *untouched, _alert("That transaction was already deleted.", "warning")
    shown = edit_values({"date": stored.date.isoformat(), "ticker": stored.ticker, "type": stored.type,
                         "quantity": plain_decimal(stored.quantity), "price": plain_decimal(stored.price),
                         "fees": plain_decimal(stored.fees), "note": stored.note, "currency": stored.currency,
                         "fx_rate": None if stored.fx_rate is None else plain_decimal(stored.fx_rate)})
    message = _alert(f"Editing {_describe(stored)}: change the fields, then Save changes.", "info")
    return stored.id, *[shown[f] for f in _FORM_VALUES], *_NO_ERRORS, message, None


@callback(
    Output(ids.TXN_SUBMIT, "children"), Output(ids.TXN_CANCEL, "className"), Output(ids.TXN_FORM_TITLE, "children"),
    Input(ids.TXN_EDITING, "data"),
    prevent_initial_call=True,
)
def show_form_mode(editing: int | None):
    """The form's title and buttons: "Add transaction", or "Save changes" with a Cancel next to it."""
    mode = form_mode(editing)
    return mode.submit, mode.cancel_class, mode.title


@callback(
    Output(ids.TXN_DELETE_CONFIRM, "displayed"), Output(ids.TXN_DELETE_CONFIRM, "message"),
    Output(ids.TXN_DELETE_MESSAGE, "children", allow_duplicate=True),
    Input(ids.TXN_DELETE, "n_clicks"), State(ids.TXN_TABLE, "selectedRows"),
    prevent_initial_call=True,
)
def ask_before_deleting(clicks: int, selected: list[dict] | None):
    """"Delete selected" asks first ("Delete 3 transactions?"); with nothing selected it says what to do."""
    _clicked(clicks)
    if not selected:
        return False, no_update, _alert("Select transactions in the grid first (the checkboxes).", "warning")
    return True, delete_question(len(selected)), None


@callback(
    Output(ids.TXN_VERSION, "data", allow_duplicate=True),
    Output(ids.TXN_DELETE_MESSAGE, "children", allow_duplicate=True),
    Output(ids.TXN_TABLE, "selectedRows"),
    Input(ids.TXN_DELETE_CONFIRM, "submit_n_clicks"),
    State(ids.TXN_TABLE, "selectedRows"), State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"),
    prevent_initial_call=True,
)
def delete_transactions(confirmed: int | None, selected: list[dict] | None, portfolio: dict | None, version: int):
    """Delete the selected transactions (once confirmed), one by one; one that would leave a later SELL short
    stays. The selection is cleared, so a second press cannot act on rows that are gone."""
    _clicked(confirmed)
    if not selected:
        return no_update, _alert("Select transactions in the grid first (the checkboxes).", "warning"), no_update
    portfolio_id = _id(portfolio)
    deleted, missing, refused = 0, 0, []
    for row in selected:
        try:
            services().ledger.delete_transaction(portfolio_id, int(row["id"]))
            deleted += 1
        except ValidationError as error:
            refused.extend(e.message for e in error.errors)
        except NotFoundError:
            missing += 1
    text, tone = delete_outcome(deleted, missing, refused)
    # Refill the grid when anything changed, or when rows it still shows are gone (deleted elsewhere).
    return (version or 0) + (1 if deleted or missing else 0), _alert(text, tone), []


# dcc.Upload's max_size (the server's MAX_UPLOAD_BYTES) makes its drop zone drop a larger file without a word: it
# is never read, so no callback sees it. This listener sees the file first (the capture phase of the file input's
# change and of the drop) and says why nothing happens, with the limit the upload holds. Registered once per page.
clientside_callback(
    r"""function (uploadId, limit) {
        window.stUploadLimits = Object.assign(window.stUploadLimits || {}, {[uploadId]: limit});
        if (window.stUploadLimitsWatched) { return; }
        window.stUploadLimitsWatched = true;
        const megabytes = (n) => (n / 1048576).toFixed(1).replace(/\.0$/, '') + ' MB';
        const html = (type, props) => ({namespace: 'dash_html_components', type: type, props: props});
        const check = (event) => {
            for (const [id, max] of Object.entries(window.stUploadLimits)) {
                const zone = document.getElementById(id);
                if (!zone || !(event.target instanceof Node) || !zone.contains(event.target) || !(max > 0)) {
                    continue;
                }
                const files = (event.dataTransfer && event.dataTransfer.files) || event.target.files || [];
                const big = Array.from(files).find((file) => file.size > max);
                if (big) {
                    const text = '\u201c' + big.name + '\u201d is ' + megabytes(big.size) + '; the largest ' +
                        'file that can be imported is ' + megabytes(max) + '. Split it into smaller files.';
                    dash_clientside.set_props(RESULT_ID, {children: html('Div', {
                        className: 'alert alert-danger mb-0', role: 'alert',
                        children: [html('Strong', {children: 'Nothing was imported: '}), text]})});
                }
            }
        };
        document.addEventListener('change', check, true);
        document.addEventListener('drop', check, true);
    }""".replace("RESULT_ID", json.dumps(ids.CSV_UPLOAD_RESULT)),
    Input(ids.CSV_UPLOAD, "id"), State(ids.CSV_UPLOAD, "max_size"),
)


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
        return no_update, _alert(name_problem([e.to_json() for e in error.errors]), "danger")
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
        return no_update, _alert(name_problem([e.to_json() for e in error.errors]), "danger"), no_update
    return (renamed or 0) + 1, _alert(f"Renamed to \u201c{result.name}\u201d.", "success"), result.name


@callback(
    Output(ids.PORTFOLIO_RENAMED, "data", allow_duplicate=True),
    Output(ids.PORTFOLIO_MESSAGE, "children", allow_duplicate=True),
    Output(ids.PORTFOLIO_BASE_LABEL, "children"),
    Output(ids.CURRENT_PORTFOLIO, "data", allow_duplicate=True),
    Input(ids.PORTFOLIO_BASE_APPLY, "n_clicks"),
    State(ids.PORTFOLIO_BASE_CURRENCY, "value"), State(ids.CURRENT_PORTFOLIO, "data"),
    State(ids.PORTFOLIO_RENAMED, "data"),
    prevent_initial_call=True,
)
def change_base_currency(clicks: int, currency: str | None, portfolio: dict | None, renamed: int):
    """Value the portfolio in another currency; refused (shown in a red alert) while transactions carry an
    fx_rate into the old one (the API's clear_fx_rates drops them; the page does not, silently)."""
    _clicked(clicks)
    try:
        result = services().ledger.set_base_currency(_id(portfolio), currency or "")
    except ValidationError as error:
        text = " ".join(e.message[:1].upper() + e.message[1:] + "." for e in error.errors) or error.message
        return no_update, _alert(f"Base currency not changed: {text}", "danger"), no_update, no_update
    changed = {**(portfolio or {}), "base_currency": result.base_currency}
    # The new store refills the ledger grid (its amounts are formatted in the portfolio's currency).
    done = _alert(f"Now valued in {result.base_currency}.", "success")
    return (renamed or 0) + 1, done, result.base_currency, changed


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
