"""The skeleton is in the HTML of the first response, before any script: plain HTTP, no browser needed."""

from __future__ import annotations

import re

import pytest

from tests.browser.support import get


@pytest.mark.slow
@pytest.mark.parametrize(("path", "marker"), [
    ("/", "Market value"),
    ("/portfolio/1", "Value over time"),
    ("/transactions", "Add a transaction"),
])
def test_first_response_carries_the_skeleton(app_server, path, marker):
    status, html = get(app_server.base + path)
    assert status == 200
    skeleton_at = html.index('id="static-skeleton"')
    assert skeleton_at < html.index("<script"), "the skeleton must come before any JavaScript"
    assert marker in html
    assert 'class="part is-loading"' in html or "skeleton" in html
    assert "@keyframes st-shimmer" in html  # the shimmer is inline CSS, not a later download
    assert "Demo mode: prices are simulated" in html


@pytest.mark.slow
def test_skeleton_has_no_ids_of_the_live_layout(app_server):
    _status, html = get(app_server.base + "/")
    skeleton = html[html.index('id="static-skeleton"'):html.index('id="react-entry-point"')]
    assert re.findall(r'\sid="([^"]+)"', skeleton) == []  # the slice starts at the skeleton's own id


@pytest.mark.slow
def test_dashboard_skeleton_draws_every_part(app_server):
    _status, html = get(app_server.base + "/")
    skeleton = html[html.index('id="static-skeleton"'):html.index('id="react-entry-point"')]
    assert skeleton.count('class="card summary-card h-100"') == 4
    assert skeleton.count('class="part is-loading"') == 3  # chart, allocation, holdings
    for label in ("1M", "3M", "6M", "YTD", "1Y", "5Y", "MAX", "Holdings", "Allocation", "Refresh prices"):
        assert f">{label}<" in skeleton
