"""The first HTML response: Dash's index page with the page's skeleton drawn in plain HTML and CSS.

Dash's renderer replaces whatever is inside `#react-entry-point` with its own "Loading..." while it fetches the
layout, so the skeleton sits just before it (`#static-skeleton`) and CSS swaps the two: the skeleton shows until
a page (`.page`) is in the Dash tree, then hides in the same style pass as the page appears. The skeleton is
the Dash layout's own placeholder tree rendered to HTML (static_html.py), so both have the same shape.
Needs `:has()` (Chromium 105+, Firefox 121+, Safari 15.4+); older browsers show the skeleton above the app.

Nothing in the response holds the skeleton's first paint back: the CSS it uses is inlined (critical_css.py), and
Dash's stylesheet links and scripts wait in an inert template that deferred_boot.js unpacks after that paint.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path

import dash
import flask

from dashapp import ids
from dashapp.components.static_html import to_html
from dashapp.critical_css import critical_css_each
from dashapp.layout import app_shell
from dashapp.page_registry import KIND_NAMES, kind_named, page_kind

_BASE = "#e7eaee"
_HIGHLIGHT = "linear-gradient(90deg,rgba(255,255,255,0) 0,rgba(255,255,255,.6) 50%,rgba(255,255,255,0) 100%)"

# Inline, so the skeleton is styled by the first byte of CSS the browser has (no extra request to wait for).
# The shimmer is a highlight that slides by `transform` in 14 steps per cycle. Measured in headless Chromium on
# a 2-vCPU machine, the skeleton of the dashboard costs the browser per second of shimmer: 0.9 CPU-s with an
# animated background-position (a repaint of every placeholder each frame), 0.4 CPU-s with a smooth transform,
# 0.1 CPU-s with the stepped transform, about what a still page costs. That CPU was taken from the start-up the
# skeleton stands in for.
CRITICAL_CSS = f"""
@keyframes st-shimmer {{ from {{ transform: translateX(-100%) }} to {{ transform: translateX(100%) }} }}
.skeleton {{ position: relative; overflow: hidden; background: {_BASE}; border-radius: .25rem;
             color: transparent !important; border-color: transparent; }}
.skeleton::after, .part.is-loading::after {{ content: ""; position: absolute; inset: 0; background: {_HIGHLIGHT};
             transform: translateX(-100%); animation: st-shimmer 1.4s steps(14) infinite; will-change: transform; }}
.skeleton-text {{ display: inline-block; vertical-align: middle; max-width: 100%; }}
.form-select.skeleton, .form-control.skeleton {{ min-height: calc(1.5em + .5rem + 2px); }}
.part {{ position: relative; overflow: hidden; border-radius: .375rem; }}
.part-body {{ height: 100%; }}
.part.is-loading {{ background: {_BASE}; }}
.part.is-loading > .part-body {{ visibility: hidden; }}
#react-entry-point ._dash-loading {{ display: none; }}
body:has(#react-entry-point .page) #{ids.STATIC_SKELETON} {{ display: none; }}
body:has(#{ids.STATIC_SKELETON}):not(:has(#react-entry-point .page)) #react-entry-point {{ display: none; }}
@media (prefers-reduced-motion: reduce) {{ .skeleton::after, .part.is-loading::after {{ animation: none; }} }}
"""

# Dash's scripts go inside an inert <template> and this loader runs them after the first paint (why: in the file).
DEFERRED_BOOT_JS = (Path(__file__).with_name("deferred_boot.js")).read_text(encoding="utf-8")

INDEX_STRING = f"""<!DOCTYPE html>
<html lang="en">
    <head>
        {{%metas%}}
        <meta name="referrer" content="same-origin">
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
        <style id="{ids.SKELETON_CSS}">{CRITICAL_CSS}</style>
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
    """The skeleton markup of a page kind (a name of page_registry.PAGE_KINDS), wrapped in #static-skeleton."""
    body = to_html(app_shell(demo=demo, static=True, path=kind_named(kind).path))
    return f'<div id="{ids.STATIC_SKELETON}" aria-busy="true" aria-label="Loading">{body}</div>'


_STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="([^"]+)">')
_inlined: dict[tuple, str] = {}
_inlined_lock = threading.Lock()


def _inlined_css(kind: str, demo: bool, files: tuple[Path, ...]) -> str:
    """The critical CSS of a page kind's skeleton from `files`, computed for every kind at once and again only
    when a file changes (one parse of the stylesheets; the lock keeps two threads from doing it twice)."""
    version = tuple((str(path), path.stat().st_mtime_ns) for path in files)
    with _inlined_lock:
        if (kind, demo, version) not in _inlined:
            pages = {each: static_skeleton(each, demo) for each in {*KIND_NAMES, kind}}
            for each, css in critical_css_each(files, pages).items():
                _inlined[(each, demo, version)] = css
        return _inlined[(kind, demo, version)]


class SkeletonDash(dash.Dash):
    """A Dash app whose index page carries the skeleton of the requested page before any JavaScript runs."""

    demo_banner: bool = False

    def _local_stylesheet(self, href: str) -> Path | None:
        """The file in assets/ behind a stylesheet URL, or None for any other (external) stylesheet."""
        prefix = self.get_asset_url("")
        name = href.split("?", 1)[0]
        if not name.startswith(prefix):
            return None
        path = Path(self.config.assets_folder, name[len(prefix):])
        return path if path.is_file() else None

    def split_css(self, css: str, kind: str) -> tuple[str, str]:
        """(head, deferred) for Dash's stylesheet links: the assets' rules the skeleton uses go inline in the head;
        the full sheets wait in the boot template (critical_css.py says why). External stylesheets stay ordinary
        blocking links. No <link rel=preload> for the deferred sheets: fetching 233 kB of Flatly during the first
        paint, even from the HTTP cache, delayed the skeleton by 30-40 ms in headless Chromium."""
        local = [(match.group(0), path) for match in _STYLESHEET_LINK.finditer(css)
                 if (path := self._local_stylesheet(match.group(1))) is not None]
        if not local:
            return css, ""
        head = css
        for tag, _path in local:
            head = head.replace(tag, "")
        files = tuple(path for _tag, path in local)
        inline = f'<style id="{ids.CRITICAL_CSS}">{_inlined_css(kind, self.demo_banner, files)}</style>'
        return head.strip() + inline, "".join(tag for tag, _path in local)

    def warm_critical_css(self) -> None:
        """Compute the inlined CSS of every skeleton now, so no visitor's first page waits ~0.3 s for it."""
        files = tuple(sorted(Path(self.config.assets_folder).glob("*.css")))  # Dash's order: by name
        _inlined_css(KIND_NAMES[0], self.demo_banner, files)

    def interpolate_index(self, **kwargs) -> str:
        path = flask.request.path if flask.has_request_context() else "/"
        kind = page_kind(path).name
        kwargs["app_entry"] = static_skeleton(kind, self.demo_banner) + kwargs.get("app_entry", "")
        kwargs["css"], deferred_css = self.split_css(kwargs.get("css", ""), kind)
        # Dash's own index check still finds the renderer's tags: they are in the page, inside the template.
        boot = (f'<template id="{ids.DASH_BOOT}">{deferred_css}{kwargs.get("scripts", "")}'
                f'{kwargs.get("renderer", "")}</template>')
        kwargs["scripts"] = boot + f"<script>{DEFERRED_BOOT_JS}</script>"
        kwargs["renderer"] = ""
        # plotly.js is not started here: assets/plotly_loader.js fetches its basic bundle when a graph mounts.
        # Starting the full 4.8 MB bundle early with an async <script> was measured slower: it ran on the main
        # thread before Dash's own start-up instead of overlapping anything (bench/page_vs_bare.py).
        return super().interpolate_index(**kwargs)
