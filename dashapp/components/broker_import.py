"""The import card's format choice (docs/broker-import.md): MyStockTracker CSV, a broker preset, or custom columns
mapped in a small form; and the answer of an import (imported, duplicates skipped, rows that were not trades,
warnings and errors by the line of the user's file).

Views only: values in, Dash components out; every text from a file is rendered as text (escaped).
"""

from __future__ import annotations

import csv
import io

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import ids
from dashapp.components.skeleton import field_placeholder, live_or_placeholder
from services.broker_formats import DATE_FORMATS, TYPES, normalized
from services.broker_presets import CUSTOM, OWN_FORMAT, PRESETS

OWN_LABEL = "MyStockTracker CSV"
FORMAT_OPTIONS: list[dict] = [{"label": OWN_LABEL, "value": OWN_FORMAT},
                              *[{"label": mapping.name, "value": key} for key, (mapping, _) in PRESETS.items()],
                              {"label": "Custom columns", "value": CUSTOM}]
HELP: dict[str, str] = {
    OWN_FORMAT: "Our own columns, as Download CSV writes them.",
    "schwab": "Schwab: Accounts \u203a History \u203a Transactions, Export (CSV). Buys, sells, reinvested shares "
              "and dividends are imported; transfers, interest and journals are counted and left out.",
    "ibkr": "Interactive Brokers: a Flex Query with the Trades section, as CSV. Stock trades are imported; "
            "options, forex and futures are counted and left out.",
    CUSTOM: "Choose a file: its headers fill the lists below. Rows whose action is none of the words are counted "
            "and left out.",
}
# Our columns the custom form maps, and whether each is required.
MAPPED: tuple[tuple[str, str, bool], ...] = (
    ("date", "Date", True), ("ticker", "Ticker", True), ("type", "Action / type", True),
    ("quantity", "Quantity", True), ("price", "Price", True), ("fees", "Fees", False),
    ("note", "Note", False), ("currency", "Currency", False), ("amount", "Dividend cash", False))
# Header names guessed for our columns when a file is chosen (normalized; the first found wins).
GUESSES: dict[str, tuple[str, ...]] = {
    "date": ("date", "tradedate", "rundate", "time", "datetime", "day"),
    "ticker": ("ticker", "symbol", "sym", "instrument"),
    "type": ("type", "action", "side", "buy/sell", "transactiontype"),
    "quantity": ("quantity", "qty", "shares", "noofshares", "units"),
    "price": ("price", "tradeprice", "pricepershare", "price/share", "unitprice", "px"),
    "fees": ("fees", "fee", "commission", "fees&comm", "costs"),
    "note": ("note", "notes", "description", "name"),
    "currency": ("currency",),
    "amount": ("amount", "total", "netamount"),
}
NONE = ""  # the select value of "(none)"


def column_id(column: str) -> dict:
    return {"type": ids.IMPORT_COLUMN, "column": column}


def action_id(kind: str) -> dict:
    return {"type": ids.IMPORT_ACTION, "kind": kind}


def file_header(text: str, max_lines: int = 20) -> list[str]:
    """The header of a file: the first of its first lines with the most non-empty cells (a one-cell preamble such
    as "Transactions for account ..." is passed over)."""
    rows = []
    try:
        for index, cells in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))):
            if index >= max_lines:
                break
            rows.append([c.strip() for c in cells if c.strip()])
    except csv.Error:
        pass
    return max(rows, key=len, default=[])


def guess_columns(header: list[str]) -> dict[str, str]:
    """Our column -> the header that looks like it ("" when none does)."""
    names = {normalized(h): h for h in header}
    return {column: next((names[g] for g in GUESSES[column] if g in names), NONE) for column, _, _ in MAPPED}


def custom_from_form(columns: dict[str, str | None], actions: dict[str, str | None], date_format: str | None) -> dict:
    """The custom mapping JSON of the form's values (empty selects and word lists left out)."""
    return {"columns": {c: v for c, v in columns.items() if v},
            "actions": {k: [w.strip() for w in (v or "").split(",") if w.strip()] for k, v in actions.items()
                        if (v or "").strip()},
            "date_format": date_format or "YYYY-MM-DD"}


def _select(column: str, label: str, required: bool, header: list[str], value: str, static: bool) -> html.Div:
    options = ([] if required else [{"label": "(none)", "value": NONE}]) + [{"label": h, "value": h} for h in header]
    if value and value not in header:
        options.append({"label": value, "value": value})  # a saved header this file lacks stays visible
    hint = "choose a column" if required else "(none)"
    control = live_or_placeholder(static, lambda: dbc.Select(id=column_id(column), options=options, value=value,
                                                             size="sm", placeholder=hint),
                                  field_placeholder("form-select form-select-sm"))
    # The label wraps its select: a pattern-matching id has no plain DOM id for htmlFor to name.
    return html.Div(html.Label([html.Span(label + ("" if required else " (optional)"), className="d-block mb-1"),
                                control], className="form-label small d-block mb-0"), className="col-6")


def custom_form(custom: dict | None, header: list[str], static: bool = False, shown: bool = False) -> html.Div:
    """The mapping form, pre-filled from a saved mapping, else guessed from `header`."""
    saved = (custom or {}).get("columns") or {}
    guessed = guess_columns(header)
    words = (custom or {}).get("actions") or {}
    fields = [_select(c, label, required, header, saved.get(c) or guessed.get(c, NONE), static)
              for c, label, required in MAPPED]
    actions = [html.Div([
        html.Label([html.Span(f"{kind} words", className="d-block mb-1"),
                    live_or_placeholder(static, lambda kind=kind: dbc.Input(
                        id=action_id(kind), size="sm", value=", ".join(words.get(kind, [])),
                        placeholder=kind.title(), autoComplete="off", maxLength=200), field_placeholder())],
                   className="form-label small d-block mb-0"),
    ], className="col-6") for kind in TYPES]
    date_format = (custom or {}).get("date_format") or "YYYY-MM-DD"
    date = html.Div(html.Label([
        html.Span("Date layout", className="d-block mb-1"),
        live_or_placeholder(static, lambda: dbc.Select(id=ids.IMPORT_DATE_FORMAT, size="sm", value=date_format,
                                                       options=[{"label": f, "value": f} for f in DATE_FORMATS]),
                            field_placeholder("form-select form-select-sm")),
    ], className="form-label small d-block mb-0"), className="col-6")
    return html.Div([
        html.Div([*fields, date], className="row g-2 mb-2"),
        html.Div("Action words (comma-separated; BUY, SELL, DIVIDEND and SPLIT always work):",
                 className="small text-muted mb-1"),
        html.Div(actions, className="row g-2 mb-2"),
        html.Button("Import with these columns", id=ids.IMPORT_RUN, type="button", n_clicks=0,
                    className="btn btn-primary btn-sm", disabled=static),
    ], id=ids.IMPORT_CUSTOM, className="import-custom border rounded p-2 mb-2" + ("" if shown else " d-none"))


def format_chooser(saved: dict | None, static: bool = False) -> html.Div:
    """The format select with its help line, Save mapping, the custom form and the pending-file store."""
    key = (saved or {}).get("format") or OWN_FORMAT
    control = live_or_placeholder(static, lambda: dbc.Select(id=ids.IMPORT_FORMAT, options=FORMAT_OPTIONS,
                                                             value=key, size="sm"),
                                  field_placeholder("form-select form-select-sm"))
    return html.Div([
        html.Label("File format", htmlFor=ids.IMPORT_FORMAT, className="form-label small mb-1"),
        # Wraps on a phone: the select keeps room for "Interactive Brokers (Flex Query trades)", the button goes
        # below it.
        html.Div([html.Div(control, className="flex-grow-1", style={"minWidth": "14rem"}),
                  html.Button("Save mapping for this portfolio", id=ids.IMPORT_SAVE, type="button", n_clicks=0,
                              className="btn btn-outline-primary btn-sm text-nowrap", disabled=static)],
                 className="d-flex flex-wrap gap-2 mb-1 import-format-row"),
        html.Div(HELP.get(key, ""), id=ids.IMPORT_FORMAT_HELP, className="small text-muted mb-2"),
        html.Div(id=ids.IMPORT_MAPPING_MESSAGE, className="small mb-2"),
        custom_form((saved or {}).get("custom"), [], static, shown=key == CUSTOM),
        *([] if static else [dcc.Store(id=ids.IMPORT_PENDING, data=None)]),
    ])


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def import_answer(result: dict, filename: str) -> html.Div:
    """A finished import: "Imported N transactions from F.", then "N imported, M duplicates skipped", the rows
    that were not trades by action word, and each warning (line, field, message) in a table."""
    imported, duplicates = int(result.get("imported", 0)), int(result.get("skipped_duplicates", 0))
    not_trades = int(result.get("not_trades", 0))
    warnings = list(result.get("warnings") or [])
    counts = f"{imported} imported, {_plural(duplicates, 'duplicate', 'duplicates')} skipped"
    if not_trades:
        kinds = ", ".join(f"{n} {word}" for word, n in (result.get("not_trade_actions") or {}).items())
        counts += f"; {_plural(not_trades, 'row was not a trade', 'rows were not trades')} ({kinds})"
    children: list = [
        html.Div(html.Strong(f"Imported {_plural(imported, 'transaction', 'transactions')} from {filename}."),
                 className="mb-1"),
        html.Div(counts + ".", className="import-counts"),
    ]
    if warnings:
        rows = [html.Tr([html.Td(str(w.get("line") if w.get("line") is not None else "\u2014")),
                         html.Td(w.get("field", "")), html.Td(w.get("message", ""))]) for w in warnings[:100]]
        children += [
            html.Div(f"{_plural(len(warnings), 'warning', 'warnings')} (lines of your file):", className="mt-2 mb-1"),
            html.Div(html.Table([html.Thead(html.Tr([html.Th("Line"), html.Th("Field"), html.Th("Warning")])),
                                 html.Tbody(rows)], className="table table-sm table-borderless mb-0 csv-errors"),
                     className="csv-errors-scroll"),
        ]
    tone = "warning" if warnings else "success"
    return html.Div(children, className=f"alert alert-{tone} mb-0 import-answer", role="status")


def waiting_for_mapping(filename: str, header: list[str]) -> html.Div:
    """A custom-format file chosen: it waits for its columns (listed) and "Import with these columns"."""
    listed = ", ".join(header[:12]) + ("\u2026" if len(header) > 12 else "")
    return html.Div([html.Strong(f"{filename} is ready: "),
                     f"map its {len(header)} columns ({listed}) above, then Import with these columns."],
                    className="alert alert-info mb-0", role="status")
