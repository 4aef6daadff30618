"""The one list of the app's page kinds: which URL shows which page, and its skeleton for the first paint.

The index page (index_template.py) paints the skeleton of the page asked for before any JavaScript runs, its
critical CSS is computed for every kind at once, and the shell (layout.py) marks the page's navbar link active:
all three read this registry. Adding a page kind is one entry here (plus its module in pages/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dash import html

from dashapp.components.closed_view import closed_page
from dashapp.components.dashboard import dashboard_page
from dashapp.components.holding_view import holding_page
from dashapp.components.transactions import transactions_page


@dataclass(frozen=True)
class PageKind:
    """A kind of page: its name, a path that shows it, how to tell its URLs, and its static skeleton."""

    name: str
    path: str
    matches: Callable[[str], bool]
    skeleton: Callable[[], html.Div]


PAGE_KINDS: tuple[PageKind, ...] = (
    PageKind("transactions", "/transactions", lambda path: path.rstrip("/").endswith("/transactions"),
             lambda: transactions_page(None, static=True)),
    PageKind("holding", "/portfolio/1/holding/X", lambda path: "/holding/" in path,
             lambda: holding_page(None, static=True)),
    PageKind("closed", "/portfolio/1/closed", lambda path: path.rstrip("/").endswith("/closed"),
             lambda: closed_page(None, static=True)),
    # Last: every other address (/, /portfolio/<id>, and the 404 page's) is drawn as the dashboard until Dash
    # has the page.
    PageKind("dashboard", "/", lambda path: True, lambda: dashboard_page(None, static=True)),
)
KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in PAGE_KINDS)


def page_kind(path: str) -> PageKind:
    """The kind of page a URL path shows."""
    return next(kind for kind in PAGE_KINDS if kind.matches(path))


def kind_named(name: str) -> PageKind:
    """The page kind called `name` (KeyError for an unknown one)."""
    for kind in PAGE_KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)
