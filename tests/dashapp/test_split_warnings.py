"""The split warning's view: what it says per status, which buttons it offers, and where it sits on the page."""

from __future__ import annotations

import datetime as dt

from dash import html

from dashapp import ids
from dashapp.components.dashboard import dashboard_page
from dashapp.components.split_warnings import _value_change, warning_view, with_split_warnings
from services.corporate_actions import CorporateActions, SplitCheck

D = dt.date


def _texts(component) -> str:
    """Every string under a component, joined (what a reader sees, without the markup)."""
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if not isinstance(children, list | tuple):
        children = [children]
    return "".join(_texts(child) for child in children)


def _buttons(component) -> list:
    found = [component] if isinstance(component, html.Button) else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children] if children is not None else []:
        found.extend(_buttons(child))
    return found


def test_a_ledger_that_agrees_shows_nothing():
    recorded = SplitCheck("NVDA", D(2024, 6, 10), "10:1", "recorded", 3, D(2024, 6, 10), "10:1")
    assert warning_view(CorporateActions((recorded,))) is None
    assert warning_view(CorporateActions((), ("NEW",))) is None  # unchecked tickers are not a warning


def test_the_false_move_of_a_missing_split():
    assert _value_change("4:1") == "-75 %"  # 1 x price -> 1 x price/4
    assert _value_change("10:1") == "-90 %"
    assert _value_change("1:3") == "+200 %"  # a reverse split never entered triples the value


def test_each_problem_says_what_is_wrong_and_offers_its_fix():
    checks = (
        SplitCheck("AVGO", D(2024, 7, 15), "10:1", "misdated", 8, D(2024, 7, 12), "10:1"),
        SplitCheck("NVDA", D(2024, 6, 10), "10:1", "missing"),
        SplitCheck("TSLA", D(2022, 8, 25), "3:1", "missing", 5, D(2022, 8, 25), "2:1"),
        SplitCheck("XYZ", D(2023, 3, 1), "2:1", "unconfirmed", 9, D(2023, 3, 1), "2:1"),
    )
    view = warning_view(CorporateActions(checks))
    text = _texts(view)
    assert "AVGO: the ledger's 10:1 split is dated 2024-07-12, but the price source split it on 2024-07-15" in text
    assert "NVDA: the price source split it 10:1 on 2024-06-10 and the ledger has no such split" in text
    assert "TSLA: the ledger's split on 2022-08-25 is 2:1, but the price source's is 3:1" in text
    assert "XYZ: the ledger has a 2:1 split on 2023-03-01 that the price source does not know" in text
    # One button per fixable problem, named by ticker and the source's date; none for the unconfirmed one.
    assert [(b.id, b.children) for b in _buttons(view)] == [
        ({"type": ids.SPLIT_FIX, "ticker": "AVGO", "date": "2024-07-15"}, "Move it to 2024-07-15"),
        ({"type": ids.SPLIT_FIX, "ticker": "NVDA", "date": "2024-06-10"}, "Add the 10:1 split"),
        ({"type": ids.SPLIT_FIX, "ticker": "TSLA", "date": "2022-08-25"}, "Make it 3:1"),
    ]


def test_the_warning_sits_under_the_toolbar():
    page = with_split_warnings(dashboard_page({"id": 1, "name": "Main", "base_currency": "USD"}))
    classes = [getattr(child, "className", "") or "" for child in page.children]
    toolbar = next(i for i, name in enumerate(classes) if "page-toolbar" in name)
    assert classes[toolbar + 1] == "split-warning-area"
    area = page.children[toolbar + 1]
    assert [child.id for child in area.children] == [ids.SPLIT_WARNINGS, ids.SPLIT_FIX_MESSAGE, ids.SPLIT_FIX_REQUEST]
