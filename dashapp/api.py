"""The JSON API (README, "JSON API"), as a Flask blueprint on Dash's server.

Thin: parse the input, call one service, answer JSON. Every error is JSON with a fitting status, never an HTML
page: unknown portfolio or path 404, a known path with the wrong method 405, bad input 400/422, a body over the
limit 413.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map

from dashapp.openapi import openapi_spec
from dashapp.services_access import services as _services
from services import ledger_rules as rules
from services import metrics
from services.container import Services, scheduler_status
from services.idempotency import HEADER as IDEMPOTENCY_HEADER
from services.importing import import_ledger_csv, transaction_warnings
from services.models import MAX_REPORTED_ERRORS, FieldError, NotFoundError, ValidationError
from services.payloads import Error, FieldProblem, Rejected

log = logging.getLogger(__name__)
api = Blueprint("api", __name__)
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
CALLBACK_PATH = "/_dash-update-component"
# What a Dash callback body carries besides the uploaded file: the callback's ids, the file name, the stores.
CALLBACK_OVERHEAD_BYTES = 64 * 1024
# The deepest JSON body any route takes; ours are two or three levels deep, Dash's callbacks a few more.
MAX_JSON_DEPTH = 64


def callback_body_limit(max_upload_bytes: int) -> int:
    """The largest Dash callback body: a file of `max_upload_bytes` as dcc.Upload sends it (a base64 data URL, 4
    bytes for every 3) inside the callback's JSON, and the rest of the callback."""
    return 4 * -(-max_upload_bytes // 3) + CALLBACK_OVERHEAD_BYTES


def _nested_deeper_than(value: object, limit: int) -> bool:
    """Whether a parsed JSON value has lists or objects more than `limit` levels deep (without recursing)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _parsed_json() -> object:
    """The request's JSON body, or BadRequest when it is malformed or nested past MAX_JSON_DEPTH (100,000 levels
    raised RecursionError in the parser: a 500)."""
    too_deep = f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the parser's own limit (about 1,000 levels)
        raise BadRequest(too_deep) from None
    if _nested_deeper_than(body, MAX_JSON_DEPTH):
        raise BadRequest(too_deep)
    return body


def _json_body() -> dict:
    body = _parsed_json()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


class BadRequest(Exception):
    """A malformed request (400)."""


# -- portfolios and transactions --------------------------------------------------------------------------------
@api.get("/api/portfolios")
def list_portfolios():
    return {"portfolios": [p.to_json() for p in _services().ledger.list_portfolios()]}


@api.post("/api/portfolios")
def create_portfolio():
    body = _json_body()
    name = body.get("name")
    currency = body.get("base_currency", "USD")
    errors = [FieldError(field, f"{field} must be a string")
              for field, value in (("name", name), ("base_currency", currency)) if not isinstance(value, str)]
    if errors:
        raise ValidationError("invalid portfolio", errors)
    portfolio = _services().ledger.create_portfolio(name, currency)
    return {"portfolio": portfolio.to_json()}, 201


@api.patch("/api/portfolios/<int:portfolio_id>")
def rename_portfolio(portfolio_id: int):
    """Rename and/or change the base currency (`clear_fx_rates: true` drops the stored rates into the old base)
    and/or the benchmark (a ticker; null: the default ^GSPC)."""
    body = _json_body()
    changes = [field for field in ("name", "base_currency", "benchmark") if field in body]
    clear = body.get("clear_fx_rates", False)
    errors = [FieldError(field, f"{field} must be a string") for field in changes
              if not isinstance(body[field], str) and not (field == "benchmark" and body[field] is None)]
    if not isinstance(clear, bool):
        errors.append(FieldError("clear_fx_rates", "clear_fx_rates must be true or false"))
    if not changes and not errors:
        errors.append(FieldError("name", "name must be a string"))  # nothing to change: a name is what is missing
    if errors:
        raise ValidationError("invalid portfolio", errors)
    ledger = _services().ledger
    if "base_currency" in body:
        rules.check_currency(body["base_currency"])  # refused before the name changes, not after
    if "benchmark" in body:
        rules.check_benchmark(body["benchmark"])
    if "name" in body:
        portfolio = ledger.rename_portfolio(portfolio_id, body["name"])
    if "base_currency" in body:
        portfolio = ledger.set_base_currency(portfolio_id, body["base_currency"], clear_fx_rates=clear)
    if "benchmark" in body:
        portfolio = ledger.set_benchmark(portfolio_id, body["benchmark"])
    return {"portfolio": portfolio.to_json()}


@api.delete("/api/portfolios/<int:portfolio_id>")
def delete_portfolio(portfolio_id: int):
    _services().ledger.delete_portfolio(portfolio_id)
    return Response(status=204)


@api.get("/api/portfolios/<int:portfolio_id>/transactions")
def list_transactions(portfolio_id: int):
    return {"transactions": [t.to_json() for t in _services().ledger.list_transactions(portfolio_id)]}


@api.post("/api/portfolios/<int:portfolio_id>/transactions")
def add_transaction(portfolio_id: int):
    transaction = _services().ledger.add_transaction(portfolio_id, _json_body(),
                                                     idempotency_key=request.headers.get(IDEMPOTENCY_HEADER))
    answer: dict[str, object] = {"transaction": transaction.to_json()}
    warnings = transaction_warnings(_services(), portfolio_id, transaction)
    if warnings:  # only when there are some: the answer old callers know is unchanged
        answer["warnings"] = [w.to_json() for w in warnings]
    return answer, 201


@api.patch("/api/portfolios/<int:portfolio_id>/transactions/<int:transaction_id>")
def update_transaction(portfolio_id: int, transaction_id: int):
    # The portfolio and the transaction are looked up before the body is judged: an unknown one is a 404 whatever
    # was sent, as for DELETE.
    _services().ledger.get_transaction(portfolio_id, transaction_id)
    transaction = _services().ledger.update_transaction(portfolio_id, transaction_id, _json_body())
    return {"transaction": transaction.to_json()}


@api.delete("/api/portfolios/<int:portfolio_id>/transactions/<int:transaction_id>")
def delete_transaction(portfolio_id: int, transaction_id: int):
    _services().ledger.delete_transaction(portfolio_id, transaction_id)
    return Response(status=204)


def upload_text() -> str:
    """The request's CSV (the body, or a multipart `file`) as text; a file that is not UTF-8 is a ValidationError
    naming the line and offset of the first bad byte. Read once the portfolio is known to exist (404 before a large
    body is read)."""
    if request.mimetype == "multipart/form-data":
        # Not after get_data(): that drains the stream, and the form parser then finds no file at all.
        upload = request.files.get("file")
        raw = upload.read() if upload else b""
    else:
        raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # After a BOM the codec reports positions in the bytes that follow it (error.object), not in `raw`. Lines are
        # counted as the CSV reader counts them (a CR alone too: Excel for Mac's "CSV (Macintosh)"), so this line and
        # those of row errors agree.
        decoded = error.object
        offset = error.start + len(raw) - len(decoded)
        line = len(_LINE_BREAK.findall(decoded[: error.start])) + 1
        message = f"not UTF-8: byte 0x{decoded[error.start]:02x} at offset {offset}; save the file as UTF-8"
        raise ValidationError("the CSV is not UTF-8 text", [FieldError("file", message, line)]) from None
    return text


@api.post("/api/portfolios/<int:portfolio_id>/import")
def import_transactions(portfolio_id: int):
    _services().ledger.get_portfolio(portfolio_id)  # 404 before reading a large body
    text = upload_text()
    # Always all three keys (DESIGN.md): imported, skipped_duplicates (rows equal to existing ones), warnings.
    result = import_ledger_csv(_services(), portfolio_id, text, idempotency_key=request.headers.get(IDEMPOTENCY_HEADER))
    return result.to_json()


@api.get("/api/portfolios/<int:portfolio_id>/export")
def export_transactions(portfolio_id: int):
    csv_text = _services().ledger.export_csv(portfolio_id)
    return Response(csv_text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="portfolio-{portfolio_id}.csv"'})


# -- dashboard payloads ------------------------------------------------------------------------------------------
@api.get("/api/dashboard-initial-data/<int:portfolio_id>")
def dashboard_initial_data(portfolio_id: int):
    return _services().dashboard.initial_data(portfolio_id)


@api.get("/api/dashboard-holdings-data/<int:portfolio_id>")
def dashboard_holdings_data(portfolio_id: int):
    return _services().dashboard.holdings_data(portfolio_id)


@api.get("/api/dashboard-chart-data/<int:portfolio_id>")
def dashboard_chart_data(portfolio_id: int):
    range_name = request.args.get("range", "1Y").upper()
    try:
        status, payload = _services().dashboard.chart_data(portfolio_id, range_name)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return payload, status


@api.get("/api/chart-generator-progress/<int:portfolio_id>")
def chart_generator_progress(portfolio_id: int):
    return _services().dashboard.chart_progress(portfolio_id)


@api.get("/api/openapi.json")
def openapi_description():
    return openapi_spec()


def _api_routes() -> Map:
    """The API's own routes without the catch-all below, built once per app (to tell 405 from 404)."""
    routes = current_app.extensions.get("stocktracker_api_routes")
    if routes is None:
        routes = Map([rule.empty() for rule in current_app.url_map.iter_rules()
                      if rule.rule.startswith("/api/") and rule.endpoint != "api.unknown_endpoint"])
        current_app.extensions["stocktracker_api_routes"] = routes
    return routes


@api.route("/api/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_endpoint(unknown: str):
    # Without this, Dash's catch-all page route would answer an unknown API path with the HTML index (200).
    # A known path asked with a method it does not take is a 405 naming the ones it does.
    try:
        _api_routes().bind("").match(request.path, method=request.method)
    except MethodNotAllowed as wrong:
        allowed = sorted(set(wrong.valid_methods or ()) - {"HEAD", "OPTIONS"})
        response = _error(f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}", 405)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    except NotFound:
        pass
    return _error(f"no such endpoint: /api/{unknown}", 404)


# -- operations --------------------------------------------------------------------------------------------------
@api.get("/healthz")
def healthz():
    services = _services()
    checks = {"database": _check(services.ledger.ping), "cache": _check(services.cache.writable)}
    healthy = all(checks.values())
    circuit = services.prices.circuit_state()
    # An open circuit (the price source rate limited or unreachable: nothing is asked of it until `until`) degrades
    # the app but does not take it down: still 200, cached prices are served. A failing database or cache is a 503.
    # Half-open (the cool-down is over; the next request will tell) is not degraded: nothing is held back any more.
    body = {
        "status": "ok" if healthy and circuit["state"] != "open" else "degraded",
        "checks": checks,
        "provider": services.provider.name,
        "circuit": circuit,
        "scheduler": scheduler_status(services.cache),
    }
    return body, 200 if healthy else 503


@api.get("/metrics")
def metrics_endpoint():
    payload, content_type = metrics.render()
    return Response(payload, content_type=content_type)


def _check(probe) -> bool:
    try:
        return bool(probe())
    except Exception:  # a health check reports, it does not crash
        log.exception("health check failed")
        return False


# -- timing and errors -------------------------------------------------------------------------------------------
@api.before_request
def _start_timer() -> None:
    g.api_started = time.perf_counter()


@api.after_request
def _server_timing(response: Response) -> Response:
    started = g.pop("api_started", None)
    if started is not None:
        seconds = time.perf_counter() - started
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.REQUEST_SECONDS.labels(endpoint=endpoint).observe(seconds)
        response.headers["Server-Timing"] = f"app;dur={seconds * 1000:.1f}"
    return response


def _error(message: str, status: int, **extra) -> Response:
    response = jsonify({**Error(message).to_json(), **extra})
    response.status_code = status
    return response


def register_api(server: Flask, services: Services) -> None:
    """Mount the API and make every error under it JSON (`services` registered by `register_services` first)."""
    server.config["MAX_CONTENT_LENGTH"] = services.settings.max_upload_bytes
    server.register_blueprint(api)

    def wants_json() -> bool:
        return request.path.startswith(("/api/", "/healthz", "/metrics"))

    file_limit = services.settings.max_upload_bytes
    callback_limit = callback_body_limit(file_limit)

    def limit_body() -> None:
        """Hold every request body to its limit, whether or not it declared its length, before anything reads it.

        Werkzeug enforces `max_content_length` on a declared Content-Length, but a chunked body (no length) is
        read through a LimitedStream whose read() stops at the limit and returns what it has, silently: the import
        took the first 5 MB of a 50 MB file, its last row cut short. So such a body is read here with one byte to
        spare, and one that fills it is over the limit. Dash's callback route takes an upload inflated by base64.
        """
        limit = callback_limit if request.path.endswith(CALLBACK_PATH) else file_limit
        request.max_content_length = limit
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            request.max_content_length = limit + 1
            if len(request.get_data(cache=True)) > limit:
                raise RequestEntityTooLarge()

    def check_callback() -> None:
        """Dash's callback route parses its body with no guard (deep nesting was an HTML 500): it is read here
        first, and one that is not JSON, too deep, or not shaped like a callback is a 400."""
        if request.method != "POST" or not request.path.endswith(CALLBACK_PATH):
            return
        body = _parsed_json()
        if not (isinstance(body, dict) and isinstance(body.get("output"), str)
                and isinstance(body.get("inputs"), list)):
            raise BadRequest("not a Dash callback request: expected a JSON object with output and inputs")
        # Every Dash callback is one POST to the same URL: its latency is labelled by the output it fills.
        g.callback_output = body["output"][:120]
        g.callback_started = time.perf_counter()

    # The first of all request hooks: none may read a body before its limit is set. The callback's check runs after
    # the hooks registered before this (trusted hosts, CSRF, the login gate), which refuse without reading it.
    server.before_request_funcs.setdefault(None, []).insert(0, limit_body)
    server.before_request(check_callback)

    @server.after_request
    def _time_dash_callback(response: Response) -> Response:
        started = g.pop("callback_started", None)
        if started is not None:
            output = g.pop("callback_output", "unknown")
            metrics.REQUEST_SECONDS.labels(endpoint=f"callback:{output}").observe(time.perf_counter() - started)
        return response

    @server.errorhandler(NotFoundError)
    def not_found(error: NotFoundError):
        return _error(str(error) or "not found", 404)

    @server.errorhandler(ValidationError)
    def invalid(error: ValidationError):
        problems = tuple(FieldProblem(e.field, e.message, e.line) for e in error.errors[:MAX_REPORTED_ERRORS])
        return jsonify(Rejected(error.message, problems, error.total).to_json()), 422

    @server.errorhandler(BadRequest)
    def bad_request(error: BadRequest):
        return _error(str(error), 400)

    @server.errorhandler(RequestEntityTooLarge)
    def too_large(_error_: RequestEntityTooLarge):
        limit = callback_limit if request.path.endswith(CALLBACK_PATH) else file_limit
        return _error(f"the request body is larger than the {limit} byte limit", 413)

    @server.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not wants_json():
            return error
        return _error(error.description or error.name, error.code or 500)

    @server.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("unhandled error on %s", request.path)
        if not wants_json():
            raise error
        return _error("internal error; it has been logged", 500)

