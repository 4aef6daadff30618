"""An OpenAPI 3.1 description of the JSON API (README, "JSON API"), served at GET /api/openapi.json.

The payloads' schemas are generated from their models (services/payloads.py: fields and type hints, enums from
the one constant each); the paths and the request bodies are written here, because the API is a dozen routes on
a plain Flask blueprint and a generator of those would need a framework the app does not use. What keeps it true
is tests/faults/test_api_fuzz.py: a hypothesis-driven client sends requests built from this description and
checks every answer against it (statuses, content types, response schemas).
Schemas are JSON Schema 2020-12, as OpenAPI 3.1 has it (`"type": ["number", "null"]` for a value not known yet).
"""

from __future__ import annotations

import copy
from typing import Any

from dashapp.openapi_broker import BROKER_PATHS, BROKER_SCHEMAS
from dashapp.openapi_holding import HOLDING_PATHS, HOLDING_SCHEMAS
from dashapp.openapi_parts import json_content as _json
from dashapp.openapi_parts import obj as _obj
from dashapp.openapi_parts import ref as _ref
from services.corporate_actions import MISDATED_WINDOW_DAYS, SPLIT_STATUSES
from services.models import MAX_REPORTED_ERRORS, TRANSACTION_TYPES
from services.payloads import json_schemas
from services.value_series import RANGES

_DATE_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

# The payloads' schemas (generated), then the request bodies and the health check (written here).
_SCHEMAS: dict[str, dict] = {
    **json_schemas(),
    "PortfolioInput": _obj({
        "name": {"type": "string", "minLength": 1, "maxLength": 100,
                 "description": "shown as text (never as HTML); surrounding spaces are dropped",
                 "examples": ["Retirement", "<img src=x onerror=alert(1)>"]},
        "base_currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "default": "USD"},
    }, required=["name"]),
    "PortfolioRename": _obj({
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "base_currency": {"type": "string", "pattern": "^[A-Za-z]{3}$",
                          "description": "the currency the portfolio is valued in (its version changes, so the "
                                         "figures and charts are made again)"},
        "clear_fx_rates": {"type": "boolean", "default": False,
                           "description": "a stored fx_rate converts into the old base: with a new base_currency "
                                          "they are refused (422 on base_currency) unless this drops them"},
        "benchmark": {"type": ["string", "null"], "pattern": r"^\^?[A-Za-z0-9][A-Za-z0-9.\-]{0,14}(=[XFxf])?$",
                      "examples": ["^GSPC", "VWRL.L"],
                      "description": "the ticker the returns are compared with (its version changes, so the charts "
                                     "are made again); null: the default ^GSPC"},
    }, required=[], anyOf=[{"required": ["name"]}, {"required": ["base_currency"]}, {"required": ["benchmark"]}],
        description="at least one of name, base_currency and benchmark"),
    "Transaction": _obj({
        "id": {"type": "integer"},
        "date": {"type": "string", "format": "date"},
        "ticker": {"type": "string", "description": "a Yahoo symbol: BRK-B, ^GSPC, EURUSD=X, VOD.L"},
        "type": {"enum": list(TRANSACTION_TYPES)},
        "quantity": {"type": "number", "exclusiveMinimum": 0},
        "price": {"type": "number", "minimum": 0},
        "fees": {"type": "number", "minimum": 0},
        "note": {"type": "string", "maxLength": 500},
        "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$",
                     "description": "the currency of price and fees, always a major unit (pence given as GBp are "
                                    "stored as GBP / 100); null: the instrument's quote currency"},
        "fx_rate": {"type": ["number", "null"], "exclusiveMinimum": 0,
                    "description": "transaction currency -> the portfolio's base currency on that day; null: the "
                                   "day's rate of the pair"},
        "time": {"type": ["string", "null"], "description": "HH:MM:SS; orders one ticker's rows on one date"},
        "ratio": {"type": "string", "pattern": r"^\d+:\d+$",
                  "description": "only on a SPLIT given as N:M (N new shares for M old); `quantity` is then N/M"},
    }, required=["id", "date", "ticker", "type", "quantity", "price", "fees", "note", "currency", "fx_rate", "time"]),
    "TransactionInput": {
        "type": "object",
        "description": "Amounts as JSON numbers or as decimal strings (exact). Other keys are ignored.",
        "properties": {
            "date": {"type": "string", "format": "date", "description": "YYYY-MM-DD, 1900-01-01 to today"},
            "ticker": {"type": "string", "pattern": r"^\^?[A-Za-z0-9][A-Za-z0-9.\-]{0,14}(=[XFxf])?$"},
            "type": {"type": "string", "description": "BUY, SELL, DIVIDEND or SPLIT (any case)",
                     "examples": ["BUY", "sell", "Dividend", "SPLIT"]},
            "quantity": {"type": ["number", "string"],
                         "description": "> 0, at most 8 decimal places; a SPLIT may be a ratio \"N:M\" (1:3 = one "
                                        "new share for three old), kept exact",
                         "examples": [10, 2.5, "0.00000001", "1000000", "1:3"]},
            "price": {"type": ["number", "string", "null"],
                      "description": "> 0 for BUY, SELL, DIVIDEND; empty or 0 for SPLIT",
                      "examples": [101.25, "0.0001", 0, None]},
            "fees": {"type": ["number", "string", "null"], "description": ">= 0, at most 4 decimal places",
                     "examples": [0, 4.95, "0.0001", None]},
            "note": {"type": "string", "maxLength": 500, "description": "shown as text (never as HTML)",
                     "examples": ["=cmd()", "<script>x()</script>", "dividend reinvested"]},
            "currency": {"type": ["string", "null"],
                         "description": "of price and fees: a 3-letter code (any case; stored upper case), or a "
                                        "minor unit: GBp or GBX (pence; GBP is pounds), ZAc (cents), ILA (agorot), "
                                        "whose price and fees are divided by 100 exactly and stored as GBP, ZAR, "
                                        "ILS. Null or empty: the instrument's quote currency",
                         "examples": ["EUR", "usd", "GBp", "GBX", "ZAc", "ILA", None]},
            "fx_rate": {"type": ["number", "string", "null"],
                        "description": "> 0, at most 10 decimal places: one unit of the transaction's currency in "
                                       "the portfolio's base currency on that day. Null or empty: the day's rate",
                        "examples": [1.0825, "0.0067567568", None]},
            "time": {"type": ["string", "null"], "pattern": r"^\d{2}:\d{2}(:\d{2})?$",
                     "description": "optional time of day; rows of one ticker on one date apply by time, else "
                                    "SPLIT, BUY, DIVIDEND, SELL",
                     "examples": ["09:31", "15:59:59", None]},
        },
        "required": ["date", "ticker", "type", "quantity"],
    },
    # The same values as TransactionInput, none required: a key that is absent keeps its stored value.
    "TransactionPatch": {"type": "object",
                         "description": "Any of the TransactionInput values; absent keys keep their stored values.",
                         "properties": {}, "required": []},
    "Imported": _obj({
        "imported": {"type": "integer", "minimum": 0},
        "skipped_duplicates": {"type": "integer", "minimum": 0,
                               "description": "rows equal to an existing transaction on date, ticker, type, "
                                              "quantity, price and fees: skipped one for one, never doubled"},
        "warnings": {"type": "array", "description": "rows imported that look wrong (an empty list when none): a "
                                                     ".L price about 100x the day's close (typed in pence), a "
                                                     "DIVIDEND on a share count other than the shares held that day",
                     "items": _obj({"line": {"type": "integer", "minimum": 2}, "field": {"type": "string"},
                                    "message": {"type": "string"}}, required=["line", "field", "message"])},
    }, required=["imported", "skipped_duplicates", "warnings"]),
    "Health": _obj({
        "status": {"enum": ["ok", "degraded"]},
        "checks": _obj({"database": {"type": "boolean"}, "cache": {"type": "boolean"}}),
        "provider": {"type": "string"},
        "circuit": _obj({
            "state": {"enum": ["closed", "open", "half_open"],
                      "description": "open: no request goes to the price source until `until`; half_open: the "
                                     "cool-down is over and nothing has got through yet. Open: status degraded"},
            "reason": {"enum": ["rate_limited", "unreachable", None], "description": "why it opened (null if closed)"},
            "until": {**_DATE_TIME_OR_NULL, "description": "when the cool-down ends (null if closed)"},
            "open_until": {**_DATE_TIME_OR_NULL, "description": "the same as `until` (its first name)"},
            "since": {**_DATE_TIME_OR_NULL, "description": "when it first opened (null if closed)"},
            "detail": {"type": ["string", "null"], "description": "the error that opened it"},
        }, required=["state", "reason", "until", "open_until"]),
        "scheduler": _obj({
            "leader_pid": {"type": ["integer", "null"]},
            "warmup_runs": {"type": "integer", "minimum": 0},
            "last_warmup": {"type": ["object", "null"]},
        }),
    }, required=["status", "checks", "circuit", "scheduler"]),
}

# Splits checked against the price source (services/corporate_actions.py).
_SCHEMAS["CorporateActions"] = _obj({
    "splits": {"type": "array", "description": "by ticker, then date", "items": _obj({
        "ticker": {"type": "string"},
        "date": {"type": "string", "format": "date",
                 "description": "the source's split day (for `unconfirmed`: the ledger's)"},
        "ratio": {"type": "string", "pattern": "^[0-9]+:[0-9]+$",
                  "description": "N new shares for M old, the source's (for `unconfirmed`: the ledger's)",
                  "examples": ["4:1", "1:3"]},
        "status": {"enum": list(SPLIT_STATUSES),
                   "description": "recorded: the ledger has it on that day; missing: the ticker was held and the "
                                  "ledger has no such SPLIT; misdated: the ledger has it within "
                                  f"{MISDATED_WINDOW_DAYS} days of that day (ledger_date); unconfirmed: a ledger "
                                  "SPLIT on a day the cached bars cover with no source split near it"},
        "transaction_id": {"type": ["integer", "null"],
                           "description": "the ledger's SPLIT (misdated: the one to move; missing: a same-day "
                                          "SPLIT of another ratio, to correct); null: none"},
        "ledger_date": {"type": ["string", "null"], "format": "date"},
        "ledger_ratio": {"type": ["string", "null"]},
    }, required=["ticker", "date", "ratio", "status"])},
    "unchecked": {"type": "array", "items": {"type": "string"},
                  "description": "tickers with no cached bars yet: not checked (the answer never waits on the "
                                 "price source)"},
}, required=["splits"])

_SCHEMAS["TransactionPatch"]["properties"] = copy.deepcopy(_SCHEMAS["TransactionInput"]["properties"])

# Accounts (README, "Accounts").
_SCHEMAS["User"] = _obj({"id": {"type": "integer"}, "email": {"type": "string"}}, required=["id", "email"])
_SCHEMAS["Login"] = _obj({"email": {"type": "string"}, "password": {"type": "string"}},
                         required=["email", "password"])
_SCHEMAS["ApiToken"] = _obj({
    "id": {"type": "integer"}, "name": {"type": "string"}, "created_at": {"type": "string"},
    "last_used_at": {"type": ["string", "null"]}}, required=["id", "name", "created_at", "last_used_at"])
_SCHEMAS["TokenInput"] = _obj({"name": {"type": "string", "minLength": 1, "maxLength": 100}}, required=["name"])

_PORTFOLIO_ID = {"name": "portfolio_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 0}}
_TRANSACTION_ID = {"name": "transaction_id", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 0}}
_ERROR = _ref("Error")
_NOT_FOUND = _json(_ERROR, "no such portfolio (or transaction)")
_BAD_BODY = _json(_ERROR, "the body is not a JSON object: malformed, or lists and objects nested too deep")
_INVALID = _json(_ref("ValidationError"), "rejected: every bad field is named")
_TOO_LARGE = _json(_ERROR, "the body is larger than MAX_UPLOAD_BYTES, whether or not it declared its length "
                           "(Transfer-Encoding: chunked); nothing was read into the ledger")
_NO_CONTENT = {"description": "done"}
_IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "printable ASCII; a repeat within 24 h answers the first answer and changes "
                                   "nothing; the same key with another body is a 422"}
_WARNINGS = {"type": "array", "description": "present only when the transaction looks wrong (a DIVIDEND on a share "
                                             "count other than the shares held)",
             "items": _obj({"field": {"type": "string"}, "message": {"type": "string"}},
                           required=["field", "message"])}
_TOKEN_ID = {"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_TOO_MANY = _json(_ERROR, "too many failed logins from this address or for this account: wait")


def _op(op_id: str, summary: str, responses: dict[str, dict], *, parameters: list | None = None,
        body: dict | None = None, tag: str = "api") -> dict:
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    return operation


def _json_body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


_PATHS: dict[str, dict] = {
    "/api/portfolios": {
        "get": _op("listPortfolios", "Every portfolio", {
            "200": _json(_obj({"portfolios": {"type": "array", "items": _ref("Portfolio")}}), "the portfolios")}),
        "post": _op("createPortfolio", "Create an empty portfolio", {
            "201": _json(_obj({"portfolio": _ref("Portfolio")}), "created"),
            "400": _BAD_BODY, "413": _TOO_LARGE, "422": _INVALID}, body=_json_body("PortfolioInput")),
    },
    "/api/portfolios/{portfolio_id}": {
        "parameters": [_PORTFOLIO_ID],
        "patch": _op("renamePortfolio", "Rename a portfolio or change its base currency or benchmark", {
            "200": _json(_obj({"portfolio": _ref("Portfolio")}), "changed"),
            "400": _BAD_BODY, "404": _NOT_FOUND, "413": _TOO_LARGE, "422": _INVALID},
            body=_json_body("PortfolioRename")),
        "delete": _op("deletePortfolio", "Delete a portfolio and its transactions",
                      {"204": _NO_CONTENT, "404": _NOT_FOUND}),
    },
    "/api/portfolios/{portfolio_id}/transactions": {
        "parameters": [_PORTFOLIO_ID],
        "get": _op("listTransactions", "The ledger, by date then entry order", {
            "200": _json(_obj({"transactions": {"type": "array", "items": _ref("Transaction")}}), "the ledger"),
            "404": _NOT_FOUND}),
        "post": _op("addTransaction", "Add one transaction (refused if it would sell more than is held)", {
            "201": _json(_obj({"transaction": _ref("Transaction"), "warnings": _WARNINGS},
                              required=["transaction"]), "added"),
            "400": _BAD_BODY, "404": _NOT_FOUND, "413": _TOO_LARGE, "422": _INVALID},
            parameters=[_IDEMPOTENCY_KEY], body=_json_body("TransactionInput")),
    },
    "/api/portfolios/{portfolio_id}/transactions/{transaction_id}": {
        "parameters": [_PORTFOLIO_ID, _TRANSACTION_ID],
        "patch": _op("updateTransaction", "Change one transaction, validated as when adding it (refused if it "
                     "would sell more than is held or leave another SELL short); absent keys keep their values", {
                         "200": _json(_obj({"transaction": _ref("Transaction")}), "changed"),
                         "400": _BAD_BODY, "404": _NOT_FOUND, "413": _TOO_LARGE, "422": _INVALID},
                     body=_json_body("TransactionPatch")),
        "delete": _op("deleteTransaction", "Delete one transaction (refused if a later SELL would be short)", {
            "204": _NO_CONTENT, "404": _NOT_FOUND, "422": _INVALID}),
    },
    "/api/portfolios/{portfolio_id}/import": {
        "parameters": [_PORTFOLIO_ID],
        "post": _op("importCsv", "Import a CSV ledger: every new row, or none (rows already in the ledger are "
                    "skipped and counted)", {
            "200": _json(_ref("Imported"), "every new row imported"),
            "404": _NOT_FOUND,
            "413": _TOO_LARGE,
            "422": _json(_ref("ValidationError"), "nothing imported: format errors, oversells and dividends on a "
                         "ticker never held, in one pass; the bad lines and fields are named, the first "
                         f"{MAX_REPORTED_ERRORS} of them, and `error_count` counts them all"),
        }, parameters=[_IDEMPOTENCY_KEY], body={"required": True, "content": {
            "text/csv": {"schema": {"type": "string",
                                    "description": "UTF-8 (a BOM is allowed); header date,ticker,type,quantity,"
                                                   "price[,fees][,note][,currency][,fx_rate][,time] in any order "
                                                   "and "
                                                   "case"}},
            "multipart/form-data": {"schema": _obj({"file": {"type": "string", "contentMediaType": "text/csv"}})},
        }}),
    },
    "/api/portfolios/{portfolio_id}/export": {
        "parameters": [_PORTFOLIO_ID],
        "get": _op("exportCsv", "The ledger as CSV; text cells starting with = + - @ are prefixed with '", {
            "200": {"description": "a CSV that imports back to the same ledger; header date,ticker,type,"
                                   "quantity,price,fees,note,currency,fx_rate (empty cells: not given)",
                    "content": {"text/csv": {"schema": {"type": "string"}}}},
            "404": _NOT_FOUND}),
    },
    "/api/portfolios/{portfolio_id}/corporate-actions": {
        "parameters": [_PORTFOLIO_ID],
        "get": _op("corporateActions", "The price source's splits held against the ledger's SPLITs, from the "
                   "cache alone", {"200": _json(_ref("CorporateActions"), "the checks"), "404": _NOT_FOUND}),
    },
    "/api/dashboard-initial-data/{portfolio_id}": {
        "parameters": [_PORTFOLIO_ID],
        "get": _op("dashboardInitialData", "Summary, price status and market state, from the cache alone", {
            "200": _json(_ref("InitialData"), "the summary"), "404": _NOT_FOUND}, tag="dashboard"),
    },
    "/api/dashboard-holdings-data/{portfolio_id}": {
        "parameters": [_PORTFOLIO_ID],
        "get": _op("dashboardHoldingsData", "The holdings table (waits at most PRICE_WAIT_S for prices)", {
            "200": _json(_ref("HoldingsData"), "the holdings"), "404": _NOT_FOUND}, tag="dashboard"),
    },
    "/api/dashboard-chart-data/{portfolio_id}": {
        "parameters": [_PORTFOLIO_ID, {"name": "range", "in": "query", "required": False,
                                       "schema": {"enum": list(RANGES), "default": "1Y"},
                                       "description": "case-insensitive"}],
        "get": _op("dashboardChartData", "Value and cost-basis series, or progress while they are generated", {
            "200": _json(_ref("ChartReady"), "the series"),
            "202": _json(_ref("ChartPending"), "being generated: ask again"),
            "400": _json(_ERROR, "unknown range"), "404": _NOT_FOUND}, tag="dashboard"),
    },
    "/api/chart-generator-progress/{portfolio_id}": {
        "parameters": [_PORTFOLIO_ID],
        "get": _op("chartGeneratorProgress", "The chart generator's state for a portfolio", {
            "200": _json(_ref("Progress"), "the state"), "404": _NOT_FOUND}, tag="dashboard"),
    },
    "/api/session": {
        "post": _op("logIn", "Log in: answers a session cookie (HttpOnly, SameSite=Lax; Secure in production)", {
            "200": _json(_obj({"user": _ref("User")}), "logged in"),
            "400": _BAD_BODY, "401": _json(_ERROR, "wrong email or password"), "413": _TOO_LARGE,
            "429": _TOO_MANY}, body=_json_body("Login"), tag="accounts"),
        "get": _op("whoAmI", "The logged-in user (null on a single-user run, where no login is required)", {
            "200": _json(_obj({"user": {"anyOf": [_ref("User"), {"type": "null"}]},
                               "auth_required": {"type": "boolean"}}), "who is asking")}, tag="accounts"),
        "delete": _op("logOut", "Log out: ends every session of the user", {"204": _NO_CONTENT}, tag="accounts"),
    },
    "/api/tokens": {
        "get": _op("listTokens", "The user's API tokens (never their secrets)", {
            "200": _json(_obj({"tokens": {"type": "array", "items": _ref("ApiToken")}}), "the tokens")},
            tag="accounts"),
        "post": _op("createToken", "A new API token; its secret is in this answer only (send it as "
                    "Authorization: Bearer)", {
                        "201": _json(_obj({"token": _ref("ApiToken"), "secret": {"type": "string"}}), "created"),
                        "400": _BAD_BODY, "413": _TOO_LARGE, "422": _INVALID},
                    body=_json_body("TokenInput"), tag="accounts"),
    },
    "/api/tokens/{token_id}": {
        "parameters": [_TOKEN_ID],
        "delete": _op("deleteToken", "Revoke an API token", {"204": _NO_CONTENT, "404": _NOT_FOUND},
                      tag="accounts"),
    },
    "/api/openapi.json": {
        "get": _op("openapi", "This description", {"200": _json({"type": "object"}, "OpenAPI 3.1")}, tag="ops"),
    },
    "/healthz": {
        "get": _op("healthz", "Health of the database and cache, circuit breaker and scheduler", {
            "200": _json(_ref("Health"), "healthy"), "503": _json(_ref("Health"), "degraded")}, tag="ops"),
    },
    "/metrics": {
        "get": _op("metrics", "Prometheus metrics", {
            "200": {"description": "exposition text",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}}, tag="ops"),
    },
}

# The holding and closed-positions routes (dashapp/api_holding.py): their schemas come from their payload dataclasses.
_SCHEMAS.update(HOLDING_SCHEMAS)
_PATHS.update(HOLDING_PATHS)
# The broker import routes (dashapp/api_broker.py).
_SCHEMAS.update(BROKER_SCHEMAS)
_PATHS.update(BROKER_PATHS)

_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "MyStockTracker API",
        "version": "1",
        "description": "Portfolios, transactions, CSV in and out, and the dashboard's payloads. Every error is "
                       "JSON `{\"error\": ...}` with a fitting status (400, 404, 413, 422), never an HTML "
                       "page. Money in the portfolio's currency, percentages as fractions, dates ISO 8601, "
                       "unknown values null.",
    },
    "paths": _PATHS,
    # Where logins are required every path but POST /api/session, /healthz and /metrics needs one of these, and
    # answers 401 without; a cookie-authenticated write must also come from the app's origin (else 403).
    "security": [{"session": []}, {"token": []}],
    "components": {"schemas": _SCHEMAS, "securitySchemes": {
        "session": {"type": "apiKey", "in": "cookie", "name": "mst_session"},
        "token": {"type": "http", "scheme": "bearer"},
    }},
}


def openapi_spec() -> dict[str, Any]:
    """The description, as a fresh dict (callers may change their copy)."""
    return copy.deepcopy(_SPEC)
