"""Plotly figures as plain dicts (cheap to build, JSON as they are): value over time and the allocation donut."""

from __future__ import annotations

from collections.abc import Sequence

from dashapp.components.format import currency_prefix
from services.payloads import AllocationSlice, Series

CHART_HEIGHT = 320
MARKET_VALUE_COLOUR = "#2c3e50"
COST_BASIS_COLOUR = "#95a5a6"
# A calm qualitative palette that starts with the theme's colours.
PALETTE = ("#2c3e50", "#18bc9c", "#3498db", "#f39c12", "#e74c3c", "#8e44ad", "#16a085", "#d35400",
           "#7f8c8d", "#27ae60", "#c0392b", "#2980b9")
ALLOCATION_SLICES = 9  # the largest holdings get a slice each; the rest share "Other"
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}

_BASE_LAYOUT = {
    "height": CHART_HEIGHT,
    "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12,
             "color": "#2c3e50"},
}


def blank_figure() -> dict:
    """What a graph mounts with: nothing drawn (its part shows a skeleton over it until data lands)."""
    return {"data": [], "layout": {**_BASE_LAYOUT, "xaxis": {"visible": False}, "yaxis": {"visible": False}}}


def value_figure(series: Series, currency: str = "USD") -> dict:
    """Market value and cost basis over time from a chart payload's `series` (nulls are gaps)."""
    dates = list(series.dates)
    prefix = currency_prefix(currency).strip()
    money_hover = f"{prefix}%{{y:,.2f}}"
    traces = [
        {"type": "scatter", "mode": "lines", "name": "Market value", "x": dates,
         "y": list(series.market_value), "line": {"color": MARKET_VALUE_COLOUR, "width": 2},
         "hovertemplate": money_hover},
        {"type": "scatter", "mode": "lines", "name": "Cost basis", "x": dates,
         "y": list(series.cost_basis), "line": {"color": COST_BASIS_COLOUR, "width": 1.5, "dash": "dot"},
         "hovertemplate": money_hover},
    ]
    layout = chart_layout("value-chart")
    # Not from zero: a portfolio's moves are a few percent of its value and would draw a flat line.
    layout["yaxis"] = {"tickprefix": prefix, "tickformat": "~s", "gridcolor": "#ecf0f1", "automargin": True}
    return {"data": traces, "layout": layout}


def chart_layout(revision: str) -> dict:
    """The layout of a line chart over dates: one hover box per date, the legend in one row above the plot (it
    wraps on a phone instead of covering the lines), no x grid. `revision` keeps zoom per kind of chart."""
    return {
        **_BASE_LAYOUT,
        "margin": {"l": 8, "r": 8, "t": 28, "b": 8},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"},
        "xaxis": {"showgrid": False, "automargin": True, "showspikes": False},
        "uirevision": revision,
    }


def donut_slices(allocation: Sequence[AllocationSlice], slices: int = ALLOCATION_SLICES) -> list[tuple[str, float]]:
    """(label, weight) pairs, largest first, the tail folded into "Other" so the donut stays readable."""
    ordered = sorted(((a.ticker, a.weight) for a in allocation if a.weight), key=lambda pair: -pair[1])
    if len(ordered) <= slices + 1:
        return ordered
    head, tail = ordered[:slices], ordered[slices:]
    return [*head, ("Other", sum(weight for _, weight in tail))]


def allocation_figure(allocation: Sequence[AllocationSlice], holdings: int | None = None) -> dict:
    """A donut of the holdings' weights (analytics.allocation_slices), with the count in its hole.

    `holdings` is the number of open holdings: when some are unpriced (not in `allocation`), the hole says
    `18 of 20 priced` instead of a count that disagrees with the holdings table."""
    pairs = donut_slices(allocation)
    # Plotly reads a little HTML in labels (<b>, <a>): tickers are validated, but escape anyway.
    labels = [label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for label, _ in pairs]
    trace = {
        "type": "pie", "hole": 0.62, "labels": labels, "values": [weight for _, weight in pairs],
        "sort": False, "direction": "clockwise",
        "marker": {"colors": [PALETTE[i % len(PALETTE)] for i in range(len(pairs))],
                   "line": {"color": "#ffffff", "width": 1}},
        "textinfo": "label", "textposition": "inside", "insidetextorientation": "horizontal",
        "hovertemplate": "%{label}: %{percent}<extra></extra>",
    }
    count = len(allocation)
    if holdings is not None and holdings > count:
        centre = f"<b>{count}</b> of {holdings}<br>priced"
    else:
        centre = f"<b>{count}</b><br>holding{'s' if count != 1 else ''}"
    layout = {
        **_BASE_LAYOUT,
        "showlegend": False,
        "uniformtext": {"minsize": 10, "mode": "hide"},
        "annotations": [{"text": centre, "showarrow": False,
                         "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper", "font": {"size": 14}}],
    }
    return {"data": [trace], "layout": layout}

