"""The static skeleton: plain HTML of the same boxes as the Dash layout, with no ids."""

from __future__ import annotations

import pytest
from dash import dcc, html

from dashapp.components.dashboard import dashboard_page
from dashapp.components.static_html import to_html
from dashapp.index_template import INDEX_STRING, static_skeleton
from dashapp.layout import app_shell
from dashapp.page_registry import page_kind

PORTFOLIO = {"id": 1, "name": "Mine", "base_currency": "USD"}


def test_to_html_escapes_and_drops_ids():
    markup = to_html(html.Div([html.Span("a < b & c", id="x", className="k"), html.Br()],
                              id={"type": "t"}, style={"minHeight": "3rem"}, **{"aria-hidden": "true"}))
    assert markup == ('<div style="min-height:3rem" aria-hidden="true"><span class="k">a &lt; b &amp; c</span>'
                      "<br></div>")


def test_to_html_refuses_components_without_html():
    with pytest.raises(TypeError):
        to_html(dcc.Graph(id="g"))


def _boxes(component, found=None):
    """(class, height) of every element in document order: the shape of a layout."""
    found = [] if found is None else found
    if isinstance(component, html.Div | html.Span | html.H1 | html.H2):
        style = getattr(component, "style", None) or {}
        found.append((getattr(component, "className", None), style.get("height")))
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            _boxes(child, found)
    return found


def _parts(boxes):
    def structural(name: str | None) -> bool:
        return bool(name) and (name.split()[0] in ("part", "card", "row") or name.startswith("col-"))

    return [box for box in boxes if structural(box[0])]


def test_static_and_live_dashboard_have_the_same_boxes():
    static, live = dashboard_page(None, static=True), dashboard_page(PORTFOLIO)
    assert _parts(_boxes(static)) == _parts(_boxes(live))


def test_static_dashboard_renders_without_ids():
    markup = to_html(dashboard_page(None, static=True))
    assert ' id="' not in markup
    assert markup.count('class="part is-loading"') == 3


@pytest.mark.parametrize(("path", "kind"), [("/", "dashboard"), ("/portfolio/3", "dashboard"),
                                            ("/transactions", "transactions"), ("/transactions/", "transactions")])
def test_page_kind(path, kind):
    assert page_kind(path).name == kind


def test_static_skeleton_wraps_the_shell():
    markup = static_skeleton("dashboard", True)
    assert markup.startswith('<div id="static-skeleton"')
    assert "prices are simulated" in markup
    assert "prices are simulated" not in static_skeleton("dashboard", False)
    assert "Add a transaction" in static_skeleton("transactions", False)


def test_index_string_keeps_dashs_placeholders_and_inlines_the_shimmer():
    for placeholder in ("{%app_entry%}", "{%config%}", "{%scripts%}", "{%renderer%}", "{%css%}"):
        assert placeholder in INDEX_STRING
    assert INDEX_STRING.index("st-shimmer") < INDEX_STRING.index("{%app_entry%}")


def test_live_shell_has_the_page_container():
    shell = app_shell(demo=True)
    assert "_pages_content" in str(shell)
    assert "demo-banner" in str(shell)
