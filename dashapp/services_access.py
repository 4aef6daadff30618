"""The one way the web layer reaches the services: `services()`, typed, in requests and background callbacks.

In a request it is the Flask app's; a Dash background callback runs in a forked process without a request
context, but with a copy of the module globals, so `dash.get_app()` still finds the app and its services.
Either way they come scoped to who is asking (dashapp/auth.py): the ledger shows only that user's portfolios.
A request the login gate let through without a user (the public paths) gets a view that owns nothing.
"""

from __future__ import annotations

import dash
from flask import Flask, current_app, has_app_context

from services.container import Services

_EXTENSION = "stocktracker"  # the key under Flask's `app.extensions`; nothing else reads it
NOBODY = "nobody:"  # an owner no user can be (theirs are numbers, or `local`)


def register_services(server: Flask, services: Services) -> None:
    """Make `services` what `services()` answers on this Flask app."""
    server.extensions[_EXTENSION] = services


def services_of(server: Flask) -> Services:
    """The services registered on `server` (the entry point's start-up, before any request)."""
    return server.extensions[_EXTENSION]


def services() -> Services:
    """The services of the app handling this request or callback, as its user sees them."""
    from dashapp.auth import current_owner

    server = current_app if has_app_context() else dash.get_app().server
    try:
        owner = current_owner()
    except PermissionError:
        owner = NOBODY
    return services_of(server).for_owner(owner)
