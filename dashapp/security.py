"""Request hardening that runs before authentication: the proxy in front, trusted hosts, CSRF, security headers.

`register_security` is called by the app factory before the login gate, so a bad Host or a cross-site write is
refused before anything else looks at the request.
"""

from __future__ import annotations

import dash
from werkzeug.middleware.proxy_fix import ProxyFix

from services.config import Settings


def register_security(app: dash.Dash, settings: Settings) -> None:
    """Install the hardening on `app`'s Flask server."""
    server = app.server
    if settings.proxy_hops:
        # Heroku's router sets X-Forwarded-For/-Proto: trust exactly that many hops, so request.remote_addr (rate
        # limits) and request.scheme (Secure cookies, HSTS) are the client's, and a client cannot forge them.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                   x_host=0, x_port=0, x_prefix=0)
