"""The Transactions page's import callbacks (docs/broker-import.md): a file dropped on the upload is imported in
the chosen format (our CSV or a broker preset); a custom-format file waits (IMPORT_PENDING) while its headers fill
the mapping form, for "Import with these columns"; Save mapping stores the format for the portfolio.
Every answer names the lines of the user's file. pages/transactions.py registers them (`register`).
"""

from __future__ import annotations

from dash import ALL, Input, Output, State, callback, no_update
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components.broker_import import (
    FORMAT_OPTIONS,
    HELP,
    MAPPED,
    NONE,
    custom_from_form,
    file_header,
    guess_columns,
    import_answer,
    waiting_for_mapping,
)
from dashapp.components.transactions import csv_errors_view, decode_upload, too_large_view, upload_size
from dashapp.services_access import services
from services.broker_formats import normalized
from services.broker_import import import_broker_csv
from services.broker_presets import CUSTOM, OWN_FORMAT, mapping_for
from services.import_mappings import ImportMappings
from services.models import NotFoundError, ValidationError

_COLUMNS = {"type": ids.IMPORT_COLUMN, "column": ALL}
_ACTIONS = {"type": ids.IMPORT_ACTION, "kind": ALL}
_FORM = (State(_COLUMNS, "value"), State(_COLUMNS, "id"), State(_ACTIONS, "value"), State(_ACTIONS, "id"),
         State(ids.IMPORT_DATE_FORMAT, "value"))


def _id(portfolio: dict | None) -> int:
    if not portfolio:
        raise PreventUpdate
    return int(portfolio["id"])


def _alert(text: str, tone: str):
    from dash import html

    return html.Div(text, className=f"alert alert-{tone} py-2 px-3 mb-0 small", role="status")


def _custom(values, col_ids, words, word_ids, date_format) -> dict:
    columns = {i["column"]: v for i, v in zip(col_ids or [], values or [], strict=False)}
    actions = {i["kind"]: v for i, v in zip(word_ids or [], words or [], strict=False)}
    return custom_from_form(columns, actions, date_format)


def run_import(portfolio: dict | None, text: str, filename: str, key: str, custom: dict | None):
    """Import `text` in format `key` and render the answer (or the rejected lines): (imported?, view)."""
    try:
        mapping = mapping_for(key or OWN_FORMAT, custom)
        result = import_broker_csv(services(), _id(portfolio), text, mapping, format_key=key or OWN_FORMAT)
    except ValidationError as error:
        return False, csv_errors_view(error.message, [e.to_json() for e in error.errors], error.total)
    except NotFoundError:
        raise PreventUpdate from None
    return True, import_answer(result.to_json(), filename)


def show_format(key: str | None, classes: str | None):
    """The chosen format's help line; the mapping form only for Custom columns."""
    base = " ".join(c for c in (classes or "").split() if c != "d-none")
    return HELP.get(key or OWN_FORMAT, ""), base if key == CUSTOM else f"{base} d-none"


def import_upload(contents, filename, portfolio, version, key):
    """Import a dropped file in the chosen format. A custom-format file waits (IMPORT_PENDING) for "Import with
    these columns": its headers fill the selects. (The upload reads no select: they are downstream of it, and
    Dash would hold it back behind itself.) Nothing is half-imported."""
    if not contents:
        raise PreventUpdate
    name = filename or "the file"
    limit = services().settings.max_upload_bytes
    size = upload_size(contents)
    if size > limit:
        return no_update, too_large_view(name, size, limit), None, no_update
    text, problem = decode_upload(contents)
    if problem is not None:
        return no_update, csv_errors_view("the file is not UTF-8 text", [problem]), None, no_update
    text = text or ""
    if key == CUSTOM:
        header = file_header(text)
        return no_update, waiting_for_mapping(name, header), None, {"text": text, "filename": name,
                                                                     "header": header}
    done, view = run_import(portfolio, text, name, key, None)
    return ((version or 0) + 1 if done else no_update), view, None, None


def fill_columns(pending: dict | None, col_ids: list[dict], current: list[str | None]):
    """A waiting file's headers in the selects: a column already chosen (or saved) that the file has stays,
    the others are guessed from the headers' names."""
    if not pending:
        raise PreventUpdate
    required = {c for c, _, req in MAPPED if req}
    header = pending.get("header") or []
    present = {normalized(h) for h in header}
    guessed = guess_columns(header)
    order = [i["column"] for i in col_ids]
    options = [([] if c in required else [{"label": "(none)", "value": NONE}])
               + [{"label": h, "value": h} for h in header] for c in order]
    chosen = [value if value and normalized(value) in present else guessed.get(c, NONE)
              for c, value in zip(order, current or [None] * len(order), strict=False)]
    return options, chosen


def import_pending(clicks, pending, portfolio, version, values, col_ids, words, word_ids, date_format):
    """"Import with these columns": the waiting file through the form's mapping. Refused: the file stays."""
    if not clicks:
        raise PreventUpdate
    if not pending:
        return no_update, _alert("Choose a file first (drop it on the area below).", "warning")
    custom = _custom(values, col_ids, words, word_ids, date_format)
    done, view = run_import(portfolio, pending["text"], pending.get("filename") or "the file", CUSTOM, custom)
    # The file stays chosen (clearing IMPORT_PENDING would refill the selects this reads: a loop Dash holds
    # back); a second press imports nothing new: its rows are skipped as duplicates.
    return ((version or 0) + 1 if done else no_update), view


def save_mapping(clicks, key, portfolio, values, col_ids, words, word_ids, date_format):
    """Save the chosen format (and, for Custom columns, the form's mapping) for this portfolio."""
    if not clicks:
        raise PreventUpdate
    key = key or OWN_FORMAT
    data = {"format": key, "custom": _custom(values, col_ids, words, word_ids, date_format) if key == CUSTOM
            else None}
    try:
        ImportMappings(services().ledger).save(_id(portfolio), data)
    except ValidationError as error:
        problems = "; ".join(e.message for e in error.errors) or error.message
        return _alert(f"Mapping not saved: {problems}.", "danger")
    except NotFoundError:
        raise PreventUpdate from None
    label = next((o["label"] for o in FORMAT_OPTIONS if o["value"] == key), key).lower() if key == CUSTOM else \
        next((o["label"] for o in FORMAT_OPTIONS if o["value"] == key), key)
    return _alert(f"Saved: this portfolio imports {label} by default.", "success")


def register() -> None:
    """Register the callbacks with the app being built. Called by pages/transactions.py, which Dash runs again for
    every app it builds (this module, imported once, would register them with the first app only)."""
    callback(
        Output(ids.IMPORT_FORMAT_HELP, "children"), Output(ids.IMPORT_CUSTOM, "className"),
        Input(ids.IMPORT_FORMAT, "value"), State(ids.IMPORT_CUSTOM, "className"),
        prevent_initial_call=True,
    )(show_format)
    callback(
        Output(ids.TXN_VERSION, "data", allow_duplicate=True), Output(ids.CSV_UPLOAD_RESULT, "children"),
        Output(ids.CSV_UPLOAD, "contents"), Output(ids.IMPORT_PENDING, "data"),
        Input(ids.CSV_UPLOAD, "contents"),
        State(ids.CSV_UPLOAD, "filename"), State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"),
        State(ids.IMPORT_FORMAT, "value"),
        prevent_initial_call=True,
    )(import_upload)
    callback(
        Output(_COLUMNS, "options"), Output(_COLUMNS, "value"),
        Input(ids.IMPORT_PENDING, "data"), State(_COLUMNS, "id"), State(_COLUMNS, "value"),
        prevent_initial_call=True,
    )(fill_columns)
    callback(
        Output(ids.TXN_VERSION, "data", allow_duplicate=True), Output(ids.CSV_UPLOAD_RESULT, "children",
                                                                      allow_duplicate=True),
        Input(ids.IMPORT_RUN, "n_clicks"),
        State(ids.IMPORT_PENDING, "data"), State(ids.CURRENT_PORTFOLIO, "data"), State(ids.TXN_VERSION, "data"),
        *_FORM,
        prevent_initial_call=True,
    )(import_pending)
    callback(
        Output(ids.IMPORT_MAPPING_MESSAGE, "children"),
        Input(ids.IMPORT_SAVE, "n_clicks"),
        State(ids.IMPORT_FORMAT, "value"), State(ids.CURRENT_PORTFOLIO, "data"), *_FORM,
        prevent_initial_call=True,
    )(save_mapping)
