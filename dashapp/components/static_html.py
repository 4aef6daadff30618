"""Render a tree of `dash.html` components as plain HTML, for the skeleton in the first response.

The skeleton the browser paints before any JavaScript runs and the placeholders the Dash layout mounts with are
built by the same Python functions; rendering one tree both ways is what keeps their shapes identical, so
nothing jumps when Dash takes over. Only `dash.html` components are accepted (a dcc or dbc component has no
HTML of its own before React renders it). Component ids are dropped on purpose: the static copy stays in the
document, hidden, and must not shadow the live components' ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

from dash.development.base_component import Component

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_PROP_ATTRS = {"className": "class", "htmlFor": "for", "tabIndex": "tabindex"}
_SKIPPED = {"id", "children", "n_clicks", "n_clicks_timestamp", "disable_n_clicks", "key", "loading_state"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _css(style: dict) -> str:
    parts = []
    for name, value in style.items():
        prop = name if name.startswith("--") else _CAMEL.sub("-", name).lower()
        parts.append(f"{prop}:{value}")
    return ";".join(parts)


def _attributes(props: dict) -> str:
    out = []
    for name, value in props.items():
        if name in _SKIPPED or value is None or value is False:
            continue
        attr = _PROP_ATTRS.get(name, name)
        if name == "style":
            value = _css(value)
        if value is True:
            out.append(f" {escape(attr)}")
        else:
            out.append(f' {escape(attr)}="{escape(str(value))}"')
    return "".join(out)


def to_html(node: Component | str | int | float | Iterable | None) -> str:
    """HTML for a `dash.html` component tree (text escaped, ids dropped)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return escape(node)
    if isinstance(node, int | float):
        return escape(str(node))
    if isinstance(node, Component):
        if node._namespace != "dash_html_components":
            raise TypeError(f"only dash.html components render statically, not {node._namespace}.{node._type}")
        tag = node._type.lower()
        props = node.to_plotly_json()["props"]  # declared and wildcard (aria-*, data-*) props that are set
        children = to_html(props.get("children"))
        opening = f"<{tag}{_attributes(props)}>"
        return opening if tag in _VOID else f"{opening}{children}</{tag}>"
    return "".join(to_html(child) for child in node)
