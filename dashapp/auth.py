"""Who is asking: the login gate in front of every page, Dash callback and API call, sessions and API tokens.

README, "Accounts". When logins are not required (a local run on a loopback address) every request acts as the
built-in local user. Otherwise a request is authenticated by an `Authorization: Bearer` API token or by the
session cookie (Flask-Login); without either, pages redirect to `/login?next=...` and everything else answers
401 JSON. The user found here is the one `services()` (services_access.py) scopes the ledger to.
The account pages and the session/token API are in auth_views.py.
"""

from __future__ import annotations

import datetime as dt
import hmac
from urllib.parse import quote

import dash
import flask
from flask import Flask, g, jsonify, redirect, request
from flask_login import LoginManager, UserMixin, current_user

from services.accounts import LOCAL_USER, Accounts, User, owner_of
from services.config import Settings

_EXTENSION = "stocktracker_accounts"
# What anyone may fetch: the account pages, the static files every page (the login page too) needs, the health
# check (it tells anonymous callers only its status) and /metrics (guarded by its own token).
PUBLIC_PATHS = ("/login", "/signup", "/healthz", "/metrics", "/favicon.ico", "/_favicon.ico")
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
PUBLIC_API = {("POST", "/api/session")}
SESSION_DAYS = 14


class SessionUser(UserMixin):
    """Flask-Login's view of a user. Its id carries the password's `session_key`: a password change ends it."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_key}"


def accounts_of(server: Flask) -> Accounts:
    return server.extensions[_EXTENSION]


def current_account() -> User:
    """The user this request or background callback acts for (the local user on a single-user run)."""
    if flask.has_request_context():
        user = g.get("user")
        if user is None:
            # The gate lets an anonymous request through only to public paths, none of which reach the ledger.
            raise PermissionError("no user on this request")
        return user
    # A Dash background callback runs in another process, without a request: the owner captured when its job was
    # started (the `custom_data` hook below) travels with the job's context.
    data = dash.ctx.custom_data.get("stocktracker") if dash.ctx else None
    if not data or "user" not in data:
        raise PermissionError("no user in this background callback's context")
    return User(**data["user"])


def current_owner() -> str:
    """The ledger owner of the current user."""
    return owner_of(current_account())


@dash.hooks.custom_data("stocktracker")
def _callback_owner(_context) -> dict:
    # Runs in the request of every Dash callback before it is dispatched, to a background process or not.
    user = g.get("user") if flask.has_request_context() else None
    if user is None:
        return {}
    return {"user": {"id": user.id, "email": user.email, "session_key": user.session_key}}


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login (never another site: `//evil.example`, `https://...`, `\\\\`)."""
    if (not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target
            # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)):
        return "/"
    return target


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or (request.method, path) in PUBLIC_API


def _unauthorized(message: str):
    response = jsonify({"error": message})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="MyStockTracker"'
    return response


def register_auth(app: dash.Dash, settings: Settings, accounts: Accounts) -> None:
    """Install the login gate and Flask-Login on `app`'s server (after `register_security`)."""
    server = app.server
    server.extensions[_EXTENSION] = accounts
    server.config.update(
        SESSION_COOKIE_NAME="mst_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,  # Heroku serves https; ProxyFix tells Flask so
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=SESSION_DAYS),
    )
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)

    @manager.user_loader
    def load_user(session_id: str) -> SessionUser | None:
        user_id, _, key = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = accounts.get_user(int(user_id))
        if user is None or not hmac.compare_digest(user.session_key, key):
            return None
        return SessionUser(user)

    @server.before_request
    def login_gate():
        g.user = None
        if not settings.auth_required:
            g.user, g.auth_via = LOCAL_USER, "local"
            return None
        path = request.path
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and path != "/metrics":  # /metrics has a token of its own
            user = accounts.user_for_token(header[7:].strip())
            if user is None:
                return _unauthorized("the API token is invalid or revoked")
            g.user, g.auth_via = user, "token"
            return None
        if current_user.is_authenticated:
            g.user, g.auth_via = current_user.user, "session"
            return None
        if _is_public(path):
            return None
        if path.startswith(("/api/", "/_dash-")) or request.method not in ("GET", "HEAD"):
            return _unauthorized("login required: sign in at /login, or send an API token (Authorization: Bearer)")
        wanted = request.full_path if request.query_string else path
        return redirect(f"/login?next={quote(safe_next(wanted), safe='/?=')}", code=302)

    @server.before_request
    def metrics_gate():
        # /metrics names tickers and endpoints: where logins are required it needs METRICS_TOKEN, and without
        # one set it does not exist.
        if request.path != "/metrics" or not settings.auth_required:
            return None
        given = request.headers.get("Authorization", "")[7:].strip().encode()
        if not settings.metrics_token or not hmac.compare_digest(given, settings.metrics_token.encode()):
            response = jsonify({"error": "no such endpoint: /metrics" if not settings.metrics_token
                                else "metrics need Authorization: Bearer $METRICS_TOKEN"})
            response.status_code = 404 if not settings.metrics_token else 401
            return response
        return None

    @server.after_request
    def anonymous_health(response: flask.Response) -> flask.Response:
        # A load balancer needs the status; the checks, the circuit and the scheduler are for the operator.
        if (request.path == "/healthz" and settings.auth_required and g.get("user") is None
                and response.is_json):
            body = response.get_json(silent=True) or {}
            response.set_data(flask.json.dumps({"status": body.get("status", "unknown")}))
        return response

    @server.after_request
    def private_pages(response: flask.Response) -> flask.Response:
        # Pages and payloads differ per user: no shared cache (a proxy, the browser's back button after logout)
        # may keep one for another.
        if (settings.auth_required and g.get("user") is not None and "Cache-Control" not in response.headers
                and not request.path.startswith(PUBLIC_PREFIXES)):
            response.headers["Cache-Control"] = "private, no-store"
        return response
