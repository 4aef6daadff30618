"""The value chart and the allocation donut."""

from __future__ import annotations

import json

from dashapp.figures import (
    ALLOCATION_SLICES,
    allocation_figure,
    allocation_from_holdings,
    allocation_slices,
    blank_figure,
    value_figure,
)

SERIES = {"dates": ["2026-01-02", "2026-01-05"], "market_value": [100.0, None], "cost_basis": [90.0, 90.0]}


def test_value_figure_has_market_value_and_cost_basis():
    figure = value_figure(SERIES, "USD")
    assert [trace["name"] for trace in figure["data"]] == ["Market value", "Cost basis"]
    assert figure["data"][0]["y"] == [100.0, None]  # a gap stays a gap
    assert figure["layout"]["yaxis"]["tickprefix"] == "$"
    json.dumps(figure)  # plain JSON, as Dash sends it


def test_value_figure_of_another_currency():
    assert value_figure(SERIES, "CHF")["layout"]["yaxis"]["tickprefix"] == "CHF"


def test_allocation_folds_the_tail_into_other():
    allocation = [{"ticker": f"T{i}", "weight": w} for i, w in enumerate([0.3, 0.2, 0.1] + [0.4 / 10] * 10)]
    pairs = allocation_slices(allocation)
    assert len(pairs) == ALLOCATION_SLICES + 1
    assert pairs[0] == ("T0", 0.3)
    assert pairs[-1][0] == "Other"
    assert abs(sum(weight for _, weight in pairs) - 1.0) < 1e-9


def test_allocation_keeps_a_short_list_whole():
    allocation = [{"ticker": "A", "weight": 0.6}, {"ticker": "B", "weight": 0.4}]
    assert allocation_slices(allocation) == [("A", 0.6), ("B", 0.4)]


def test_allocation_figure_is_a_donut_with_the_count():
    figure = allocation_figure([{"ticker": "A", "weight": 0.6}, {"ticker": "B", "weight": 0.4}])
    trace = figure["data"][0]
    assert trace["type"] == "pie" and trace["hole"] > 0
    assert trace["labels"] == ["A", "B"]
    assert "2" in figure["layout"]["annotations"][0]["text"]


def test_allocation_labels_are_escaped_for_plotly():
    figure = allocation_figure([{"ticker": "<a href=x>B</a>", "weight": 1.0}])
    assert figure["data"][0]["labels"] == ["&lt;a href=x&gt;B&lt;/a&gt;"]


def test_allocation_from_holdings_skips_unpriced():
    rows = [{"ticker": "A", "weight": 0.7}, {"ticker": "B", "weight": 0.3}, {"ticker": "C", "weight": None}]
    assert allocation_from_holdings(rows) == [{"ticker": "A", "weight": 0.7}, {"ticker": "B", "weight": 0.3}]


def test_blank_figure_draws_nothing():
    figure = blank_figure()
    assert figure["data"] == []
    assert figure["layout"]["xaxis"]["visible"] is False
