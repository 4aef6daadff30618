"""The transactions page: the ledger grid, the add form, CSV import/export and portfolio management.

Drawn like the dashboard (see dashboard.py): `static=True` is the plain-HTML skeleton of GET /transactions, the
default is the Dash layout. Error views take the services' FieldError values as JSON dicts
({"line"?, "field", "message"}) and render them as text, so user input is always escaped.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import ids
from dashapp.components.benchmark_picker import benchmark_picker
from dashapp.components.broker_import import format_chooser
from dashapp.components.skeleton import card, field_placeholder, live_or_placeholder, part, skeleton_text
from services.models import TRANSACTION_TYPES

GRID_HEIGHT = "460px"
FIELD_LABELS = {"date": "Date", "ticker": "Ticker", "type": "Type", "quantity": "Quantity", "price": "Price",
                "fees": "Fees", "currency": "Currency", "fx_rate": "FX rate", "note": "Note"}
PLACEHOLDERS = {"ticker": "AAPL", "quantity": "10", "price": "189.50", "fees": "0", "currency": "quote's",
                "fx_rate": "day's rate", "note": "optional"}
# The base currencies offered on the Portfolio card (ISO codes; the API takes any).
BASE_CURRENCIES = ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "HKD", "SEK", "NOK", "DKK", "ZAR", "ILS")

_NUMBER = {"cellClass": "ag-right-aligned-cell", "headerClass": "ag-right-aligned-header",
           "filter": "agNumberColumnFilter", "cellDataType": "number", "flex": 1, "minWidth": 90}
TXN_COLUMN_DEFS: list[dict] = [
    {"field": "date", "headerName": "Date", "width": 130, "filter": "agTextColumnFilter", "cellDataType": "text",
     "sort": "desc"},
    {"field": "ticker", "headerName": "Ticker", "width": 100, "filter": "agTextColumnFilter",
     "cellDataType": "text", "cellClass": "fw-semibold"},
    {"field": "type", "headerName": "Type", "width": 110, "filter": "agTextColumnFilter", "cellDataType": "text"},
    {"field": "quantity", "headerName": "Quantity", **_NUMBER, "minWidth": 104,
     "valueFormatter": {"function": "stNumber(params.value)"}},
    {"field": "price", "headerName": "Price", **_NUMBER,
     "valueFormatter": {"function": "stMoney(params.value, params.data.currency, false)"}},
    {"field": "fees", "headerName": "Fees", **_NUMBER,
     "valueFormatter": {"function": "stMoney(params.value, params.data.currency, false)"}},
    # The transaction's own currency and rate (issue 14): empty when not given (the instrument's quote currency,
    # the day's rate), every digit of a rate when given.
    {"field": "currency_given", "headerName": "Currency", "width": 110, "filter": "agTextColumnFilter",
     "cellDataType": "text", "valueFormatter": {"function": "params.value ? params.value : ''"},
     "headerTooltip": "The currency of price and fees; empty: the instrument's quote currency"},
    {"field": "fx_rate", "headerName": "FX rate", **_NUMBER,
     "valueFormatter": {"function": "params.value == null ? '' : String(params.value)"},
     "headerTooltip": "One unit of the transaction's currency in the portfolio's currency that day; empty: the "
                      "day's rate"},
    {"field": "note", "headerName": "Note", "flex": 2, "minWidth": 140, "filter": "agTextColumnFilter",
     "cellDataType": "text"},
]
TXN_GRID_OPTIONS = {
    "animateRows": False, "rowHeight": 34, "headerHeight": 36,
    "rowSelection": {"mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                     "enableClickSelection": False},
    "localeText": {"noRowsToShow": "No transactions yet: add one or import a CSV"},
}


@dataclass(frozen=True)
class FormErrors:
    """Where the add form's errors go: a message per field (None: valid) and one for the whole form."""

    fields: dict[str, str | None]
    general: str | None = None


def form_errors(errors: list[dict], general: str | None = None) -> FormErrors:
    """Spread a rejection's errors over the form's fields; errors about no form field go to `general`."""
    messages: dict[str, list[str]] = {field: [] for field in ids.TXN_FIELDS}
    other: list[str] = []
    for error in errors:
        field = error.get("field")
        if field in messages:
            messages[field].append(f"{FIELD_LABELS[field]} {error.get('message', 'is invalid')}")
        else:
            other.append(f"{field}: {error.get('message')}" if field else str(error.get("message")))
    lines = [general] if general and (other or not any(messages.values())) else []
    lines += other
    return FormErrors({field: "; ".join(found) or None for field, found in messages.items()},
                      " ".join(line for line in lines if line) or None)


def delete_outcome(deleted: int, missing: int, refused: list[str]) -> tuple[str, str]:
    """What "Delete selected" did, as (text, alert tone): rows already gone are said to be, never "Deleted 0"."""
    def count(n: int) -> str:
        return f"{n} transaction{'s' if n != 1 else ''}"

    if not deleted and not refused:
        text = ("That transaction was already deleted." if missing == 1
                else "Those transactions were already deleted.")
        return text, "warning"
    parts = [f"Deleted {count(deleted)}."] if deleted else []
    if missing:
        parts.append(f"{count(missing)} {'was' if missing == 1 else 'were'} already deleted.")
    if refused:
        parts.append(f"Kept: {' '.join(refused)}")
    return " ".join(parts), "warning" if (refused or missing) else "success"


def delete_question(selected: int) -> str:
    """The confirmation asked before deleting `selected` transactions."""
    return f"Delete {selected} transaction{'s' if selected != 1 else ''}?"


def name_problem(errors: list[dict]) -> str:
    """A refused portfolio name as one sentence ("Name is required", "A portfolio named “X” exists already")."""
    sentences = []
    for error in errors:
        message = str(error.get("message", "is invalid"))
        if error.get("field") == "name" and not message.startswith("a portfolio named"):
            message = f"name {message}"
        sentences.append(message[:1].upper() + message[1:])
    return ". ".join(sentences) + "."


def edit_values(transaction: dict) -> dict[str, str]:
    """The form's values for a stored transaction (`Transaction` JSON, or exact decimal text) by field name."""
    def number(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return {"date": str(transaction.get("date") or ""), "ticker": str(transaction.get("ticker") or ""),
            "type": str(transaction.get("type") or "BUY"), "quantity": number(transaction.get("quantity")),
            "price": number(transaction.get("price")), "fees": number(transaction.get("fees")),
            "currency": str(transaction.get("currency") or ""), "fx_rate": number(transaction.get("fx_rate")),
            "note": str(transaction.get("note") or "")}


@dataclass(frozen=True)
class FormMode:
    """How the transaction form reads: adding, or editing one transaction."""

    title: str
    submit: str
    cancel_class: str


def form_mode(editing: int | None) -> FormMode:
    """The form's title, button label and Cancel button classes while adding (None) or editing `editing`."""
    if editing is None:
        return FormMode("Add a transaction", "Add transaction", f"{_CANCEL_CLASS} d-none")
    return FormMode("Edit a transaction", "Save changes", _CANCEL_CLASS)


_CANCEL_CLASS = "btn btn-outline-secondary btn-sm ms-2"


def txn_rows(transactions: list[dict], currency: str) -> list[dict]:
    """The ledger's transactions (as `Transaction.to_json()`) with the currency the grid formats their price and
    fees in (`currency`: the transaction's own, else the portfolio's `currency`), the currency the transaction
    gives (`currency_given`, None when it gives none: the Currency column) and a string row id (AG Grid wants
    getRowId to return a string)."""
    return [{**transaction, "currency": transaction.get("currency") or currency,
             "currency_given": transaction.get("currency"), "row_id": str(transaction["id"])}
            for transaction in transactions]


def decode_upload(contents: str) -> tuple[str | None, dict | None]:
    """The text of a dcc.Upload `contents` (a base64 data URL), or (None, error) if it is not UTF-8 text."""
    _header, _, data = (contents or "").partition(",")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, {"line": None, "field": "file", "message": "could not be read"}
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        message = f"is not UTF-8: byte 0x{raw[error.start]:02x} at offset {error.start}; save the file as UTF-8"
        return None, {"line": line, "field": "file", "message": message}


def download_name(portfolio_name: str) -> str:
    """A safe file name for a portfolio's CSV export."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", portfolio_name).strip("-").lower()[:60]
    return f"{slug or 'portfolio'}-transactions.csv"


# The most errors the page lists; a rejection names at most MAX_REPORTED_ERRORS and counts the rest.
SHOWN_ERRORS = 100


def csv_errors_view(message: str, errors: list[dict], total: int | None = None) -> html.Div:
    """A rejected import: the summary and a table of the first errors by CSV line, then "and N more" when `total`
    (every error found) is more than are listed."""
    shown = errors[:SHOWN_ERRORS]
    rows = [html.Tr([html.Td(str(e["line"]) if e.get("line") is not None else "—"), html.Td(e.get("field", "")),
                     html.Td(e.get("message", ""))]) for e in shown]
    more = max(total or 0, len(errors)) - len(shown)
    return html.Div([
        html.Div([html.Strong("Nothing was imported: "), message], className="mb-2"),
        html.Div(html.Table([
            html.Thead(html.Tr([html.Th("Line"), html.Th("Field"), html.Th("Problem")])),
            html.Tbody(rows),
        ], className="table table-sm table-borderless mb-0 csv-errors"), className="csv-errors-scroll"),
        *([html.Div(f"and {more} more error{'s' if more != 1 else ''} not listed (the first {len(shown)} are).",
                    className="mt-2 csv-errors-more")] if more > 0 else []),
    ], className="alert alert-danger mb-0", role="alert")


def megabytes(size: int) -> str:
    """A file size for people: 5242880 is "5 MB", 4718592 is "4.5 MB" (MB of 2**20 bytes, as file managers say)."""
    text = f"{size / 2**20:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + " MB"


def too_large_text(filename: str, size: int, limit: int) -> str:
    """Why a file was not imported: its size and the limit (the upload's clientside check says the same)."""
    return (f"\u201c{filename}\u201d is {megabytes(size)}; the largest file that can be imported is "
            f"{megabytes(limit)}. Split it into smaller files.")


def too_large_view(filename: str, size: int, limit: int) -> html.Div:
    """An upload over the limit, refused before it is read."""
    return html.Div([html.Strong("Nothing was imported: "), too_large_text(filename, size, limit)],
                    className="alert alert-danger mb-0", role="alert")


def upload_size(contents: str) -> int:
    """The size in bytes of the file in a dcc.Upload `contents` (a base64 data URL), without decoding it."""
    data = (contents or "").partition(",")[2].rstrip()
    return len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))


def _field(field: str, control, col: str = "col-6") -> html.Div:
    return html.Div([
        html.Label(FIELD_LABELS[field], htmlFor=ids.txn_input(field), className="form-label small mb-1"),
        control,
        html.Div(id=ids.txn_feedback(field), className="invalid-feedback"),
    ], className=col)


def _input(field: str, static: bool, today: str):
    def live():
        if field == "type":
            return dbc.Select(id=ids.txn_input(field), options=[{"label": t, "value": t} for t in TRANSACTION_TYPES],
                              value="BUY", size="sm")
        kind = "date" if field == "date" else "text"
        return dbc.Input(id=ids.txn_input(field), type=kind, size="sm", value=today if field == "date" else None,
                         placeholder=PLACEHOLDERS.get(field), autoComplete="off",
                         inputMode="decimal" if field in ("quantity", "price", "fees", "fx_rate") else None,
                         maxLength=3 if field == "currency" else None)
    placeholder = field_placeholder("form-select form-select-sm" if field == "type" else "form-control form-control-sm")
    return live_or_placeholder(static, live, placeholder)


def _add_form(static: bool, today: str) -> html.Div:
    fields = [_field(f, _input(f, static, today), "col-12" if f == "note" else "col-6") for f in ids.TXN_FIELDS]
    mode = form_mode(None)
    return html.Div([
        html.Div(fields, className="row g-2 mb-3"),
        html.Div([
            html.Button(mode.submit, id=ids.TXN_SUBMIT, type="button", n_clicks=0,
                        className="btn btn-primary btn-sm text-nowrap", disabled=static),
            html.Button("Cancel", id=ids.TXN_CANCEL, type="button", n_clicks=0, className=mode.cancel_class,
                        disabled=static),
        ], className="d-flex align-items-center"),
        html.Div(id=ids.TXN_FORM_MESSAGE, className="small mt-2 form-message"),
        html.Ul([
            html.Li("BUY and SELL: quantity in shares, price per share; fees add to the cost (BUY) or reduce "
                    "the proceeds (SELL)."),
            html.Li("DIVIDEND: quantity = shares held, price = cash per share, fees = withholding tax."),
            html.Li("SPLIT: quantity = new shares per old share (2 for 2-for-1), or a ratio like 1:3 "
                    "(one new for three old), price 0."),
        ], className="small text-muted mt-3 mb-0 ps-3"),
    ], id=ids.TXN_FORM)


def _upload(static: bool, max_bytes: int, import_format: dict | None = None) -> html.Div:
    prompt = html.Div(["Drop a CSV file here or ", html.Span("choose one", className="link-primary")],
                      className="upload-prompt")
    # The label around the upload names its file input (dcc.Upload passes no aria-label to it) and opens the file
    # dialog when clicked; the drop zone's own click is off, or a click would open the dialog twice.
    area = live_or_placeholder(
        static, lambda: html.Label(dcc.Upload(prompt, id=ids.CSV_UPLOAD, accept=".csv,text/csv", max_size=max_bytes,
                                              className="upload-area", multiple=False, disable_click=True),
                                   className="d-block mb-0"),
        html.Div(prompt, className="upload-area"))
    return html.Div([
        format_chooser(import_format, static),
        html.P(["Our columns: ", html.Code("date,ticker,type,quantity,price,fees,note,currency,fx_rate,time"),
                " (fees, note, currency, fx_rate and time optional; currency GBp or GBX for prices in pence), at most "
                f"{megabytes(max_bytes)}. A file with any bad row imports nothing."],
               className="small text-muted"),
        area,
        html.Div(id=ids.CSV_UPLOAD_RESULT, className="mt-2"),
    ])


def _text_button(input_id: str, button_id: str, label: str, placeholder: str, static: bool,
                 value: str | None = None, tone: str = "btn-outline-primary") -> html.Div:
    control = live_or_placeholder(
        static, lambda: dbc.Input(id=input_id, type="text", size="sm", value=value, placeholder=placeholder,
                                  maxLength=100, autoComplete="off"),
        field_placeholder())
    return html.Div([control, html.Button(label, id=button_id, type="button", n_clicks=0,
                                          className=f"btn {tone} btn-sm", disabled=static)],
                    className="input-group input-group-sm mb-2")


def _portfolio_admin(portfolio: dict | None, static: bool) -> html.Div:
    children = []
    if portfolio is not None:
        children += [
            html.Label("Rename this portfolio", className="form-label small mb-1"),
            _text_button(ids.PORTFOLIO_RENAME_NAME, ids.PORTFOLIO_RENAME, "Rename", "Portfolio name", static,
                         portfolio["name"]),
            *_base_currency(portfolio, static),
            *([] if static else benchmark_picker(portfolio)),  # issue 16: the portfolio's benchmark ticker
        ]
    children += [
        html.Label("New portfolio", className="form-label small mb-1"),
        _text_button(ids.PORTFOLIO_NEW_NAME, ids.PORTFOLIO_CREATE, "Create", "e.g. Retirement", static),
    ]
    if portfolio is not None:
        children.append(html.Button("Delete this portfolio", id=ids.PORTFOLIO_DELETE, type="button", n_clicks=0,
                                    className="btn btn-outline-danger btn-sm", disabled=static))
        if not static:
            children.append(dcc.ConfirmDialog(
                id=ids.PORTFOLIO_DELETE_CONFIRM,
                message=f"Delete the portfolio \u201c{portfolio['name']}\u201d and all its transactions?"))
    children.append(html.Div(id=ids.PORTFOLIO_MESSAGE, className="small mt-2"))
    return html.Div(children)


def _base_currency(portfolio: dict, static: bool) -> list:
    """The base-currency select and its Apply button, with the currency the portfolio is valued in now."""
    current = str(portfolio.get("base_currency") or "USD")
    codes = BASE_CURRENCIES if current in BASE_CURRENCIES else (current, *BASE_CURRENCIES)
    control = live_or_placeholder(
        static, lambda: dbc.Select(id=ids.PORTFOLIO_BASE_CURRENCY, options=[{"label": c, "value": c} for c in codes],
                                   value=current, size="sm"),
        field_placeholder("form-select form-select-sm"))
    return [
        html.Label(["Base currency (valued in ", html.Span(current, id=ids.PORTFOLIO_BASE_LABEL), ")"],
                   htmlFor=ids.PORTFOLIO_BASE_CURRENCY, className="form-label small mb-1"),
        html.Div([control, html.Button("Apply", id=ids.PORTFOLIO_BASE_APPLY, type="button", n_clicks=0,
                                       className="btn btn-outline-primary btn-sm", disabled=static)],
                 className="input-group input-group-sm mb-2"),
    ]


def import_warnings_view(count: int, filename: str, warnings: list[dict]) -> html.Div:
    """An import that succeeded with rows that look wrong: how many were imported and each warning by line."""
    rows = [html.Tr([html.Td(str(w.get("line", "—"))), html.Td(w.get("field", "")), html.Td(w.get("message", ""))])
            for w in warnings[:SHOWN_ERRORS]]
    return html.Div([
        html.Div([html.Strong(f"Imported {count} transaction{'s' if count != 1 else ''} from {filename}, "),
                  f"but {len(warnings)} row{'s look' if len(warnings) != 1 else ' looks'} wrong:"], className="mb-2"),
        html.Div(html.Table([
            html.Thead(html.Tr([html.Th("Line"), html.Th("Field"), html.Th("Warning")])),
            html.Tbody(rows),
        ], className="table table-sm table-borderless mb-0 csv-errors"), className="csv-errors-scroll"),
    ], className="alert alert-warning mb-0 import-warnings", role="status")


def _missing_portfolio(problem: str, portfolios: list[dict]) -> html.Div:
    """Why the page shows no portfolio, and the portfolios there are instead (links to their pages)."""
    children: list = [html.Div(problem, className="mb-0")]
    if portfolios:
        children = [
            html.Div(problem, className="mb-2"),
            html.Div("Open one of your portfolios:", className="mb-1"),
            html.Ul([html.Li(html.A(p["name"], href=f"/transactions?portfolio={p['id']}", className="alert-link"))
                     for p in portfolios], id=ids.PORTFOLIO_LINKS, className="mb-0"),
        ]
    return html.Div(children, id=ids.PORTFOLIO_MISSING, className="alert alert-warning mb-3", role="alert")


def _missing_title(problem: str | None, portfolios: list[dict]) -> str:
    if not portfolios:
        return "No portfolio yet"
    return "Portfolio not found" if problem else "No portfolio chosen"


def transactions_page(portfolio: dict | None, *, static: bool = False, today: str = "",
                      max_upload_bytes: int = 5 * 1024 * 1024, problem: str | None = None,
                      portfolios: list[dict] | None = None, import_format: dict | None = None) -> html.Div:
    """The transactions page of `portfolio`; without one, only the create form, with `problem` (why there is
    none, e.g. an unknown id) and links to the `portfolios` that exist. "No portfolio yet" only when none does."""
    portfolios = portfolios or []
    title = portfolio["name"] if portfolio else (_missing_title(problem, portfolios) if not static
                                                 else skeleton_text("14rem"))
    toolbar = html.Div([
        html.H1(["Transactions", html.Span(" · ", className="text-muted"), html.Span(title, id=ids.TXN_TITLE)],
                className="h4 mb-0 page-title text-truncate"),
        html.Div([
            html.Button("Download CSV", id=ids.CSV_DOWNLOAD_BUTTON, type="button", n_clicks=0,
                        className="btn btn-outline-primary btn-sm", disabled=static or portfolio is None),
        ], className="ms-auto d-flex align-items-center gap-2"),
    ], className="page-toolbar d-flex flex-wrap align-items-center gap-2 mb-3")
    admin = card("Portfolio", _portfolio_admin(portfolio, static), body_class="card-body")
    if portfolio is None and not static:
        missing = [_missing_portfolio(problem, portfolios)] if problem or portfolios else []
        return html.Div([dcc.Store(id=ids.CURRENT_PORTFOLIO, data=None),
                         dcc.Location(id=ids.TXN_LOCATION, refresh="callback-nav"), toolbar,
                         html.Div(html.Div([*missing, admin], className="col-lg-6"), className="row g-3")],
                        className="container-fluid app-container page py-3")
    ledger = card("Ledger", [
        part(ids.TXN_TABLE_PART,
             live_or_placeholder(static, lambda: dag.AgGrid(
                 id=ids.TXN_TABLE, columnDefs=TXN_COLUMN_DEFS, rowData=[], getRowId="params.data.row_id",
                 defaultColDef={"sortable": True, "resizable": True, "filter": True},
                 dashGridOptions=TXN_GRID_OPTIONS, className="stock-grid",
                 style={"height": "100%", "width": "100%"}), html.Div(style={"height": "100%"})),
             height=GRID_HEIGHT),
        html.Div(id=ids.TXN_DELETE_MESSAGE, className="small mt-2"),
    ], header_right=[
        html.Button("Edit selected", id=ids.TXN_EDIT, type="button", n_clicks=0,
                    className="btn btn-outline-primary btn-sm", disabled=static),
        html.Button("Delete selected", id=ids.TXN_DELETE, type="button", n_clicks=0,
                    className="btn btn-outline-danger btn-sm", disabled=static),
        *([] if static else [dcc.ConfirmDialog(id=ids.TXN_DELETE_CONFIRM, message=delete_question(0))]),
    ])
    form_title = html.Span(form_mode(None).title, id=ids.TXN_FORM_TITLE)
    children = [
        toolbar,
        html.Div([html.Div(ledger, className="col-lg-8"),
                  html.Div(card(form_title, _add_form(static, today), body_class="card-body"),
                           className="col-lg-4")], className="row g-3 mb-3"),
        html.Div([html.Div(card("Import a CSV", _upload(static, max_upload_bytes, import_format),
                                body_class="card-body"), className="col-lg-6"),
                  html.Div(admin, className="col-lg-6")], className="row g-3"),
    ]
    if not static:
        children = [dcc.Store(id=ids.CURRENT_PORTFOLIO, data=portfolio),
                    dcc.Store(id=ids.TXN_VERSION, data=0), dcc.Store(id=ids.PORTFOLIO_RENAMED, data=0),
                    dcc.Store(id=ids.TXN_EDITING, data=None),
                    dcc.Location(id=ids.TXN_LOCATION, refresh="callback-nav"), dcc.Download(id=ids.CSV_DOWNLOAD),
                    *children]
    return html.Div(children, className="container-fluid app-container page py-3")
