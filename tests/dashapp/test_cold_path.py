"""Cold-path decisions: progress of prices, waiting state, when to give up."""

from __future__ import annotations

import pytest

from dashapp.components.cold_path import Stall, price_progress, wait_request


def test_progress_counts_missing_and_stale_as_unsettled():
    progress = price_progress({"counts": {"fresh": 15, "market_closed": 2, "stale": 1, "missing": 2},
                               "missing": ["B", "A"], "stale": ["C"]})
    assert (progress.settled, progress.total, progress.unsettled) == (17, 20, ("A", "B", "C"))
    assert (progress.percent, progress.label) == (85, "17/20")


def test_progress_of_an_empty_portfolio_is_complete():
    progress = price_progress({"counts": {}, "missing": [], "stale": []})
    assert (progress.percent, progress.unsettled) == (100, ())


def test_each_request_is_unique():
    first, second = wait_request(1, tickers=("A",)), wait_request(1, tickers=("A",))
    assert first["nonce"] != second["nonce"]
    assert first["portfolio_id"] == 1 and first["tickers"] == ("A",)


@pytest.mark.parametrize(("elapsed", "quiet", "over"), [(0.5, 0.5, False), (2.0, 3.0, True), (31.0, 0.0, True),
                                                         (5.0, 1.0, False)])
def test_stall(elapsed, quiet, over):
    assert Stall(quiet_s=3.0, max_s=30.0).over(elapsed, quiet) is over
