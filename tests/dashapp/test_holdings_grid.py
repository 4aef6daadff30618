"""The holdings grid: static columns that match the payload, and the rows it is fed."""

from __future__ import annotations

import dataclasses
import datetime as dt

from dashapp.components.holdings_grid import COLUMN_DEFS, grid_rows, holdings_grid
from services.payloads import Holding

NOW = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)
PAYLOAD_KEYS = {"ticker", "quantity", "avg_cost", "cost_basis", "price", "market_value", "unrealized_gain",
                "unrealized_gain_pct", "day_change", "day_change_pct", "weight", "price_as_of", "price_status",
                "currency", "fx_rate", "fx_gain", "realized_gain", "dividends", "total_return"}
GAIN_RULES = {"text-gain": "params.value > 0", "text-loss": "params.value < 0"}  # null (unknown) is neither
# A portfolio's rows carry these only when they hold something quoted in another currency (issue 14).
FX_KEYS = {"currency", "fx_rate", "fx_gain"}


def row(ticker, status="fresh", as_of=dt.datetime(2026, 11, 30, 14, 55, tzinfo=dt.UTC), **values):
    base = dict.fromkeys(PAYLOAD_KEYS)
    return Holding(**{**base, "ticker": ticker, "price_status": status, "price_as_of": as_of, **values})


def test_the_payload_keys_are_the_holding_models_fields():
    assert {f.name for f in dataclasses.fields(Holding)} == PAYLOAD_KEYS


def test_every_column_reads_a_payload_field_or_a_derived_one():
    fields = {column["field"] for column in COLUMN_DEFS}
    assert fields - PAYLOAD_KEYS == {"status_label"}
    assert fields >= PAYLOAD_KEYS - {"price_as_of", "price_status"}
    assert fields >= FX_KEYS


def test_gains_are_coloured_and_numbers_formatted():
    by_field = {column["field"]: column for column in COLUMN_DEFS}
    for field in ("day_change", "day_change_pct", "unrealized_gain", "unrealized_gain_pct"):
        assert by_field[field]["cellClassRules"] == GAIN_RULES
    assert "stMoney" in by_field["market_value"]["valueFormatter"]["function"]
    assert "stPercent" in by_field["weight"]["valueFormatter"]["function"]
    assert by_field["status_label"]["cellRenderer"] == "StatusBadge"
    assert all(column.get("filter") for column in COLUMN_DEFS)


def test_rows_get_their_status_word_and_currency():
    rows = grid_rows([row("AAPL"), row("MSFT", "stale", dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)),
                      row("XYZ", "missing", None), row("KO", "market_closed")], "USD", NOW)
    assert [r["status_label"] for r in rows] == ["Fresh", "Stale (3 h)", "Missing", "Market closed"]
    assert {r["base_currency"] for r in rows} == {"USD"}
    assert not any("currency" in r for r in rows)  # single-currency rows: no quote currency, price in the base
    assert rows[0]["ticker"] == "AAPL"
    assert rows[0]["price_as_of"] == "2026-11-30T14:55:00+00:00"  # the grid gets JSON


def test_five_hundred_rows_are_cheap_and_keep_their_ids():
    rows = grid_rows([row(f"T{i:04d}", market_value=float(i)) for i in range(600)], "USD", NOW)
    assert len({r["ticker"] for r in rows}) == 600


def test_grid_is_virtualised_with_static_columns():
    grid = holdings_grid()
    assert grid.id == "holdings-table"
    assert grid.columnDefs is COLUMN_DEFS
    assert grid.getRowId == "params.data.ticker"
    assert "domLayout" not in grid.dashGridOptions  # autoHeight would render every row: no virtualisation
    assert grid.rowData == []


def test_a_phone_shows_the_telling_columns_first_and_hides_the_rest():
    from dashapp.components.holdings_grid import COLUMN_DEFS, PHONE_COLUMNS, phone_column_defs

    defs = phone_column_defs(COLUMN_DEFS)
    shown = [d["field"] for d in defs if not d.get("hide")]
    assert shown == ["ticker", "market_value", "day_change", "unrealized_gain", "total_return", "weight", "quantity",
                     "price"]
    assert list(PHONE_COLUMNS) == shown
    hidden = {d["field"] for d in defs if d.get("hide")}
    assert hidden == {"status_label", "avg_cost", "cost_basis", "day_change_pct", "unrealized_gain_pct",
                      "currency", "fx_rate", "fx_gain", "realized_gain", "dividends"}
    assert len(defs) == len(COLUMN_DEFS)  # nothing lost: a hidden column can be shown again
    # Only a phone's copy changed: the desktop definitions keep their widths and filter buttons.
    assert all("suppressHeaderFilterButton" not in d for d in COLUMN_DEFS)


def test_fx_columns_show_the_quote_currency_its_rate_and_the_fx_gain():
    by_field = {column["field"]: column for column in COLUMN_DEFS}
    # Every money column is in the base currency, except the price: in the quote currency when the row has one.
    for field in ("avg_cost", "market_value", "cost_basis", "day_change", "unrealized_gain", "fx_gain"):
        assert "params.data.base_currency" in by_field[field]["valueFormatter"]["function"], field
    assert by_field["price"]["valueFormatter"]["function"] == (
        "stMoney(params.value, params.data.currency || params.data.base_currency, false)")
    assert by_field["fx_gain"]["cellClassRules"] == GAIN_RULES
    assert by_field["fx_gain"]["valueFormatter"][
        "function"] == "stMoney(params.value, params.data.base_currency, true)"
    assert by_field["fx_rate"]["valueFormatter"]["function"] == "stRate(params.value)"
    rows = grid_rows([row("VOD.L", price=0.72, currency="GBP", fx_rate=1.2687, fx_gain=12.5)], "USD", NOW)
    assert (rows[0]["currency"], rows[0]["base_currency"], rows[0]["fx_rate"], rows[0]["fx_gain"]) == (
        "GBP", "USD", 1.2687, 12.5)


def test_a_phone_hides_the_fx_columns():
    from dashapp.components.holdings_grid import phone_column_defs

    phone = {column["field"]: column for column in phone_column_defs(COLUMN_DEFS)}
    assert all(phone[field].get("hide") for field in FX_KEYS)
    assert not phone["price"].get("hide")


def test_realized_dividends_and_total_return_columns_are_base_currency_money():
    by_field = {column["field"]: column for column in COLUMN_DEFS}
    for field, signed in (("realized_gain", "true"), ("dividends", "false"), ("total_return", "true")):
        assert by_field[field]["valueFormatter"]["function"] == (
            f"stMoney(params.value, params.data.base_currency, {signed})"), field
    assert by_field["realized_gain"]["cellClassRules"] == GAIN_RULES
    assert by_field["total_return"]["cellClassRules"] == GAIN_RULES
    assert "cellClassRules" not in by_field["dividends"]  # never negative: nothing to colour
    assert [by_field[f]["headerName"] for f in ("realized_gain", "dividends", "total_return")] == [
        "Realized", "Dividends", "Total return"]
    rows = grid_rows([row("KO", realized_gain=-12.5, dividends=3.0, total_return=40.25)], "EUR", NOW)
    assert (rows[0]["realized_gain"], rows[0]["dividends"], rows[0]["total_return"]) == (-12.5, 3.0, 40.25)


def test_the_ticker_is_a_link_drawn_by_a_text_renderer_with_the_portfolio_in_the_context():
    from pathlib import Path

    from dashapp.components.holdings_grid import GRID_OPTIONS

    ticker = next(column for column in COLUMN_DEFS if column["field"] == "ticker")
    assert ticker["cellRenderer"] == "TickerLink"
    assert holdings_grid(7).dashGridOptions == {**GRID_OPTIONS, "context": {"portfolioId": 7}}
    assert holdings_grid().dashGridOptions is GRID_OPTIONS  # no portfolio: no context, the ticker stays text
    script = (Path(__file__).resolve().parents[2] / "assets" / "dashAgGridComponentFunctions.js").read_text()
    body = script[script.index("dagcomponentfuncs.TickerLink"):]
    assert "encodeURIComponent(ticker)" in body and "/holding/" in body
    assert "innerHTML" not in script and "dangerouslySetInnerHTML" not in script  # text children only
