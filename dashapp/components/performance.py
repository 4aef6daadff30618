"""The performance chart (issue 16): the portfolio's cumulative time-weighted return against its benchmark.

Drawn from the chart payload (services/dashboard_data.py): `series.twr` and `series.benchmark` (fractions per
date, both 0 on the range's first day, null where unknown) and `returns` (TWR, annualized TWR, XIRR, the
money-weighted return over the range, the benchmark's return and its ticker), defined in the
README ("How returns are computed").
Pure: no services and no callbacks here. A payload from before issue 16 (without these fields) reads as "not
available yet", never as an error.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import html, no_update

from dashapp.components.figures import CHART_HEIGHT, blank_figure, chart_layout
from dashapp.components.format import DASH, money, percent, tone
from dashapp.components.part_views import PartView, note
from dashapp.components.skeleton import skeleton_text

DEFAULT_BENCHMARK = "^GSPC"
VALUE, PERFORMANCE = "value", "performance"
MODES = {VALUE: "Value", PERFORMANCE: "Performance"}  # the toggle's buttons, in order
TITLES = {VALUE: "Value over time", PERFORMANCE: "Performance"}
TWR_NAME = "Portfolio"
TWR_COLOUR = "#2c3e50"
BENCHMARK_COLOUR = "#e67e22"  # dashed as well as orange: told apart without colour
NOT_ANNUALIZED = "not annualized: under a year"
NOT_AVAILABLE = ("Performance is not available for this chart yet: it appears once the chart has been built "
                 "again with returns.")
NO_TWR = "No time-weighted return for this range yet: it needs valued days with holdings."
# Common benchmarks by a name people know; any other ticker is named by itself.
KNOWN_NAMES = {"^GSPC": "S&P 500", "^IXIC": "Nasdaq Composite", "^NDX": "Nasdaq 100", "^DJI": "Dow Jones",
               "^RUT": "Russell 2000", "^FTSE": "FTSE 100", "^GDAXI": "DAX", "^STOXX50E": "Euro Stoxx 50",
               "^N225": "Nikkei 225", "^FCHI": "CAC 40", "URTH": "MSCI World ETF", "VT": "Vanguard Total World"}
DAYS_PER_YEAR = 365
# The toggle, in the browser (pages/dashboard.py registers it): the store, the buttons' classes and aria-pressed,
# the card's heading, and the figures row shown in Performance mode only.
MODE_TOGGLE_JS = """
function(clicks, current) {
    const triggered = dash_clientside.callback_context.triggered_id;
    const selected = (triggered && triggered.mode) || current || VALUE_MODE;
    const modes = dash_clientside.callback_context.inputs_list[0].map(i => i.id.mode);
    const classes = modes.map(m => "btn btn-outline-primary" + (m === selected ? " active" : ""));
    const pressed = modes.map(m => m === selected ? "true" : "false");
    return [selected === current ? dash_clientside.no_update : selected, classes, pressed,
            TITLES[selected], {"display": selected === PERFORMANCE_MODE ? "flex" : "none"}];
}
""".replace("TITLES", json.dumps(TITLES)).replace("VALUE_MODE", json.dumps(VALUE)).replace(
    "PERFORMANCE_MODE", json.dumps(PERFORMANCE))


def field(payload: Any, name: str) -> Any:
    """A field of a payload that may be a dataclass or a dict; None when it is absent (an older payload)."""
    if payload is None:
        return None
    if isinstance(payload, Mapping):
        return payload.get(name)
    return getattr(payload, name, None)


def has_performance(series: Any) -> bool:
    """Whether the chart payload's series carries the TWR line at all: a payload from before issue 16 (cached)
    has no `twr`, or an empty one next to its dates."""
    twr = field(series, "twr")
    return twr is not None and (len(twr) > 0 or not field(series, "dates"))


def benchmark_name(ticker: str | None) -> str:
    """`S&P 500` for ^GSPC; a ticker without a known name is its own name."""
    ticker = (ticker or "").strip()
    return KNOWN_NAMES.get(ticker.upper(), ticker) or "The benchmark"


def benchmark_of(returns: Any, portfolio: Mapping | None) -> str:
    """The benchmark's ticker: the payload's (what the line was computed with), else the portfolio's, else ^GSPC."""
    return field(returns, "benchmark") or (portfolio or {}).get("benchmark") or DEFAULT_BENCHMARK


def _known(values: Sequence[float | None] | None) -> bool:
    return bool(values) and any(value is not None for value in values)


def performance_figure(series: Any, benchmark: str) -> dict:
    """Two lines from 0 % on the range's first day: the portfolio's cumulative TWR and the benchmark's (when its
    prices are loaded), on a percent axis. Nulls are gaps."""
    dates = list(field(series, "dates") or ())
    hover = "%{y:+.2%}"
    traces = [{"type": "scatter", "mode": "lines", "name": TWR_NAME, "x": dates,
               "y": list(field(series, "twr") or ()), "line": {"color": TWR_COLOUR, "width": 2},
               "hovertemplate": hover}]
    bench = field(series, "benchmark")
    if _known(bench):
        traces.append({"type": "scatter", "mode": "lines", "name": benchmark, "x": dates, "y": list(bench),
                       "line": {"color": BENCHMARK_COLOUR, "width": 1.5, "dash": "dash"}, "hovertemplate": hover})
    layout = chart_layout("performance-chart")
    # A percent axis through 0 (where both lines start); "~" drops the zeros: 5%, 2.5%, not 5.0%.
    layout["yaxis"] = {"tickformat": ".1~%", "gridcolor": "#ecf0f1", "automargin": True, "zeroline": True,
                       "zerolinecolor": "#95a5a6", "zerolinewidth": 1}
    layout["height"] = CHART_HEIGHT
    return {"data": traces, "layout": layout}


@dataclass(frozen=True)
class Figure:
    """One figure of the row under the chart: its label, its text, the tone class and a smaller line under it."""

    label: str
    value: str
    tone: str = ""
    sub: str | None = None


def _span_days(dates: Sequence[str]) -> int:
    if len(dates) < 2:
        return 0
    return (dt.date.fromisoformat(dates[-1]) - dt.date.fromisoformat(dates[0])).days


def performance_figures(returns: Any, series: Any, benchmark: str) -> list[Figure]:
    """TWR, annualized TWR (or why not), the money-weighted return (XIRR p.a. over a year or more, else over the
    range itself) and the benchmark's return; an unknown measure is a dash with the payload's reason."""
    twr = field(returns, "twr")
    annual = field(returns, "twr_annualized")
    note = field(returns, "annualized_note")
    xirr, mwr = field(returns, "xirr"), field(returns, "mwr")
    figures = [Figure("TWR", percent(twr), tone(twr), "time-weighted")]
    if annual is not None:
        figures.append(Figure("TWR p.a.", percent(annual), tone(annual), "annualized"))
    else:
        figures.append(Figure("TWR p.a.", DASH, "text-muted", NOT_ANNUALIZED if note or twr is not None else None))
    long_range = annual is not None or (note is None and _span_days(field(series, "dates") or ()) >= DAYS_PER_YEAR)
    if long_range and xirr is not None:
        figures.append(Figure("XIRR", percent(xirr), tone(xirr), "money-weighted, p.a."))
    else:
        reason = None if mwr is not None else field(returns, "xirr_note")
        figures.append(Figure("Money-weighted", percent(mwr), tone(mwr), reason or "over the range"))
    bench = field(returns, "benchmark_twr")
    if bench is None and not _known(field(series, "benchmark")):
        figures.append(Figure(benchmark, DASH, "text-muted", f"{benchmark_name(benchmark)} prices not loaded yet"))
    else:
        named = benchmark_name(benchmark)
        figures.append(Figure(benchmark, percent(bench), tone(bench), named if named != benchmark else "benchmark"))
    gain = field(returns, "total_return")
    if gain is not None:  # money made over the range (absent from a chart stored before it existed)
        figures.append(Figure("Gain", money(gain, field(series, "currency") or "USD", signed=True), tone(gain),
                              "over the range"))
    return figures


def figures_row(figures: Sequence[Figure]) -> list[html.Div]:
    """The figures as tiles (label, value, the smaller line); every text is a React text child (escaped)."""
    tiles = []
    for figure in figures:
        children = [html.Div(figure.label, className="perf-label small text-muted"),
                    html.Div(figure.value, className=f"perf-value fw-semibold {figure.tone}".strip())]
        if figure.sub:
            children.append(html.Div(figure.sub, className="perf-sub small text-muted"))
        tiles.append(html.Div(children, className="perf-figure"))
    return tiles


def figures_loading() -> list[html.Div]:
    """The row while the chart is being built: shimmering tiles of the filled row's size."""
    return [html.Div([skeleton_text("4rem", height="0.75em"), skeleton_text("5rem", height="1.2em")],
                     className="perf-figure", **{"aria-hidden": "true"}) for _ in range(5)]


def performance_message(series: Any) -> str | None:
    """What the chart part says in performance mode: None when there is a line to draw."""
    if not has_performance(series):
        return NOT_AVAILABLE
    if not _known(field(series, "twr")):
        return NO_TWR
    return None


def performance_outputs(chart: Any, view: PartView, portfolio: Mapping | None, *, has_holdings: bool) -> tuple:
    """The chart card's (figure, part class, message, figures row) in Performance mode, from the chart payload and
    the part's value-chart `view` (skeleton / message decisions, part_views.chart_view): shimmering figures while
    the chart is built, the part's message when there is nothing to draw (an empty portfolio, an unavailable
    chart, a payload without returns), else the two lines and the figures."""
    series = field(chart, "series") if field(chart, "status") == "ready" else None
    if series is None:
        return no_update, view.class_name, view.message, [] if view.message is not None else figures_loading()
    if not has_holdings and view.message is not None:
        return blank_figure(), view.class_name, view.message, []
    missing = performance_message(series)
    if missing is not None:
        return blank_figure(), view.class_name, note(missing), []
    returns = field(chart, "returns")
    benchmark = benchmark_of(returns, portfolio)
    return (performance_figure(series, benchmark), view.class_name, None,
            figures_row(performance_figures(returns, series, benchmark)))
