"""The account pages (/login, /signup, logout) and the session and token API (README, "Accounts").

Plain server-rendered forms rather than Dash pages: they work before any Dash callback may run (every callback
needs a user), without JavaScript, and under the same Bootstrap theme. Login attempts are rate limited per
address and per account (Flask-Limiter; in Redis when REDIS_URL is set, else in each worker's memory).
"""

from __future__ import annotations

from html import escape

import dash
from flask import Blueprint, Response, g, jsonify, redirect, request, session
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import login_user, logout_user

from dashapp.auth import SessionUser, accounts_of, current_account, safe_next
from dashapp.security import csrf_token
from services.accounts import LOCAL_USER, MIN_PASSWORD_CHARS, Accounts, User
from services.config import Settings
from services.models import ValidationError

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - MyStockTracker</title>
<link rel="stylesheet" href="/assets/00-bootstrap-flatly.min.css"><link rel="stylesheet" href="/assets/app.css">
</head><body class="app-shell">
<nav class="navbar navbar-dark bg-primary app-navbar"><div class="container-fluid app-container">
<a class="navbar-brand fw-bold" href="/">MyStockTracker</a></div></nav>
<main class="container account-page py-4" style="max-width: 28rem">
<h1 class="h3 mb-3">{title}</h1>{message}
<form method="post" action="{action}" novalidate>
<input type="hidden" name="next" value="{next}"><input type="hidden" name="csrf_token" value="{csrf}">
<div class="mb-3"><label class="form-label" for="email">Email</label>
<input class="form-control" id="email" name="email" type="email" autocomplete="username" required value="{email}"></div>
<div class="mb-3"><label class="form-label" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="{autocomplete}"
 required minlength="{minlength}"></div>
<button class="btn btn-primary w-100" type="submit">{button}</button>
</form>{footer}</main></body></html>"""


def account_page(kind: str, *, message: str = "", email: str = "", next_path: str = "/",
                 signup_open: bool = False) -> str:
    """The login or sign-up page, with an error `message` (role=alert) when there is one."""
    login = kind == "login"
    alert = (f'<div class="alert alert-danger" role="alert" id="account-error">{escape(message)}</div>'
             if message else "")
    if login:
        footer = '<p class="mt-3 small">No account yet? <a href="/signup">Sign up</a></p>' if signup_open else ""
    else:
        footer = '<p class="mt-3 small">Have an account? <a href="/login">Log in</a></p>'
    return _PAGE.format(
        title="Log in" if login else "Sign up", message=alert, action="/login" if login else "/signup",
        next=escape(safe_next(next_path)), email=escape(email), button="Log in" if login else "Create account",
        autocomplete="current-password" if login else "new-password", minlength=MIN_PASSWORD_CHARS, footer=footer,
        csrf=escape(csrf_token()))


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        from dashapp.api import BadRequest

        raise BadRequest("the body must be a JSON object")
    return body


def signup_allowed(settings: Settings, accounts: Accounts) -> bool:
    """SIGNUP: `open`, `closed`, or `first` (only while no user exists: the deployment's owner signs up first)."""
    if settings.signup == "open":
        return True
    return settings.signup == "first" and accounts.user_count() == 0


def _start_session(user: User) -> None:
    # A fresh session at login: nothing set before it (by whoever held the browser) carries over, and the cookie's
    # value changes (no session fixation).
    session.clear()
    login_user(SessionUser(user))
    session.permanent = True
    g.user = user


def register_account_views(app: dash.Dash, settings: Settings) -> Limiter:
    """Mount the account pages and the session/token API; returns the limiter (tests reset it)."""
    server = app.server
    accounts = accounts_of(server)
    # With Redis down a login must still answer (a 429 or a login), never a 500: fall back to each worker's memory,
    # and give up on Redis within a second instead of the socket's default wait.
    redis_options: dict[str, object] = ({"socket_connect_timeout": 0.5, "socket_timeout": 1}
                                        if settings.redis_url else {})
    if settings.redis_url and settings.redis_url.startswith("rediss://"):
        redis_options.update(settings.redis_tls.client_options())  # the deployment's one TLS check (redis_tls.py)
    limiter = Limiter(get_remote_address, app=server, storage_uri=settings.redis_url or "memory://",
                      strategy="fixed-window", default_limits=[],
                      in_memory_fallback_enabled=bool(settings.redis_url), storage_options=redis_options)
    views = Blueprint("accounts", __name__)

    def account_key() -> str:
        body = request.get_json(silent=True) if request.is_json else None
        email = (body.get("email") if isinstance(body, dict) else None) or request.form.get("email") or ""
        return "account:" + str(email).strip().lower()[:254]

    failed = {"deduct_when": lambda response: response.status_code == 401}
    # Shared: the form and the JSON login count against the same budget (else each would get the full limit).
    per_address = limiter.shared_limit(settings.login_limit_per_address, scope="login-address", methods=["POST"],
                                       **failed)
    per_account = limiter.shared_limit(settings.login_limit_per_account, scope="login-account",
                                       key_func=account_key, methods=["POST"], **failed)
    # Every sign-up attempt counts (it never answers 401): it makes accounts and tells which emails have one.
    signup_limit = limiter.limit(settings.login_limit_per_address, methods=["POST"])

    def _end_sessions() -> None:
        # Session cookies are signed, not stored: a copy taken before logout would live on. Logging out moves the
        # user's session epoch on, which ends every session of theirs, on every device.
        user = g.get("user")
        if user is not None and user != LOCAL_USER:
            accounts.end_sessions(user.id)

    @views.route("/login", methods=["GET", "POST"])
    @per_address
    @per_account
    def login():
        next_path = safe_next(request.values.get("next"))
        if not settings.auth_required or g.get("user") is not None:
            return redirect(next_path)
        open_ = signup_allowed(settings, accounts)
        if request.method != "POST":
            return _html(account_page("login", next_path=next_path, signup_open=open_))
        email = request.form.get("email", "")
        user = accounts.authenticate(email, request.form.get("password", ""))
        if user is None:
            return _html(account_page("login", message="Wrong email or password.", email=email[:254],
                                      next_path=next_path, signup_open=open_), 401)
        _start_session(user)
        return redirect(next_path)

    @views.route("/signup", methods=["GET", "POST"])
    @signup_limit
    def signup():
        if not settings.auth_required:
            return redirect("/")
        if not signup_allowed(settings, accounts):
            return _html(account_page("signup", message="Sign-up is closed on this server: ask its owner for an "
                                      "account."), 403)
        if request.method != "POST":
            return _html(account_page("signup"))
        email = request.form.get("email", "")
        try:
            user = accounts.create_user(email, request.form.get("password", ""))
        except ValidationError as error:
            message = " ".join(e.message[:1].upper() + e.message[1:] + "." for e in error.errors)
            return _html(account_page("signup", message=message, email=email[:254]), 422)
        _start_session(user)
        return redirect("/")

    @views.post("/logout")
    def logout():
        _end_sessions()
        logout_user()
        session.clear()
        return redirect("/login" if settings.auth_required else "/")

    @views.post("/api/session")
    @per_address
    @per_account
    def create_session():
        body = _json_object()
        user = accounts.authenticate(body.get("email"), body.get("password"))
        if user is None:
            return {"error": "wrong email or password"}, 401
        _start_session(user)
        return {"user": user.to_json()}

    @views.delete("/api/session")
    def end_session():
        _end_sessions()
        logout_user()
        session.clear()
        return Response(status=204)

    @views.get("/api/session")
    def who_am_i():
        user = current_account()
        return {"user": None if user == LOCAL_USER else user.to_json(), "auth_required": settings.auth_required}

    @views.get("/api/tokens")
    def list_tokens():
        return {"tokens": [t.to_json() for t in accounts.list_tokens(current_account())]}

    @views.post("/api/tokens")
    def create_token():
        name = _json_object().get("name")
        token, secret = accounts.create_token(current_account(), name)
        return {"token": token.to_json(), "secret": secret}, 201

    @views.delete("/api/tokens/<int:token_id>")
    def delete_token(token_id: int):
        accounts.delete_token(current_account(), token_id)
        return Response(status=204)

    server.register_blueprint(views)

    @server.errorhandler(RateLimitExceeded)
    def too_many(error: RateLimitExceeded):
        message = f"too many attempts: at most {error.description}; try again later"
        if request.path.startswith("/api/"):
            response = jsonify({"error": message})
        else:
            response = _html(account_page("login", message=message[:1].upper() + message[1:] + "."))
        response.status_code = 429
        return response

    return limiter

