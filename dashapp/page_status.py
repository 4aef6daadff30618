"""The HTTP status of a page: 404 for an address no page serves, or for a portfolio that does not exist.

Dash serves its index page for every path with 200, so `/nope` looked like a page to crawlers, monitors and
link checkers. The page drawn stays the same (the 404 page, or the page's "no portfolio" message); only the
status changes. Uses Dash Pages' own path matching (a private helper of dash 4.4.1, as layout.py does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dash
import flask

log = logging.getLogger(__name__)

# Paths Dash or the API serve themselves; everything else is a page address.
_NOT_PAGES = ("/_dash", "/_reload", "/_favicon", "/assets/", "/api/", "/healthz", "/metrics", "/login", "/signup",
              "/logout")
NOT_FOUND_PATH = "/404"


def page_exists(app: dash.Dash, path: str, query: dict[str, str],
                portfolio_exists: Callable[[str], bool]) -> bool:
    """Whether `path` (with its query) names a page and the portfolio it asks for."""
    from dash._pages import _path_to_page

    page, variables = _path_to_page(app.strip_relative_path(path))
    if not page or page.get("path") == NOT_FOUND_PATH:
        return False
    wanted = (variables or {}).get("portfolio_id") or query.get("portfolio")
    return wanted is None or wanted == "" or portfolio_exists(wanted)


def register_page_status(app: dash.Dash, portfolio_exists: Callable[[str], bool]) -> None:
    """Answer 404 (same page body) for page addresses that show nothing that exists."""

    @app.server.after_request
    def not_found_status(response: flask.Response) -> flask.Response:
        request = flask.request
        if (request.method != "GET" or response.status_code != 200 or response.mimetype != "text/html"
                or request.path.startswith(_NOT_PAGES)):
            return response
        try:
            if not page_exists(app, request.path, request.args.to_dict(), portfolio_exists):
                response.status_code = 404
        except Exception:  # a surprise in Dash's internals must not turn a page into an error
            log.exception("could not decide the status of %s", request.path)
        return response
