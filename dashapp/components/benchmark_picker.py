"""The benchmark picker (issue 16): the ticker a portfolio's performance chart is compared with, on the
Transactions page's Portfolio card, under the base-currency select.

`benchmark_picker(portfolio)` draws it (components/transactions.py places it after the base-currency control),
`register()` adds its callback to
the app being built (pages/transactions.py calls it, as Dash runs that module again for every app).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, html, no_update
from dash.exceptions import PreventUpdate

from dashapp import ids
from dashapp.components.performance import DEFAULT_BENCHMARK, benchmark_name
from dashapp.services_access import services
from services.models import NotFoundError, ValidationError

HELP = "Any ticker with daily prices, e.g. ^GSPC (S&P 500), ^IXIC, URTH or VWRL.L. Empty: ^GSPC."


def current_benchmark(portfolio: dict | None) -> str:
    """The portfolio's benchmark ticker (^GSPC when it names none)."""
    return str((portfolio or {}).get("benchmark") or DEFAULT_BENCHMARK)


def _label_text(ticker: str) -> str:
    named = benchmark_name(ticker)
    return ticker if named == ticker else f"{ticker}, {named}"


def benchmark_picker(portfolio: dict) -> list:
    """The label (with the benchmark now in use), the ticker input and its Apply button, and the message line."""
    current = current_benchmark(portfolio)
    return [
        html.Label(["Benchmark (now ", html.Span(_label_text(current), id=ids.BENCHMARK_LABEL), ")"],
                   htmlFor=ids.BENCHMARK_INPUT, className="form-label small mb-1"),
        html.Div([
            dbc.Input(id=ids.BENCHMARK_INPUT, type="text", size="sm", value=current, placeholder=DEFAULT_BENCHMARK,
                      maxLength=20, autoComplete="off"),
            html.Button("Apply", id=ids.BENCHMARK_APPLY, type="button", n_clicks=0,
                        className="btn btn-outline-primary btn-sm"),
        ], className="input-group input-group-sm mb-1"),
        html.Div(html.Span(HELP, className="text-muted"), id=ids.BENCHMARK_MESSAGE, className="small mb-2",
                 **{"aria-live": "polite"}),
    ]


def _alert(text: str, tone: str) -> html.Div:
    return html.Div(text, className=f"alert alert-{tone} py-2 px-3 mb-0 small", role="status")


def change_benchmark(clicks: int | None, ticker: str | None, portfolio: dict | None) -> tuple:
    """Compare the portfolio with another ticker (empty: back to ^GSPC); a refused ticker says why in red."""
    if not clicks or not portfolio:
        raise PreventUpdate  # the button drawn anew (n_clicks 0), or no portfolio on the page
    wanted = (ticker or "").strip() or None
    try:
        result = services().ledger.set_benchmark(int(portfolio["id"]), wanted)
    except ValidationError as error:
        text = " ".join(e.message[:1].upper() + e.message[1:] + "." for e in error.errors) or error.message
        return _alert(f"Benchmark not changed: {text}", "danger"), no_update, no_update
    except NotFoundError:
        return _alert("Benchmark not changed: this portfolio no longer exists.", "danger"), no_update, no_update
    symbol = current_benchmark(result.to_json())
    done = _alert(f"Now compared with {_label_text(symbol)}: the performance chart is built again with it.",
                  "success")
    return done, _label_text(symbol), symbol


def register() -> None:
    """Add the picker's callback to the app being built (decorated at import, it would join the first app only)."""
    callback(Output(ids.BENCHMARK_MESSAGE, "children"), Output(ids.BENCHMARK_LABEL, "children"),
             Output(ids.BENCHMARK_INPUT, "value"),
             Input(ids.BENCHMARK_APPLY, "n_clicks"), State(ids.BENCHMARK_INPUT, "value"),
             State(ids.CURRENT_PORTFOLIO, "data"), prevent_initial_call=True)(change_benchmark)
