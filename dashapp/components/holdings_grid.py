"""The holdings table on AG Grid: static column definitions and the rows it is fed.

The column definitions never change after the page mounts (only `rowData` does), so AG Grid keeps its row
virtualisation and redraws only the rows that changed (`getRowId` on the ticker): smooth at 500+ rows.
Number formats and the status badge are small browser functions in assets/dashAgGridFunctions.js and
assets/dashAgGridComponentFunctions.js; both render text, never HTML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dash_ag_grid as dag

from dashapp import ids
from dashapp.components.price_badge import badge_text
from services.payloads import Holding

_RIGHT = {"cellClass": "ag-right-aligned-cell", "headerClass": "ag-right-aligned-header",
          "filter": "agNumberColumnFilter", "cellDataType": "number", "flex": 1}
# dash-ag-grid evaluates these as expressions of `params`; AG Grid's old `x` shorthand is not defined there (every
# gain cell stayed uncoloured), so the rules read params.value.
_GAIN_RULES = {"text-gain": "params.value > 0", "text-loss": "params.value < 0"}


def _money(field: str, header: str, *, signed: bool = False, coloured: bool = False, min_width: int = 100,
           currency: str = "params.data.base_currency") -> dict:
    """A money column, formatted in the portfolio's base currency (or in the JS expression `currency`)."""
    column = {"field": field, "headerName": header, "minWidth": min_width, **_RIGHT,
              "valueFormatter": {"function": f"stMoney(params.value, {currency}, {str(signed).lower()})"}}
    if coloured:
        column["cellClassRules"] = _GAIN_RULES
    return column


def _percent(field: str, header: str, *, signed: bool = True, coloured: bool = True, min_width: int = 100) -> dict:
    column = {"field": field, "headerName": header, "minWidth": min_width, **_RIGHT,
              "valueFormatter": {"function": f"stPercent(params.value, {str(signed).lower()})"}}
    if coloured:
        column["cellClassRules"] = _GAIN_RULES
    return column


COLUMN_DEFS: list[dict] = [
    # The ticker links to its holding view (issue 15): a text link drawn by TickerLink, never HTML.
    {"field": "ticker", "headerName": "Ticker", "pinned": "left", "width": 100, "cellDataType": "text",
     "filter": "agTextColumnFilter", "cellClass": "fw-semibold", "cellRenderer": "TickerLink"},
    {"field": "status_label", "headerName": "Price status", "width": 132, "cellDataType": "text",
     "filter": "agTextColumnFilter", "cellRenderer": "StatusBadge"},
    # One-word headers keep room for their sort and filter icons once the currency columns take their share of
    # the width ("Shares" broke as "Share s" at 84 px).
    {"field": "quantity", "headerName": "Shares", **_RIGHT, "minWidth": 100,
     "valueFormatter": {"function": "stNumber(params.value)"}},
    # In the quote currency when the row has one (issue 14), else in the base currency as before.
    _money("price", "Price", currency="params.data.currency || params.data.base_currency"),
    _money("avg_cost", "Avg cost"),
    _money("market_value", "Market value", min_width=124),
    _money("cost_basis", "Cost basis", min_width=112),
    _money("day_change", "Day change", signed=True, coloured=True, min_width=108),
    _percent("day_change_pct", "Day %"),
    _money("unrealized_gain", "Gain", signed=True, coloured=True, min_width=112),
    _percent("unrealized_gain_pct", "Gain %"),
    _percent("weight", "Weight", signed=False, coloured=False, min_width=100),
    # Money in several currencies (issue 14): the quote currency, its rate into the base and the FX part of the
    # gain. A single-currency portfolio's rows have none of these fields: empty cells ("—" for the numbers).
    {"field": "currency", "headerName": "Quote ccy", "width": 96, "cellDataType": "text",
     "filter": "agTextColumnFilter", "valueFormatter": {"function": "params.value ? params.value : '\u2014'"},
     "headerTooltip": "The currency the price is quoted in"},
    {"field": "fx_rate", "headerName": "FX rate", **_RIGHT, "minWidth": 96,
     "valueFormatter": {"function": "stRate(params.value)"},
     "headerTooltip": "One unit of the quote currency in the portfolio's currency now"},
    _money("fx_gain", "FX gain", signed=True, coloured=True, min_width=108),
    # Issue 15: what the position made besides its price (sales, dividends) and the whole of it.
    _money("realized_gain", "Realized", signed=True, coloured=True, min_width=112),
    _money("dividends", "Dividends", min_width=112),
    _money("total_return", "Total return", signed=True, coloured=True, min_width=124),
]
# Headers wrap onto two lines rather than end in "Day ch..." when a column is narrow, in a header row tall enough
# for two (GRID_OPTIONS). Not autoHeaderHeight: AG Grid keeps such header cells hidden until it can measure them,
# which it cannot while the grid is below the fold (an empty header row to screen readers, and in screenshots).
DEFAULT_COL_DEF = {"sortable": True, "resizable": True, "filter": True, "suppressHeaderMenuButton": False,
                   "wrapHeaderText": True}
# On a phone the table keeps what a glance needs, most telling first (value, day change, gain, total return, then
# weight, shares and price, reached by scrolling the table sideways; realized and dividends are in the holding
# view), in narrower columns without the header's filter button (the column menu still filters). The rest (the
# currency columns too) would only widen what has to be scrolled; the price keeps its quote currency's symbol.
# A clientside callback (pages/dashboard.py) applies this below 576 px.
PHONE_COLUMNS = ("ticker", "market_value", "day_change", "unrealized_gain", "total_return", "weight", "quantity",
                 "price")
PHONE_MIN_WIDTH = {"ticker": 80}  # every other phone column: 96 px, enough for "-$123,456.78" at 13 px
PHONE_COLUMN_MIN_WIDTH = 96
PHONE_MAX_WIDTH = 575


def phone_column_defs(column_defs: list[dict]) -> list[dict]:
    """The column definitions a phone shows: PHONE_COLUMNS in that order, narrower; the others hidden."""
    by_field = {column["field"]: column for column in column_defs}
    # Fixed widths, not flex: flex columns whose minimum widths add up to more than the screen never finish
    # AG Grid's flex sizing, and it keeps their header cells hidden (an empty header row to screen readers).
    shown = [{**by_field[field], "flex": 0, "width": PHONE_MIN_WIDTH.get(field, PHONE_COLUMN_MIN_WIDTH),
              "minWidth": PHONE_MIN_WIDTH.get(field, PHONE_COLUMN_MIN_WIDTH), "suppressHeaderFilterButton": True}
             for field in PHONE_COLUMNS]
    hidden = [{**column, "hide": True} for column in column_defs if column["field"] not in PHONE_COLUMNS]
    return shown + hidden
GRID_OPTIONS = {"animateRows": False, "rowHeight": 34, "headerHeight": 44, "suppressCellFocus": True,
                "localeText": {"noRowsToShow": "No open holdings"}}


def grid_rows(rows: Sequence[Holding], currency: str, now: dt.datetime) -> list[dict]:
    """The holdings rows as the grid's JSON, with what it shows besides them: the status word and the portfolio's
    currency (`base_currency`; a row's own `currency`, when it has one, is its price's quote currency)."""
    return [{**row.to_json(), "base_currency": currency,
             "status_label": badge_text(row.price_status, row.price_as_of, now)} for row in rows]


def grid_options(portfolio_id: int | None = None) -> dict:
    """GRID_OPTIONS with the portfolio's id in the grid's context, where TickerLink builds its address from."""
    if portfolio_id is None:
        return GRID_OPTIONS
    return {**GRID_OPTIONS, "context": {"portfolioId": int(portfolio_id)}}


def holdings_grid(portfolio_id: int | None = None) -> dag.AgGrid:
    """The empty grid the dashboard mounts with; the holdings callback sets `rowData`."""
    return dag.AgGrid(
        id=ids.HOLDINGS_TABLE,
        columnDefs=COLUMN_DEFS,
        defaultColDef=DEFAULT_COL_DEF,
        rowData=[],
        getRowId="params.data.ticker",
        dashGridOptions=grid_options(portfolio_id),
        className="stock-grid",
        style={"height": "100%", "width": "100%"},
    )
