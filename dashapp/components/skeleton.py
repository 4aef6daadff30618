"""Skeleton primitives shared by the static first paint and the Dash layout (see static_html.py).

A dashboard part is a `.part` box of fixed height; while it has no data it carries `is-loading`, which hides its
body and draws a shimmer over it (CSS in index_template.py). Filling a part only changes its class, never its
size, so nothing moves when data lands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import html

LOADING = "part is-loading"
LOADED = "part"


def skeleton_text(width: str, *, height: str = "1em") -> html.Span:
    """A shimmering bar standing in for a line of text of about `width`."""
    return html.Span(className="skeleton skeleton-text", style={"width": width, "height": height},
                     **{"aria-hidden": "true"})


def part(part_id: str, body: Any, *, height: str, overlay: Any = None, loading: bool = True) -> html.Div:
    """A fixed-height dashboard part: `body` hidden under a shimmer until the part's callback fills it."""
    children = [html.Div(body, className="part-body")]
    if overlay is not None:
        children.append(overlay)
    return html.Div(children, id=part_id, className=LOADING if loading else LOADED, style={"height": height})


def card(title: str, body: Any, *, header_right: Any = None, body_class: str = "card-body p-2",
         class_name: str = "card h-100") -> html.Div:
    """A Bootstrap card with a one-line header (title left, controls right)."""
    header = [html.H2(title, className="h6 mb-0 card-title-text")]
    if header_right is not None:
        header.append(html.Div(header_right, className="ms-auto d-flex align-items-center gap-2"))
    return html.Div([
        html.Div(header, className="card-header d-flex align-items-center"),
        html.Div(body, className=body_class),
    ], className=class_name)


def live_or_placeholder(static: bool, live: Callable[[], Any], placeholder: Any) -> Any:
    """`placeholder` (plain HTML) in the static skeleton, `live()` (a dcc/dbc component) in the Dash layout."""
    return placeholder if static else live()


def field_placeholder(class_name: str = "form-control form-control-sm") -> html.Div:
    """A form control's box, empty and shimmering: the static stand-in for an input or a select."""
    return html.Div(className=f"{class_name} skeleton", **{"aria-hidden": "true"})
