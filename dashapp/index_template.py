"""The first HTML response: Dash's index page with the page's skeleton drawn in plain HTML and CSS.

Dash's renderer replaces whatever is inside `#react-entry-point` with its own "Loading..." while it fetches the
layout, so the skeleton sits just before it (`#static-skeleton`) and CSS swaps the two: the skeleton shows until
a page (`.page`) is in the Dash tree, then hides in the same style pass as the page appears. The skeleton is
the Dash layout's own placeholder tree rendered to HTML (static_html.py), so both have the same shape.
Needs `:has()` (Chromium 105+, Firefox 121+, Safari 15.4+); older browsers show the skeleton above the app.
"""

from __future__ import annotations

from functools import lru_cache

import dash
import flask

from dashapp import ids
from dashapp.components.static_html import to_html
from dashapp.layout import app_shell, page_kind

_SHIMMER = ("background:linear-gradient(90deg,#e7eaee 30%,#f4f6f8 50%,#e7eaee 70%);background-size:300% 100%;"
            "animation:st-shimmer 1.4s ease-in-out infinite")

# Inline, so the skeleton is styled by the first byte of CSS the browser has (no extra request to wait for).
CRITICAL_CSS = f"""
@keyframes st-shimmer {{ 0% {{ background-position: 100% 0 }} 100% {{ background-position: 0 0 }} }}
.skeleton {{ {_SHIMMER}; border-radius: .25rem; color: transparent !important; border-color: transparent; }}
.skeleton-text {{ display: inline-block; vertical-align: middle; max-width: 100%; }}
.form-select.skeleton, .form-control.skeleton {{ min-height: calc(1.5em + .5rem + 2px); }}
.part {{ position: relative; overflow: hidden; }}
.part-body {{ height: 100%; }}
.part.is-loading > .part-body {{ visibility: hidden; }}
.part.is-loading::after {{ content: ""; position: absolute; inset: .25rem; border-radius: .375rem; {_SHIMMER}; }}
#react-entry-point ._dash-loading {{ display: none; }}
body:has(#react-entry-point .page) #{ids.STATIC_SKELETON} {{ display: none; }}
body:has(#{ids.STATIC_SKELETON}):not(:has(#react-entry-point .page)) #react-entry-point {{ display: none; }}
@media (prefers-reduced-motion: reduce) {{ .skeleton, .part.is-loading::after {{ animation: none; }} }}
"""

INDEX_STRING = f"""<!DOCTYPE html>
<html lang="en">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
        <style>{CRITICAL_CSS}</style>
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""


@lru_cache(maxsize=8)
def static_skeleton(kind: str, demo: bool) -> str:
    """The skeleton markup of a page kind (`dashboard` or `transactions`), wrapped in #static-skeleton."""
    path = "/transactions" if kind == "transactions" else "/"
    body = to_html(app_shell(demo=demo, static=True, path=path))
    return f'<div id="{ids.STATIC_SKELETON}" aria-busy="true" aria-label="Loading">{body}</div>'


class SkeletonDash(dash.Dash):
    """A Dash app whose index page carries the skeleton of the requested page before any JavaScript runs."""

    demo_banner: bool = False

    def interpolate_index(self, **kwargs) -> str:
        path = flask.request.path if flask.has_request_context() else "/"
        kwargs["app_entry"] = static_skeleton(page_kind(path), self.demo_banner) + kwargs.get("app_entry", "")
        # Not done: starting plotly.js early with an async <script> (dcc.Graph reuses window.Plotly). Measured in
        # headless Chromium it made the dashboard slower: its 4.8 MB run on the main thread before Dash's own
        # start-up instead of overlapping anything (bench/page_vs_bare.py).
        return super().interpolate_index(**kwargs)
