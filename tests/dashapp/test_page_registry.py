"""The page registry: one list of page kinds that the index page, its critical CSS and the shell all read."""

from __future__ import annotations

import pytest

from dashapp.components.static_html import to_html
from dashapp.page_registry import KIND_NAMES, PAGE_KINDS, kind_named, page_kind


def test_each_kind_is_named_once_and_shown_by_its_own_path():
    assert sorted(KIND_NAMES) == ["closed", "dashboard", "holding", "transactions"]
    assert len(set(KIND_NAMES)) == len(PAGE_KINDS)
    for kind in PAGE_KINDS:
        assert page_kind(kind.path) is kind
        assert kind_named(kind.name) is kind


@pytest.mark.parametrize(("path", "name"), [("/", "dashboard"), ("/portfolio/3", "dashboard"),
                                            ("/transactions", "transactions"), ("/transactions/", "transactions"),
                                            ("/nope", "dashboard"), ("/portfolio/3/holding/AAPL", "holding"),
                                            ("/portfolio/3/closed", "closed"), ("/portfolio/3/closed/", "closed")])
def test_every_path_has_a_kind(path, name):
    assert page_kind(path).name == name


def test_each_skeleton_renders_its_page():
    assert "Add a transaction" in to_html(kind_named("transactions").skeleton())
    assert "Value over time" in to_html(kind_named("dashboard").skeleton())
    with pytest.raises(KeyError):
        kind_named("settings")
