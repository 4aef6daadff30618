"""Request hardening that runs before authentication: the proxy in front, trusted hosts, CSRF, security headers.

`register_security` is called by the app factory before the login gate, so a bad Host or a cross-site write is
refused before anything else looks at the request:

- Host: a request whose Host is not one of `settings.allowed_hosts` (when there are any) answers 400. A local run
  accepts only the loopback names, so a page on another site whose DNS name is rebound to 127.0.0.1 gets 400.
- CSRF: a POST, PUT, PATCH or DELETE must come from the app's own origin (the Origin header, else the Referer),
  carry the session's CSRF token (`X-CSRF-Token` header or a `csrf_token` form field, see `csrf_token()`), or be
  authenticated by `Authorization: Bearer ...`; otherwise 403.
- Headers on every response: a Content-Security-Policy under which Dash runs with no 'unsafe-eval' and no inline
  script but its own (by hash), nosniff, no framing, a same-origin Referrer-Policy, HSTS in production only.
- The dev server (`python app.py`) says `Server: MyStockTracker` instead of its Werkzeug and Python versions.

The headers are set here rather than by flask-talisman: Talisman also writes the session cookie's flags into
`app.config` (SESSION_COOKIE_SECURE/HTTPONLY/SAMESITE), which belong to the login code, and adds headers we do
not want (the obsolete X-XSS-Protection); the dozen lines below are all it would do for us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
from urllib.parse import urlsplit

import dash
from flask import Response, jsonify, redirect, request, session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import WSGIRequestHandler

from dashapp.index_template import DEFERRED_BOOT_JS
from services.config import Settings

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_SESSION_KEY = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the hidden field of the login forms
SERVER_NAME = "MyStockTracker"
# Paths whose errors are JSON (the API's own rule, dashapp/api.py) and Dash's endpoints (its renderer reads JSON).
_JSON_PREFIXES = ("/api/", "/healthz", "/metrics")
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# A Host header is a name, an IPv4 address or a bracketed IPv6 literal, with an optional port; nothing else.
_HOST_RE = re.compile(r"(?:\[[0-9a-f:.]+\]|[a-z0-9.\-_]+)(?::\d{1,5})?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
HSTS = "max-age=31536000; includeSubDomains"


def csrf_token() -> str:
    """The session's CSRF token, created on first use (a form puts it in a hidden field named `csrf_token`, a
    script sends it as `X-CSRF-Token`). Needs a request context; the session cookie carries it."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def _wants_json() -> bool:
    return request.path.startswith(_JSON_PREFIXES) or "/_dash-" in request.path


def _refuse(status: int, message: str) -> Response:
    if _wants_json():
        response = jsonify({"error": message})
    else:
        title = "Bad request" if status == 400 else "Forbidden"
        text = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        response = Response(f"<!DOCTYPE html><html lang=\"en\"><head><title>{title}</title></head>"
                            f"<body><h1>{title}</h1><p>{text}</p></body></html>", mimetype="text/html")
    response.status_code = status
    return response


# -- trusted hosts ---------------------------------------------------------------------------------------------
def host_name(host: str) -> str | None:
    """The name of a Host header without its port, lower case (an IPv6 literal keeps its brackets); None when it
    is not a well-formed host."""
    host = host.strip().lower()
    if not _HOST_RE.fullmatch(host):
        return None
    return host[: host.index("]") + 1] if host.startswith("[") else host.partition(":")[0]


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header names one of `allowed` (empty: any well-formed host). An entry starting with a dot
    also matches every subdomain (".example.com"), as in Flask's TRUSTED_HOSTS."""
    name = host_name(host)
    if name is None:
        return False
    if not allowed:
        return True
    bare = name[1:-1] if name.startswith("[") else name
    for entry in allowed:
        entry = entry.strip().lower()
        if entry.startswith("."):
            if name.endswith(entry) or name == entry[1:]:
                return True
        elif entry in (name, bare):
            return True
    return False


# -- CSRF ------------------------------------------------------------------------------------------------------
def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL, the default port filled in; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _own_origin() -> tuple[str, str, int] | None:
    # request.scheme is the client's after ProxyFix (X-Forwarded-Proto); the Host is the one the client sent.
    return _origin(f"{request.scheme}://{request.host}")


def _token_matches(sent: str | None) -> bool:
    expected = session.get(CSRF_SESSION_KEY)
    return bool(sent and isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode()))


def cross_site_reason(settings: Settings) -> str | None:
    """Why the current state-changing request may be a cross-site forgery (None when it may go on)."""
    if request.method not in UNSAFE_METHODS:
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        # A page on another site cannot add an Authorization header without a CORS preflight, which this app never
        # grants; and a Bearer request carries its own credentials, not the browser's cookie.
        return None
    if _token_matches(request.headers.get(CSRF_HEADER)):
        return None
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    own = _own_origin()
    if origin is not None:
        if own is not None and _origin(origin) == own:
            return None
        reason = f"Origin {origin[:100]} is not this site"
    elif referer:
        if own is not None and _origin(referer) == own:
            return None
        reason = "the Referer is not this site"
    elif request.headers.get("Sec-Fetch-Site", "").lower() in {"cross-site", "same-site"}:
        reason = "the browser says it comes from another site"
    elif not settings.auth_required:
        # Local, single-user mode: a request with neither Origin nor Referer is allowed. Every browser sends Origin
        # on a cross-origin POST, PUT, PATCH or DELETE (fetch and forms alike; "null" from a sandbox or a file,
        # which is refused above), so a request without one did not come from a page on another site: it is curl, a
        # script or a test on this machine, which could write to a loopback app anyway and have no cookie to abuse.
        return None
    else:
        # Where logins are required the session cookie is worth forging with: a write must prove where it is from.
        # Scripts use a Bearer token (or send Origin).
        reason = "it has no Origin, Referer or CSRF token"
    if request.mimetype in _FORM_TYPES and _token_matches(request.form.get(CSRF_FIELD)):
        return None  # read last: parsing a form reads the body
    return reason


# -- headers ---------------------------------------------------------------------------------------------------
def _script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(app: dash.Dash) -> str:
    """The policy of every response. Scripts: our own files and, by hash, the inline scripts Dash writes (its
    renderer's start and the clientside callbacks, `app.csp_hashes()`) and deferred_boot.js; nothing else may run,
    and nothing evaluates strings ('unsafe-eval' is not needed by Dash, dash-ag-grid or plotly's basic bundle:
    tests/browser/test_csp.py sees no violation)."""
    scripts = ["'self'", *dict.fromkeys([*app.csp_hashes(), _script_hash(DEFERRED_BOOT_JS)])]
    directives = {
        "default-src": ["'self'"],
        "script-src": scripts,
        # 'unsafe-inline' for styles: the first response inlines its critical CSS in <style> tags (index_template,
        # critical_css), and at run time plotly.js, dash-ag-grid and React's `style` props write <style> elements
        # and style="" attributes whose content is not known in advance. Styles cannot run code; scripts can.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class _QuietRequestHandler(WSGIRequestHandler):
    """The dev server's request handler without the `Server: Werkzeug/x Python/y` banner."""

    def version_string(self) -> str:
        return SERVER_NAME


def _quiet_dev_server(server) -> None:
    """`python app.py` runs Flask's dev server (Dash's app.run -> server.run -> run_simple): hand it our request
    handler unless the caller chose one. (gunicorn sends `Server: gunicorn`, without a version.)"""
    run = server.run

    def run_quietly(*args, **kwargs):
        kwargs.setdefault("request_handler", _QuietRequestHandler)
        return run(*args, **kwargs)

    server.run = run_quietly


def register_security(app: dash.Dash, settings: Settings) -> None:
    """Install the hardening on `app`'s Flask server."""
    server = app.server
    if settings.proxy_hops:
        # Heroku's router sets X-Forwarded-For/-Proto: trust exactly that many hops, so request.remote_addr (rate
        # limits) and request.scheme (Secure cookies, HSTS) are the client's, and a client cannot forge them.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                   x_host=0, x_port=0, x_prefix=0)
    _quiet_dev_server(server)
    allowed = tuple(settings.allowed_hosts)
    # HTTPS is forced only in production behind a proxy that tells us the scheme (Heroku's router): without the
    # proxy every request would look like plain HTTP and be redirected forever. Never for a local run.
    force_https = settings.is_production and settings.proxy_hops > 0
    policy: list[str] = []  # computed at the first response, once Dash has collected its inline scripts
    policy_lock = threading.Lock()

    @server.before_request
    def _check_host():
        if not host_allowed(request.host, allowed):
            log.warning("refused a request for host %r (not in TRUSTED_HOSTS)", request.host[:100])
            return _refuse(400, "this host is not served here (TRUSTED_HOSTS)")
        return None

    if force_https:
        @server.before_request
        def _to_https():
            if not request.is_secure:
                url = "https://" + request.url.split("://", 1)[1]
                return redirect(url, code=301 if request.method in {"GET", "HEAD"} else 308)
            return None

    @server.before_request
    def _check_cross_site():
        reason = cross_site_reason(settings)
        if reason is not None:
            log.warning("refused %s %s: %s", request.method, request.path, reason)
            return _refuse(403, f"cross-site request refused: {reason}")
        return None

    @server.after_request
    def _security_headers(response: Response) -> Response:
        if not policy:
            with policy_lock:
                if not policy:
                    policy.append(content_security_policy(app))
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy[0])
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if settings.is_production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
