"""The value chart and the allocation donut."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dashapp.components.figures import (
    ALLOCATION_SLICES,
    allocation_figure,
    blank_figure,
    donut_slices,
    value_figure,
)
from services.payloads import AllocationSlice as Slice
from services.payloads import Series

SERIES = Series(("2026-01-02", "2026-01-05"), (100.0, None), (90.0, 90.0))


def test_value_figure_has_market_value_and_cost_basis():
    figure = value_figure(SERIES, "USD")
    assert [trace["name"] for trace in figure["data"]] == ["Market value", "Cost basis"]
    assert figure["data"][0]["y"] == [100.0, None]  # a gap stays a gap
    assert figure["layout"]["yaxis"]["tickprefix"] == "$"
    json.dumps(figure)  # plain JSON, as Dash sends it


def test_value_figure_of_another_currency():
    assert value_figure(SERIES, "CHF")["layout"]["yaxis"]["tickprefix"] == "CHF"


def test_allocation_folds_the_tail_into_other():
    allocation = [Slice(f"T{i}", w) for i, w in enumerate([0.3, 0.2, 0.1] + [0.4 / 10] * 10)]
    pairs = donut_slices(allocation)
    assert len(pairs) == ALLOCATION_SLICES + 1
    assert pairs[0] == ("T0", 0.3)
    assert pairs[-1][0] == "Other"
    assert abs(sum(weight for _, weight in pairs) - 1.0) < 1e-9


def test_allocation_keeps_a_short_list_whole():
    allocation = [Slice("A", 0.6), Slice("B", 0.4)]
    assert donut_slices(allocation) == [("A", 0.6), ("B", 0.4)]


def test_allocation_figure_is_a_donut_with_the_count():
    figure = allocation_figure([Slice("A", 0.6), Slice("B", 0.4)])
    trace = figure["data"][0]
    assert trace["type"] == "pie" and trace["hole"] > 0
    assert trace["labels"] == ["A", "B"]
    assert "2" in figure["layout"]["annotations"][0]["text"]


def test_allocation_labels_are_escaped_for_plotly():
    figure = allocation_figure([Slice("<a href=x>B</a>", 1.0)])
    assert figure["data"][0]["labels"] == ["&lt;a href=x&gt;B&lt;/a&gt;"]


def test_blank_figure_draws_nothing():
    figure = blank_figure()
    assert figure["data"] == []
    assert figure["layout"]["xaxis"]["visible"] is False


# -- the plotly.js bundle the graphs draw with ----------------------------------------------------------------------
# assets/plotly_loader.js hands dcc.Graph plotly.js's basic bundle instead of Dash's full plotly.min.js.
ASSETS = Path(__file__).resolve().parents[2] / "assets"
BASIC_BUNDLE = ASSETS / "vendor" / re.search(r'BUNDLE = "vendor/([^"]+)"',
                                             (ASSETS / "plotly_loader.js").read_text()).group(1)


def _bundle_version(path: Path) -> str:
    header = path.read_text(encoding="utf-8")[:300]
    match = re.search(r"plotly\.js(?: \([a-z -]+\))? v(\d+\.\d+\.\d+)", header)
    assert match, f"no plotly.js version in the header of {path}"
    return match.group(1)


def _trace_types(path: Path) -> set[str]:
    return set(re.findall(r'moduleType:"trace",name:"([a-z0-9]+)"', path.read_text(encoding="utf-8")))


def test_the_vendored_bundle_is_the_plotly_js_release_that_dash_would_load():
    import plotly

    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert _bundle_version(BASIC_BUNDLE) == _bundle_version(full)


def test_every_trace_type_our_figures_draw_is_in_the_vendored_bundle():
    figures = [
        blank_figure(),
        value_figure(Series(("2025-06-02", "2025-06-03"), (100.0, 101.5), (90.0, 90.0))),
        allocation_figure([Slice("AAA", 0.75), Slice("BBB", 0.25)]),
    ]
    drawn = {trace["type"] for figure in figures for trace in figure["data"]}
    assert drawn == {"scatter", "pie"}
    assert drawn <= _trace_types(BASIC_BUNDLE) == {"scatter", "bar", "pie"}


def test_the_donut_says_how_many_holdings_it_leaves_out():
    """Two of three holdings priced: the hole says `2 of 3 priced`, never a count that disagrees with the table."""
    figure = allocation_figure([Slice("AAPL", 0.6), Slice("MSFT", 0.4)], holdings=3)
    assert figure["layout"]["annotations"][0]["text"] == "<b>2</b> of 3<br>priced"
    whole = allocation_figure([Slice("AAPL", 1.0)], holdings=1)
    assert whole["layout"]["annotations"][0]["text"] == "<b>1</b><br>holding"


def test_the_value_chart_keeps_its_layout_after_sharing_it_with_the_performance_chart():
    layout = value_figure(SERIES, "USD")["layout"]
    assert layout["hovermode"] == "x unified" and layout["legend"]["orientation"] == "h"
    assert layout["uirevision"] == "value-chart"  # its zoom is its own, not the performance chart's
    assert layout["yaxis"]["tickformat"] == "~s" and layout["height"] == 320
